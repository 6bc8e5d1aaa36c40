import Foundation
import Hummingbird
import TesseraCore

/// Bounds on what the network may send, applied before any decoding.
public enum JSONLimits {
    public static let maxBodyBytes = 1 << 20
    public static let maxDepth = 32

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
    /// Collects at most 1 MiB (413 beyond, whether the length was declared or the body is
    /// chunked), refuses nesting deeper than 32 and duplicate member names (400), and decodes
    /// (400 naming the field). Every request body goes through here, so every body is parsed by
    /// ``StrictJSON``.
    public mutating func decodeJSON<T: Decodable>(as type: T.Type, context: some RequestContext) async throws -> T {
        let bytes = try await collectJSON()
        do {
            return try JSONDecoder().decode(T.self, from: bytes)
        } catch let error as DecodingError {
            throw APIError.badRequest(JSONLimits.describe(error))
        }
    }

    /// A body that must be a JSON object, as ``JSONValue``s (no second decoding pass).
    public mutating func decodeJSONObject(context: some RequestContext) async throws -> [String: JSONValue] {
        let bytes = try await collectBodyBytes()
        do {
            return try StrictJSON.object(bytes, maximumDepth: JSONLimits.maxDepth)
        } catch {
            throw APIError.badRequest(Self.describe(error))
        }
    }

    /// The body, checked by the strict parser (valid, no duplicate names, bounded depth).
    mutating func collectJSON() async throws -> Data {
        let bytes = try await collectBodyBytes()
        do {
            _ = try StrictJSON.parse(bytes, maximumDepth: JSONLimits.maxDepth)
        } catch {
            throw APIError.badRequest(Self.describe(error))
        }
        return bytes
    }

    static func describe(_ error: StrictJSON.Failure) -> String {
        switch error {
        case .duplicateKey(let path): "body has a duplicate member name: \(path)"
        case .tooDeep: "body nested deeper than \(JSONLimits.maxDepth)"
        case .syntax: "body is not valid JSON: \(error)"
        }
    }

    mutating func collectBodyBytes() async throws -> Data {
        let buffer: ByteBuffer
        do {
            buffer = try await collectBody(upTo: JSONLimits.maxBodyBytes)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            // HTTPError for a declared length, NIOTooManyBytesError for a chunked body.
            throw APIError.payloadTooLarge
        } catch {
            // A body the HTTP parser refused (bad chunking, an unknown transfer coding): the
            // client's fault, never a 500.
            throw APIError.badRequest("the request body could not be read")
        }
        return Data(buffer.readableBytesView)
    }
}
