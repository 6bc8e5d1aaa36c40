import Foundation

/// The one JSON parser for everything that crosses a trust boundary: request bodies, token
/// headers and payloads, proofs, JWKs, config files, WebSocket frames.
///
/// Foundation's decoders keep one of two members with the same name, while other languages'
/// parsers keep the other: `{"path":"/data/ok","path":"/etc/passwd"}` would be checked as one
/// value by Tessera and acted on as the other by a tool written in Python, Go or JavaScript. So
/// this parser refuses duplicate member names (compared after unescaping, so `"p\u0061th"` is
/// `"path"`), and everything else RFC 8259 does not allow: trailing data, bare control
/// characters, invalid UTF-8, lone surrogates, leading zeros, `NaN`, comments. Depth is bounded.
///
/// `decode(_:from:)` checks the text with this parser and then lets `JSONDecoder` map it onto a
/// `Decodable` type, so every typed decode in Tessera inherits these rules.
public enum StrictJSON {
    public static let maximumDepth = 64

    /// One decoder for every typed decode: its options never change, `JSONDecoder` is safe to
    /// share across threads, and making one per call showed up in token verification's profile.
    private static let decoder = JSONDecoder()

    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case syntax(offset: Int, String)
        case duplicateKey(path: String)
        case tooDeep(limit: Int)

