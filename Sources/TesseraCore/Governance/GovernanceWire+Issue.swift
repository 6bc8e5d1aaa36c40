extension GovernanceWire {
    /// `/issue`'s body: the mission (the JSON object of docs/governance.md), its lifetime, an
    /// optional key binding and audience; with `format` `aat`, a root AAT bound to `holder_key`.
    /// The SDK sends it; the server reads it with ``read(strict:maximumTTL:)``.
    public struct IssueRequest: Codable, Sendable {
        public var mission: [String: JSONValue]
        public var ttl_s: Int?
        /// An RFC 7638 SHA-256 thumbprint, or `"agent"` (the registered agent's key).
        public var cnf_jkt: String?
        /// RFC 8707 resource URIs the passport is for.
        public var audience: [String]?
        /// `passport` (the default) or `aat`.
        public var format: String?
        /// With `format` `aat`: the holder's public JWK.
        public var holder_key: JWK?

        public init(
            mission: [String: JSONValue], ttl_s: Int? = nil, cnf_jkt: String? = nil, audience: [String]? = nil, format: String? = nil,
            holder_key: JWK? = nil
        ) {
            self.mission = mission
            self.ttl_s = ttl_s
            self.cnf_jkt = cnf_jkt
            self.audience = audience
            self.format = format
            self.holder_key = holder_key
        }

        /// JWK members a holder key may carry; anything else is refused, not ignored.
        static let holderKeyMembers: Set<String> = ["kty", "crv", "x", "y", "kid", "alg", "use"]

        /// The body read from the strict parser's object, every error naming its field, with the
        /// mission parsed (``Mission/parse(_:)``).
        public static func read(strict body: [String: JSONValue], maximumTTL: Int) throws(WireFieldError) -> (IssueRequest, Mission) {
            var request = IssueRequest(mission: [:])
            switch body["format"] {
            case nil, .null?, .string("passport")?:
                if body["holder_key"] != nil { throw WireFieldError("holder_key is for format aat") }
            case .string("aat")?:
                request.format = "aat"
                request.holder_key = try holderKey(body)
            default:
                throw WireFieldError("format must be passport or aat")
            }
            guard case .object(let missionObject)? = body["mission"] else { throw WireFieldError("mission must be a JSON object") }
            let mission: Mission
            do {
                mission = try Mission.parse(missionObject)
            } catch {
                throw WireFieldError(String(describing: error))
            }
            request.mission = missionObject
            request.ttl_s = try WireFields.integer(body, "ttl_s", range: 1...maximumTTL)
            if let value = body["cnf_jkt"] {
                guard case .string(let thumbprint) = value, thumbprint == "agent" || Base64URL.decode(thumbprint)?.count == 32 else {
                    throw WireFieldError("cnf_jkt must be an RFC 7638 SHA-256 thumbprint or \"agent\"")
                }
                request.cnf_jkt = thumbprint
            }
            request.audience = try audience(body)
            return (request, mission)
        }

        /// `format` `aat`: the holder's public JWK, and nothing an AAT cannot express.
        static func holderKey(_ body: [String: JSONValue]) throws(WireFieldError) -> JWK {
            for field in ["cnf_jkt", "audience"] where body[field] != nil {
                throw WireFieldError("\(field) cannot be expressed in an AAT: bind it with holder_key")
            }
            if case .object(let members)? = body["holder_key"], let stray = members.keys.sorted().first(where: { !holderKeyMembers.contains($0) }) {
                throw WireFieldError("holder_key.\(stray) is not a public JWK member this server reads")
            }
            guard let holder = body["holder_key"], let jwk = try? StrictJSON.decode(JWK.self, from: Array(CanonicalJSON.serialize(holder).utf8)) else {
                throw WireFieldError("holder_key must be the holder's public JWK (format aat is always key-bound)")
            }
            return jwk
        }

        /// `audience`: one absolute URI or an array of 1-16 (RFC 8707).
        static func audience(_ body: [String: JSONValue]) throws(WireFieldError) -> [String]? {
            var audience: [String]?
            switch body["audience"] {
            case nil, .null?: break
            case .string(let one)?: audience = [one]
            case .array(let many)?:
                audience = []
                for case .string(let one) in many { audience?.append(one) }
                guard audience?.count == many.count, !many.isEmpty, many.count <= 16 else {
                    throw WireFieldError("audience must be a URI or an array of 1-16 URIs")
                }
            default: throw WireFieldError("audience must be a URI or an array of 1-16 URIs")
            }
            for uri in audience ?? [] where uri.isEmpty || uri.utf8.count > 2048 || !uri.contains("://") {
                throw WireFieldError("audience entries must be absolute URIs (RFC 8707)")
            }
            return audience
        }
    }
}
