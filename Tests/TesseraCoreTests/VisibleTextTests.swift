import Testing
import TesseraCore

/// Issue 23, finding 6: what `tessera approval list` shows an approver.
@Suite("Visible text (issue 23)")
struct VisibleTextTests {
    @Test("round3 6: bidi overrides, isolates, zero-width and other invisible characters are shown as escapes, never applied")
    func hiddenCharactersAreEscaped() {
        // The IBAN that rendered reversed in the approvals view.
        #expect(VisibleText.escape("DE89 3704 \u{202E}0044 0532") == #"DE89 3704 \u202E0044 0532"#)
        #expect(VisibleText.escape("a\u{200B}b\u{200D}c\u{2066}d\u{2069}e\u{061C}f\u{FEFF}g\u{00AD}h") == #"a\u200Bb\u200Dc\u2066d\u2069e\u061Cf\uFEFFg\u00ADh"#)
        // Controls, including the tab and newline that would forge a column or a line of the list.
        #expect(VisibleText.escape("x\ty\nz\r\u{1B}[31m\u{7F}\u{85}") == #"x\u0009y\u000Az\u000D\u001B[31m\u007F\u0085"#)
        #expect(VisibleText.escape("\u{2028}\u{2029}") == #"\u2028\u2029"#)
        // Beyond the BMP: tag characters (invisible "ASCII smuggling") and variation selectors.
        #expect(VisibleText.escape("ok\u{E0041}\u{E0042}") == #"ok\u{E0041}\u{E0042}"#)
        #expect(VisibleText.escape("1\u{FE0F}") == #"1\uFE0F"#)
        // Hangul fillers and the combining grapheme joiner look like nothing.
        #expect(VisibleText.escape("\u{3164}\u{115F}\u{034F}") == #"\u3164\u115F\u034F"#)
    }

    @Test("round3 6: ordinary text, accents, other scripts and emoji are unchanged")
    func ordinaryTextUnchanged() {
        for text in ["", "transfer", "DE89 3704 0044 0532 0130 00", "Zoë’s café", "مرحبا", "日本語", "👍🏽", #"C:\path\to"#, "<img src=x>"] {
            #expect(VisibleText.escape(text) == text, "\(text)")
        }
        #expect(!VisibleText.isHidden(" ") && VisibleText.isHidden("\u{202E}") && VisibleText.isHidden("\u{200F}"))
    }
}