        public var description: String {
            switch self {
            case .syntax(let offset, let what): "invalid JSON at byte \(offset): \(what)"
            case .duplicateKey(let path): "duplicate member name \(path)"
            case .tooDeep(let limit): "JSON nested deeper than \(limit)"
            }
        }
    }

    /// Parses a complete JSON text into a value.
    public static func parse(_ bytes: some Collection<UInt8>, maximumDepth: Int = maximumDepth) throws(Failure) -> JSONValue {
        let array = Array(bytes)
        return try array.withUnsafeBufferPointer { buffer throws(Failure) -> JSONValue in
            var parser = Parser(bytes: buffer, maximumDepth: maximumDepth)
            parser.skipWhitespace()
            let value = try parser.value(path: "")
            parser.skipWhitespace()
            guard parser.index == buffer.count else { throw .syntax(offset: parser.index, "unexpected data after the JSON value") }
            return value
        }
    }

    /// Parses and requires an object at the top level.
    public static func object(_ bytes: some Collection<UInt8>, maximumDepth: Int = maximumDepth) throws(Failure) -> [String: JSONValue] {
        guard case .object(let members) = try parse(bytes, maximumDepth: maximumDepth) else {
            throw .syntax(offset: 0, "expected a JSON object")
        }
        return members
    }

    /// Checks the text with the strict rules, then decodes it with `JSONDecoder`.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>, maximumDepth: Int = maximumDepth) throws -> T {
        let data = Data(bytes)
        try validate(data, maximumDepth: maximumDepth)
        return try decoder.decode(T.self, from: data)
    }

    /// The strict checks without building the value (what a typed decode needs before
    /// `JSONDecoder` runs): no dictionaries or arrays are allocated, member names are compared
    /// as bytes (unescaped first when they hold an escape).
    public static func validate(_ bytes: some Collection<UInt8>, maximumDepth: Int = maximumDepth) throws(Failure) {
        let result: Result<Void, Failure>? = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(Failure) in try validate(buffer: buffer, maximumDepth: maximumDepth) }
        }
        if let result { return try result.get() }
        let array = Array(bytes)
        try array.withUnsafeBufferPointer { buffer throws(Failure) in try validate(buffer: buffer, maximumDepth: maximumDepth) }
    }

    private static func validate(buffer: UnsafeBufferPointer<UInt8>, maximumDepth: Int) throws(Failure) {
        var parser = Parser(bytes: buffer, maximumDepth: maximumDepth)
        parser.build = false
        parser.skipWhitespace()
        _ = try parser.value(path: "")
        parser.skipWhitespace()
        guard parser.index == buffer.count else { throw .syntax(offset: parser.index, "unexpected data after the JSON value") }
    }

    struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        let maximumDepth: Int
        var index = 0
        var depth = 0
        /// false: check only (values come back as `.null`).
        var build = true

        init(bytes: UnsafeBufferPointer<UInt8>, maximumDepth: Int) {
            self.bytes = bytes
            self.maximumDepth = maximumDepth
        }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        func fail(_ what: String) -> Failure { .syntax(offset: index, what) }

        mutating func expect(_ literal: StaticString, _ value: JSONValue) throws(Failure) -> JSONValue {
            let count = literal.utf8CodeUnitCount
            guard index + count <= bytes.count else { throw fail("truncated literal") }
            for offset in 0..<count where bytes[index + offset] != literal.utf8Start[offset] {
                throw fail("invalid literal")
            }
            index += count
            return value
        }

        mutating func value(path: String) throws(Failure) -> JSONValue {
            guard let byte = current else { throw fail("unexpected end of input") }
            switch byte {
            case UInt8(ascii: "{"): return try object(path: path)
            case UInt8(ascii: "["): return try array(path: path)
            case UInt8(ascii: "\""):
                let text = try string(materialize: build)
                return build ? .string(text) : .null
            case UInt8(ascii: "t"): return try expect("true", .bool(true))
            case UInt8(ascii: "f"): return try expect("false", .bool(false))
            case UInt8(ascii: "n"): return try expect("null", .null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw fail("unexpected character")
            }
        }

        mutating func enter() throws(Failure) {
            depth += 1
            guard depth <= maximumDepth else { throw .tooDeep(limit: maximumDepth) }
        }

        mutating func object(path: String) throws(Failure) -> JSONValue {
            try enter()
            index += 1
            var members: [String: JSONValue] = [:]
            var names: [String] = []
            var nameSet: Set<String> = []
            skipWhitespace()
            if current == UInt8(ascii: "}") {
                index += 1
                depth -= 1
                return build ? .object(members) : .null
            }
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else { throw fail("expected a member name") }
                let key = try string(materialize: true)
                // The member's path is only needed for an error or a nested container: building
                // it for every member was a measurable share of token verification.
                func memberPath() -> String { path.isEmpty ? key : path + "." + key }
                if build {
                    guard members[key] == nil else { throw .duplicateKey(path: memberPath()) }
                } else if names.count < 16 {
                    guard !names.contains(key) else { throw .duplicateKey(path: memberPath()) }
                    names.append(key)
                    if names.count == 16 { nameSet = Set(names) }
                } else {
                    guard nameSet.insert(key).inserted else { throw .duplicateKey(path: memberPath()) }
                }
                skipWhitespace()
                guard current == UInt8(ascii: ":") else { throw fail("expected ':'") }
                index += 1
                skipWhitespace()
                let nested = build || current == UInt8(ascii: "{") || current == UInt8(ascii: "[")
                let value = try self.value(path: nested ? memberPath() : "")
                if build { members[key] = value }
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"):
                    index += 1
                    depth -= 1
                    return build ? .object(members) : .null
                default: throw fail("expected ',' or '}'")
                }
            }
        }

        mutating func array(path: String) throws(Failure) -> JSONValue {
            try enter()
            index += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if current == UInt8(ascii: "]") {
                index += 1
                depth -= 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                let element = try value(path: build ? "\(path)[\(elements.count)]" : path)
                if build { elements.append(element) }
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"):
                    index += 1
                    depth -= 1
                    return build ? .array(elements) : .null
                default: throw fail("expected ',' or ']'")
                }
            }
        }

        mutating func hex4() throws(Failure) -> UInt16 {
            guard index + 4 <= bytes.count else { throw fail("truncated \\u escape") }
            var value: UInt16 = 0
            for _ in 0..<4 {
                let b = bytes[index]
                let digit: UInt8
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
                default: throw fail("invalid \\u escape")
                }
                value = value << 4 | UInt16(digit)
                index += 1
            }
            return value
        }

        /// Reads a string. With `materialize` false (validation only) an ASCII string without
        /// escapes is checked in place and "" is returned, allocating nothing.
        mutating func string(materialize: Bool = true) throws(Failure) -> String {
            index += 1
            let start = index
            // Fast path: no escapes.
            var ascii = true
            while index < bytes.count {
                let b = bytes[index]
                if b == UInt8(ascii: "\"") {
                    let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                    index += 1
                    if !materialize && ascii { return "" }
                    guard let s = String(validating: slice, as: UTF8.self) else { throw .syntax(offset: start, "invalid UTF-8 in string") }
                    return s
                }
                if b == UInt8(ascii: "\\") { break }
                if b < 0x20 { throw fail("control character in string") }
                if b >= 0x80 { ascii = false }
                index += 1
            }
            var out = [UInt8](UnsafeBufferPointer(rebasing: bytes[start..<index]))
            while index < bytes.count {
                let b = bytes[index]
                switch b {
                case UInt8(ascii: "\""):
                    index += 1
                    guard let s = String(validating: out, as: UTF8.self) else { throw .syntax(offset: start, "invalid UTF-8 in string") }
                    return s
                case UInt8(ascii: "\\"):
                    index += 1
                    guard let escape = current else { throw fail("truncated escape") }
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5C)
                    case UInt8(ascii: "/"): out.append(0x2F)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        let unit = try hex4()
                        var scalarValue = UInt32(unit)
                        if (0xD800...0xDBFF).contains(unit) {
                            guard index + 6 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                                throw fail("lone surrogate")
                            }
                            index += 2
                            let low = try hex4()
                            guard (0xDC00...0xDFFF).contains(low) else { throw fail("lone surrogate") }
                            scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(unit) {
                            throw fail("lone surrogate")
                        }
                        guard let scalar = Unicode.Scalar(scalarValue) else { throw fail("invalid escape") }
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default: throw fail("invalid escape")
                    }
                default:
                    if b < 0x20 { throw fail("control character in string") }
                    out.append(b)
                    index += 1
                }
            }
            throw fail("unterminated string")
        }

        mutating func number() throws(Failure) -> JSONNumber {
            let start = index
            if current == UInt8(ascii: "-") { index += 1 }
            guard let first = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { throw fail("invalid number") }
            if first == UInt8(ascii: "0") {
                index += 1
                if let next = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(next) { throw fail("leading zero") }
            } else {
                digits()
            }
            if current == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { throw fail("invalid fraction") }
            }
            let hasExponent = current == UInt8(ascii: "e") || current == UInt8(ascii: "E")
            if hasExponent {
                index += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { throw fail("invalid exponent") }
            }
            guard index - start <= 64 else { throw .syntax(offset: start, "number too long") }
            // Validation only: without an exponent, 64 digits cannot overflow a Double.
            if !build && !hasExponent { return 0 }
            guard let value = JSONNumber(literal: UnsafeBufferPointer(rebasing: bytes[start..<index])) else {
                throw .syntax(offset: start, "number out of range")
            }
            return value
        }

        @discardableResult
        mutating func digits() -> Int {
            let start = index
            while let b = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) { index += 1 }
            return index - start
        }
    }
}

extension JSONValue {
    /// Decodes any JSON text, strictly (see ``StrictJSON``).
    public init(strict bytes: some Collection<UInt8>) throws(StrictJSON.Failure) {
        self = try StrictJSON.parse(bytes)
    }
}
