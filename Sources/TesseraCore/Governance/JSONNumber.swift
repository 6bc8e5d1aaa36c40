import Foundation

/// A JSON number, compared exactly as the decimal it was written as.
///
/// A `Double` alone is not enough: `1234567890123456789` and `1234567890123456790` are the same
/// double, so a constraint `one_of [1234567890123456789]` compared as doubles accepts the other
/// account, an approval granted for one covers the other, and `range max 1000` accepts
/// `1000.00000000000001`. A tool written in Python, Go (`json.Number`) or Java (`BigDecimal`)
/// reads the digits, not the double: Tessera must judge the same value the tool will act on.
///
/// Cheap where it can be: `double` is the nearest double; `exact` is kept only when the written
/// decimal differs from that double's shortest round-trip decimal (Swift's `description`). Two
/// numbers with different doubles are different decimals (rounding is a function), so equality,
/// ordering and hashing look at the double first and at the decimals only on a tie; the
/// common case — small integers and ordinary decimals — never builds a decimal.
public struct JSONNumber: Sendable, Hashable, Comparable, CustomStringConvertible, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral {
    /// The nearest double: for arithmetic that need not be exact, and for ordering on ties.
    public let double: Double
    /// The written decimal, when it is not the double's own shortest decimal.
    let exact: ExactDecimal?

    public init(_ double: Double) {
        self.double = double
        self.exact = nil
    }

    public init(_ integer: Int) {
        self.double = Double(integer)
        // Integers beyond 2^53 may not survive the double: keep the digits.
        self.exact = abs(integer) <= 1 << 53 ? nil : ExactDecimal(integer)
    }

    public init(integerLiteral value: Int) { self.init(value) }
    public init(floatLiteral value: Double) { self.init(value) }

    /// Reads a JSON number literal (RFC 8259 grammar; the caller has checked it), or nil when it
    /// is outside a double's finite range.
    public init?(literal bytes: UnsafeBufferPointer<UInt8>) {
        // Fast path: a plain integer of at most 15 digits is exactly its double, and is its
        // double's shortest form.
        if bytes.count <= 15, !bytes.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            var value = 0
            var negative = false
            for byte in bytes {
                if byte == UInt8(ascii: "-") { negative = true; continue }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            self.double = Double(negative ? -value : value)
            self.exact = nil
            return
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let double = Double(text), double.isFinite, let written = ExactDecimal(text) else { return nil }
        self.double = double
        self.exact = written == ExactDecimal(shortest: double) ? nil : written
    }

    /// Reads a decimal written as text (JSON grammar, or Swift's `Double.description`).
    public init?(text: String) {
        var copy = Array(text.utf8)
        guard let number = copy.withUnsafeMutableBufferPointer({ JSONNumber(literal: UnsafeBufferPointer($0)) }) else { return nil }
        self = number
    }

    /// The exact decimal this number is.
    var decimal: ExactDecimal { exact ?? ExactDecimal(shortest: double) }

    /// Whether the double holds this number's value as its shortest decimal: false for the
    /// integers past 2^53 and the decimals with more digits than a double keeps.
    public var isExactDouble: Bool { exact == nil }

    /// The number as an `Int`, when it is an integer that fits.
    public var int: Int? {
        guard exact == nil else { return exact!.int }
        return Int(exactly: double)
    }

    /// Significant decimal digits (what a `Decimal` round trip can keep: 38).
    public var significantDigits: Int { decimal.digits.count }

    public static func == (a: JSONNumber, b: JSONNumber) -> Bool {
        guard a.double == b.double else { return false }
        if a.exact == nil, b.exact == nil { return true }
        return a.decimal == b.decimal
    }

    public func hash(into hasher: inout Hasher) {
        // Equal decimals have equal doubles; -0 and 0 are one value.
        hasher.combine(double == 0 ? 0 : double)
    }

    public static func < (a: JSONNumber, b: JSONNumber) -> Bool {
        if a.double != b.double { return a.double < b.double }
        if a.exact == nil, b.exact == nil { return false }
        return a.decimal < b.decimal
    }

    /// The RFC 8785 form when the double is exact (the ECMAScript number formatting every JCS
    /// implementation produces); otherwise the written decimal's shortest exact form.
    public var canonical: String {
        guard let exact else { return CanonicalJSON.number(double) }
        return exact.text
    }

    public var description: String { canonical }
}

extension JSONValue {
    /// This value with every number a double cannot hold replaced by its nearest double, or nil
    /// when there is none (the common case: nothing is copied).
    public var roundedToDoubles: JSONValue? {
        switch self {
        case .number(let n): return n.isExactDouble ? nil : .number(JSONNumber(n.double))
        case .array(let items):
            guard items.contains(where: { $0.roundedToDoubles != nil }) else { return nil }
            return .array(items.map { $0.roundedToDoubles ?? $0 })
        case .object(let members):
            guard members.values.contains(where: { $0.roundedToDoubles != nil }) else { return nil }
            return .object(members.mapValues { $0.roundedToDoubles ?? $0 })
        default: return nil
        }
    }
}

extension JSONNumber {
    /// Whether a `Decimal` holds this number exactly (38 digits, exponent −128…127): what a
    /// number in a signed passport must be, since passports are read back through `Decimal`.
    public var survivesDecimal: Bool {
        guard let exact else { return true }
        guard let decimal = Decimal(string: exact.plain ?? exact.text, locale: Locale(identifier: "en_US_POSIX")),
            let back = ExactDecimal(decimal.description)
        else { return false }
        return back == exact
    }
}

extension JSONNumber: Codable {
    /// `JSONDecoder` hands over a double; the exact digits come from decoding the same number as
    /// a `Decimal` (38 significant digits — Tessera refuses constraint numbers with more, so
    /// every number it signs survives the round trip).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let double = try container.decode(Double.self)
        guard double.isFinite else { throw DecodingError.dataCorruptedError(in: container, debugDescription: "number out of range") }
        self.double = double
        if let decimal = try? container.decode(Decimal.self), let written = ExactDecimal(decimal.description), written != ExactDecimal(shortest: double) {
            self.exact = written
        } else {
            self.exact = nil
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let exact, let decimal = Decimal(string: exact.plain ?? exact.text, locale: Locale(identifier: "en_US_POSIX")) {
            try container.encode(decimal)
        } else {
            try container.encode(double)
        }
    }
}

/// A decimal in normal form: `(-1)^negative × digits × 10^exponent`, `digits` without leading
/// or trailing zeros (empty for zero, which is never negative).
struct ExactDecimal: Hashable, Sendable, Comparable {
    var negative: Bool
    var digits: [UInt8]
    var exponent: Int

