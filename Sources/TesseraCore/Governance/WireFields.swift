/// A request body member that is missing or of the wrong shape; the message names the field.
public struct WireFieldError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// A malformed member: the request is refused as invalid (400).
        case invalid
        /// A token member that is not a token: refused like a token that does not verify (401).
        case malformedToken
    }

    public let kind: Kind
    public let message: String
    public init(_ message: String, kind: Kind = .invalid) {
        self.kind = kind
        self.message = message
    }
    public var description: String { message }
}

/// The field rules of the governance bodies, written once: the server reads requests with them
/// (through the typed wire structs) and their messages are what a client is told.
public enum WireFields {
    /// The longest identifier-like string a body may carry (a session id, a tool name).
    public static let maximumStringBytes = 16 * 1024

    public static func string(_ body: [String: JSONValue], _ name: String) throws(WireFieldError) -> String {
        guard case .string(let value)? = body[name], !value.isEmpty, value.utf8.count <= maximumStringBytes else {
            throw WireFieldError("\(name) must be a non-empty string")
        }
        return value
    }

    /// A token member: anything that is not a non-empty string is a malformed token (seed 004).
    public static func token(_ body: [String: JSONValue], _ name: String) throws(WireFieldError) -> String {
        guard case .string(let value)? = body[name], !value.isEmpty else { throw WireFieldError("invalid_token", kind: .malformedToken) }
        return value
    }

    /// An optional compact JWS (a proof): absent or null is nil.
    public static func optionalJWS(_ body: [String: JSONValue], _ name: String, maximum: Int) throws(WireFieldError) -> String? {
        switch body[name] {
        case nil, .null?: return nil
        case .string(let s)? where !s.isEmpty && s.utf8.count <= maximum: return s
        default: throw WireFieldError("\(name) must be a compact JWS of at most \(maximum) bytes")
        }
    }

    public static func integer(_ body: [String: JSONValue], _ name: String, range: ClosedRange<Int>) throws(WireFieldError) -> Int? {
        guard let value = body[name], value != .null else { return nil }
        guard case .number(let n) = value, let integer = n.int, range.contains(integer) else {
            throw WireFieldError("\(name) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return integer
    }
}

extension GovernanceWire.EvaluateRequest {
    /// `/evaluate`'s body read from the strict parser's object, every error naming its field.
    public init(strict body: [String: JSONValue]) throws(WireFieldError) {
        session_id = try WireFields.string(body, "session_id")
        tool_name = try WireFields.string(body, "tool_name")
        arguments = [:]
        if let value = body["arguments"], value != .null {
            guard case .object(let object) = value else { throw WireFieldError("arguments must be a JSON object") }
            arguments = object
        }
        request_id = nil
        if let value = body["request_id"], value != .null {
            guard case .string(let id) = value, (1...256).contains(id.utf8.count) else {
                throw WireFieldError("request_id must be a string of 1-256 bytes")
            }
            request_id = id
        }
        pop = try WireFields.optionalJWS(body, "pop", maximum: AATProof.maximumBytes)
    }
}

extension GovernanceWire.VerifyRequest {
    /// `/verify`'s body.
    public init(strict body: [String: JSONValue]) throws(WireFieldError) {
        token = try WireFields.token(body, "token")
    }
}

extension GovernanceWire.StartRequest {
    /// `/session/start`'s body for a passport (`token_type` absent or `passport`; an AAT start is
    /// read by the AAT path). A `proof` that is not a string is ignored, as it always was.
    public init(strict body: [String: JSONValue]) throws(WireFieldError) {
        if let type = body["token_type"], type != .null {
            guard case .string(let name) = type else { throw WireFieldError("token_type must be a string") }
            guard name == "passport" || name == "aat" else { throw WireFieldError("unsupported token_type: \(name) (expected passport or aat)") }
            token_type = name
        }
        proof = if case .string(let p)? = body["proof"] { p } else { nil }
        token = try WireFields.token(body, "token")
    }
}

extension GovernanceWire.EndRequest {
    /// `/session/end`'s body.
    public init(strict body: [String: JSONValue]) throws(WireFieldError) {
        session_id = try WireFields.string(body, "session_id")
        pop = try WireFields.optionalJWS(body, "pop", maximum: AATProof.maximumBytes)
    }
}

extension GovernanceWire.SessionRequest {
    /// The body of `/end` and `/attest` (Ardur's shape: the session is `session`).
    public init(strict body: [String: JSONValue]) throws(WireFieldError) {
        session = try WireFields.string(body, "session")
        pop = try WireFields.optionalJWS(body, "pop", maximum: AATProof.maximumBytes)
    }
}

extension GovernanceWire.RevokeRequest {
    /// `/revoke`'s body: `session_id` or `jti` (an empty one counts as absent).
    public init(strict body: [String: JSONValue]) throws(WireFieldError) {
        for name in ["session_id", "jti"] {
            switch body[name] {
            case nil, .null?, .string?: continue
            default: throw WireFieldError("\(name) must be a string")
            }
        }
        session_id = if case .string(let id)? = body["session_id"], !id.isEmpty { id } else { nil }
        jti = if case .string(let id)? = body["jti"], !id.isEmpty { id } else { nil }
        guard session_id != nil || jti != nil else { throw WireFieldError("session_id or jti is required") }
    }
}
