#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// POSIX shell word splitting of a command line, refusing everything a shell would treat as more
/// than words: `; | & $ \` > < ( )`, newlines, unquoted glob and brace characters, `~` and `#` at a
/// word's start, `$` or a backquote even inside double quotes (substitution).
public enum ShellWords {
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case metacharacter(Character)
        case unterminatedQuote
        case empty
        public var description: String {
            switch self {
            case .metacharacter(let c): "shell metacharacter \(c.unicodeScalars.first.map { $0.value < 0x20 ? "U+" + String($0.value, radix: 16) : String(c) } ?? "") is not allowed"
            case .unterminatedQuote: "unterminated quote"
            case .empty: "empty command"
            }
        }
    }

    public static func split(_ line: String) throws(Failure) -> [String] {
        if let plain = plainWords(line) { return plain }
        return try splitQuoted(line)
    }

    /// The common case without quoting: only letters, digits, `-_./=:,+@%` and blanks. Nothing a
    /// shell treats specially can be in such a line, so splitting at blanks is the whole answer.
    static func plainWords(_ line: String) -> [String]? {
        var words: [String] = []
        var start: String.Index?
        let utf8 = line.utf8
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let b = utf8[index]
            switch b {
            case UInt8(ascii: " "), UInt8(ascii: "\t"):
                if let s = start { words.append(String(line[s..<index])); start = nil }
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: "="), UInt8(ascii: ":"),
                UInt8(ascii: ","), UInt8(ascii: "+"), UInt8(ascii: "@"), UInt8(ascii: "%"):
                if start == nil { start = index }
            default: return nil
            }
            index = utf8.index(after: index)
        }
        if let s = start { words.append(String(line[s...])) }
        return words.isEmpty ? nil : words
    }

    static func splitQuoted(_ line: String) throws(Failure) -> [String] {
        // Scalars, not Characters: "\r\n" must not hide a newline inside one grapheme, and
        // iterating scalars is several times cheaper.
        var words: [String] = []
        var word = String.UnicodeScalarView()
        var inWord = false
        var iterator = line.unicodeScalars.makeIterator()
        func fail(_ s: Unicode.Scalar) -> Failure { .metacharacter(Character(s)) }
        while let c = iterator.next() {
            switch c {
            case " ", "\t":
                if inWord { words.append(String(word)); word = String.UnicodeScalarView(); inWord = false }
            case "'":
                inWord = true
                var closed = false
                while let q = iterator.next() {
                    if q == "'" { closed = true; break }
                    word.append(q)
                }
                guard closed else { throw .unterminatedQuote }
            case "\"":
                inWord = true
                var closed = false
                while let q = iterator.next() {
                    if q == "\"" { closed = true; break }
                    if q == "$" || q == "`" { throw fail(q) }
                    if q == "\\" {
                        guard let next = iterator.next() else { throw .unterminatedQuote }
                        if next == "\"" || next == "\\" || next == "$" || next == "`" { word.append(next) } else { word.append("\\"); word.append(next) }
                        continue
                    }
                    word.append(q)
                }
                guard closed else { throw .unterminatedQuote }
            case "\\":
                guard let next = iterator.next() else { throw fail("\\") }
                if next == "\n" || next == "\r" { throw fail(next) }
                inWord = true
                word.append(next)
            case ";", "|", "&", "$", "`", ">", "<", "(", ")", "\n", "\r", "*", "?", "[", "]", "{", "}", "!":
                throw fail(c)
            case "~":
                // Unquoted, bash expands it at a word's start and after `=` or `:` (`a=~/x`):
                // refused anywhere outside quotes.
                throw fail(c)
            case "#":
                if !inWord { throw fail(c) }
                word.append(c)
            default:
                if c.value < 0x20 || c.value == 0x7F || (0x80...0x9F).contains(c.value) || c.value == 0x2028 || c.value == 0x2029 { throw fail(c) }
                inWord = true
                word.append(c)
            }
        }
        if inWord { words.append(String(word)) }
        guard !words.isEmpty else { throw .empty }
        return words
    }
}
