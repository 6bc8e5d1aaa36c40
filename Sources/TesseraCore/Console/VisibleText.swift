/// Agent-supplied text made safe to show a human: every character that is invisible or that
/// reorders what follows it is shown as its code point instead of taking effect.
///
/// An approval is granted by a person reading the call's arguments. A right-to-left override
/// (U+202E) in an IBAN makes `DE89…1234` display reversed; a zero-width space or a bidi isolate
/// makes two different values look identical. So the CLI's `tessera approval list` (and, with
/// the same rule in `console/dom.js`, the console) shows such a character as `\u202E` — or
/// `\u{E0041}` beyond the BMP — never as itself. The hidden set is: controls (Cc, including tab
/// and newline, which would break a tab-separated line), format characters (Cf), line and
/// paragraph separators (Zl, Zp), bidi controls and default-ignorable code points (zero-width
/// characters, variation selectors, Hangul fillers, tags). A backslash is left as it is (paths
/// stay readable), so a literal `\u202E` typed by the agent looks the same as an escaped one;
/// what matters is that the hidden character can never take effect or pass unseen.
public enum VisibleText {
    /// `text` with each hidden character replaced by its `\uXXXX` (or `\u{X…}`) escape; `text`
    /// itself when it holds none. Pure, linear in the length.
    public static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isHidden) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isHidden(scalar) {
                out.append(contentsOf: marker(scalar).unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// Whether `scalar` is invisible or reorders text (see the type's documentation).
    public static func isHidden(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        switch properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: return true
        default: return properties.isBidiControl || properties.isDefaultIgnorableCodePoint
        }
    }

    /// `\u202E` (four upper-case hex digits) in the BMP, `\u{E0041}` beyond it: the JavaScript
    /// spellings, which the console uses too.
    static func marker(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        guard scalar.value > 0xFFFF else { return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex }
        return "\\u{" + hex + "}"
    }
}