    init(_ integer: Int) {
        self.init(String(integer))!
    }

    /// The shortest decimal that reads back as `double` (Swift's `description`).
    init(shortest double: Double) {
        self.init(double.description)!
    }

    /// Reads `-? digits (. digits)? ([eE] [+-]? digits)?`; nil for anything else.
    init?(_ text: String) {
        var negative = false
        var digits: [UInt8] = []
        var exponent = 0
        var seenPoint = false
        var seenDigit = false
        var iterator = text.utf8.makeIterator()
        var next = iterator.next()
        if next == UInt8(ascii: "-") {
            negative = true
            next = iterator.next()
        }
        while let byte = next {
            if byte == UInt8(ascii: ".") {
                guard !seenPoint else { return nil }
                seenPoint = true
            } else if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                seenDigit = true
                if !(digits.isEmpty && byte == UInt8(ascii: "0")) { digits.append(byte) }
                if seenPoint { exponent -= 1 }
            } else {
                break
            }
            next = iterator.next()
        }
        guard seenDigit else { return nil }
        if let marker = next {
            guard marker == UInt8(ascii: "e") || marker == UInt8(ascii: "E") else { return nil }
            var exponentNegative = false
            var value = 0
            var exponentDigits = 0
            next = iterator.next()
            if next == UInt8(ascii: "+") || next == UInt8(ascii: "-") {
                exponentNegative = next == UInt8(ascii: "-")
                next = iterator.next()
            }
            while let byte = next {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                exponentDigits += 1
                guard exponentDigits <= 6 else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
                next = iterator.next()
            }
            guard exponentDigits > 0 else { return nil }
            exponent += exponentNegative ? -value : value
        }
        while digits.last == UInt8(ascii: "0") {
            digits.removeLast()
            exponent += 1
        }
        if digits.isEmpty {
            negative = false
            exponent = 0
        }
        self.negative = negative
        self.digits = digits
        self.exponent = exponent
    }

    var int: Int? {
        guard exponent >= 0, digits.count + exponent <= 19 else { return digits.isEmpty ? 0 : nil }
        var text = String(decoding: digits, as: UTF8.self) + String(repeating: "0", count: exponent)
        if negative { text = "-" + text }
        return Int(text)
    }

    /// Magnitude order: the position of the most significant digit.
    var magnitude: Int { digits.count + exponent }

    static func < (a: ExactDecimal, b: ExactDecimal) -> Bool {
        if a.digits.isEmpty || b.digits.isEmpty || a.negative != b.negative {
            // Zero, or different signs.
            let sa = a.digits.isEmpty ? 0 : (a.negative ? -1 : 1)
            let sb = b.digits.isEmpty ? 0 : (b.negative ? -1 : 1)
            return sa < sb
        }
        let absLess: Bool
        if a.magnitude != b.magnitude {
            absLess = a.magnitude < b.magnitude
        } else if a.digits == b.digits {
            return false
        } else {
            absLess = a.digits.lexicographicallyPrecedes(b.digits)
        }
        return a.negative ? !absLess : absLess
    }

    /// Positional form when it is at most 64 characters long, else nil.
    var plain: String? {
        let sign = negative ? "-" : ""
        if digits.isEmpty { return "0" }
        let body = String(decoding: digits, as: UTF8.self)
        if exponent >= 0 {
            guard digits.count + exponent <= 64 else { return nil }
            return sign + body + String(repeating: "0", count: exponent)
        }
        let point = digits.count + exponent
        if point > 0 {
            let index = body.index(body.startIndex, offsetBy: point)
            return sign + body[..<index] + "." + body[index...]
        }
        guard -point + digits.count <= 64 else { return nil }
        return sign + "0." + String(repeating: "0", count: -point) + body
    }

    /// The exact text: positional when short, else `d.ddde±N` (ECMAScript's exponent style).
    var text: String {
        if let plain { return plain }
        let body = String(decoding: digits, as: UTF8.self)
        let e = magnitude - 1
        let mantissa = digits.count == 1 ? body : String(body.prefix(1)) + "." + body.dropFirst()
        return (negative ? "-" : "") + mantissa + "e" + (e >= 0 ? "+" : "-") + String(abs(e))
    }
}
