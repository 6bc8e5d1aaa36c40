import Foundation
import Hummingbird

/// Bounds on what the network may send, applied before any decoding.
public enum JSONLimits {
    public static let maxBodyBytes = 1 << 20
    public static let maxDepth = 32

    /// The nesting depth of a JSON text, counted without parsing it (so a hostile
    /// `[[[[…` costs a linear scan, not a recursive descent). Brackets inside strings are skipped.
    public static func depth(of bytes: some Sequence<UInt8>) -> Int {
        var depth = 0
        var deepest = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                deepest = max(deepest, depth)
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return deepest
    }

    /// Human-readable path of a decoding failure, e.g. `mission.allowed_tools[2]`.
    static func fieldName(_ path: [any CodingKey]) -> String {
        var out = ""
        for key in path {
            if let index = key.intValue {
                out += "[\(index)]"
            } else {
                out += out.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return out.isEmpty ? "body" : out
    }

    /// A 400 that names the field at fault.
    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            return "missing field \(fieldName(context.codingPath + [key]))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "invalid type for field \(fieldName(context.codingPath))"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "body is not valid JSON" : "invalid value for field \(fieldName(context.codingPath))"
        @unknown default:
            return "invalid body"
        }
    }
}

extension Request {
    /// Collects at most 1 MiB (413 beyond), refuses nesting deeper than 32 (400), and decodes
    /// (400 naming the field).
    public mutating func decodeJSON<T: Decodable>(as type: T.Type, context: some RequestContext) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await collectBody(upTo: JSONLimits.maxBodyBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError.payloadTooLarge
        }
        let bytes = buffer.readableBytesView
        guard JSONLimits.depth(of: bytes) <= JSONLimits.maxDepth else {
            throw APIError.badRequest("body nested deeper than \(JSONLimits.maxDepth)")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw APIError.badRequest(JSONLimits.describe(error))
        }
    }
}
