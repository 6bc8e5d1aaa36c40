extension GovernanceWire {
    /// `/session/start` with `token_type` `aat` (docs/aat.md): the AAT, its ancestors root first,
    /// whether proof of possession is required, and the holder's proof.
    public struct AATStartRequest: Codable, Sendable {
        public var token_type = "aat"
        public var token: String
        public var chain: [String]?
        public var require_pop: Bool?
        public var pop: String?

        /// `aat_tool` of the proof that starts a key-bound session.
        public static let proofTool = "tessera:session/start"
        /// Ardur's bound on a key-binding JWT (`kb_jwt`), checked before anything else.
        public static let maximumKeyBindingBytes = 8_192

        public init(token: String, chain: [String]? = nil, require_pop: Bool? = nil, pop: String? = nil) {
            self.token = token
            self.chain = chain
            self.require_pop = require_pop
            self.pop = pop
        }

        /// The body read from the strict parser's object, every error naming its field.
        public init(strict body: [String: JSONValue]) throws(WireFieldError) {
            // Ardur's edge bound, before any verification.
            if case .string(let kb)? = body["kb_jwt"], kb.utf8.count > Self.maximumKeyBindingBytes {
                throw WireFieldError("kb_jwt exceeds MAX_KB_JWT_BYTES=\(Self.maximumKeyBindingBytes); well-formed key-binding JWTs are small")
            }
            if body["kb_jwt"] != nil {
                throw WireFieldError("kb_jwt is not accepted: prove possession with pop, a draft-01 PoP JWT (aat_tool \(Self.proofTool))")
            }
            token = try WireFields.token(body, "token")
            switch body["chain"] {
            case nil, .null?: chain = nil
            case .array(let items)?:
                guard items.count <= AATVerifier.maximumDelegationDepth else {
                    throw WireFieldError("chain has more than \(AATVerifier.maximumDelegationDepth) tokens")
                }
                var tokens: [String] = []
                for item in items {
                    guard case .string(let t) = item, !t.isEmpty else { throw WireFieldError("chain must be an array of compact JWTs, root first") }
                    tokens.append(t)
                }
                chain = tokens
            default: throw WireFieldError("chain must be an array of compact JWTs, root first")
            }
            switch body["require_pop"] {
            case nil, .null?: require_pop = nil
            case .bool(let b)?: require_pop = b
            default: throw WireFieldError("require_pop must be a boolean when token_type=aat")
            }
            pop = try WireFields.optionalJWS(body, "pop", maximum: AATProof.maximumBytes)
        }
    }
}
