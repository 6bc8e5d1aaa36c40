import Crypto
import Foundation

/// Minting AATs: a root from a Tessera mission (the server is the root issuer) and a derived
/// token from a parent (the holder attenuates, client-side: the server never sees its key).
/// Payloads are written in RFC 8785 form (one canonical encoding; the draft does not require it
/// of AATs, but nothing is lost by it).
public enum AATIssuance {
    /// A key that signs AATs and proofs: Ed25519 (EdDSA) or P-256 (ES256).
    public enum SigningKey: Sendable {
        case ed25519(Ed25519KeyPair, kid: String?)
        case p256(P256.Signing.PrivateKey)

        /// A private JWK (`d` present), Ed25519 or P-256.
        public init(privateJWK jwk: JWK) throws(KeyError) {
            switch (jwk.kty, jwk.crv) {
            case ("OKP", "Ed25519"):
                self = .ed25519(try Ed25519KeyPair(jwk: jwk), kid: nil)
            case ("EC", "P-256"):
                guard let d = jwk.d, let raw = Base64URL.decode(d), raw.count == 32, let key = try? P256.Signing.PrivateKey(rawRepresentation: raw) else {
                    throw .invalidMember("d")
                }
                let x = Base64URL.encode(key.publicKey.x963Representation.dropFirst().prefix(32))
                if let given = jwk.x, given != x { throw .publicKeyMismatch }
                self = .p256(key)
            default:
                throw .unsupportedKeyType("\(jwk.kty)/\(jwk.crv ?? "-")")
            }
        }

        public var publicKey: ForeignPublicKey {
            switch self {
            case .ed25519(let pair, _): return try! ForeignPublicKey(jwk: pair.publicKey.publicJWK)
            case .p256(let key):
                let point = Array(key.publicKey.x963Representation)
                return try! ForeignPublicKey(jwk: JWK(kty: "EC", crv: "P-256", x: Base64URL.encode(point[1...32]), y: Base64URL.encode(point[33...64])))
            }
        }

        /// `header.payload.signature` with the payload in JCS form.
        public func sign(_ claims: [String: JSONValue]) throws -> String {
            var header: [String: JSONValue] = ["alg": .string(publicKey.algorithm)]
            if case .ed25519(_, let kid?) = self { header["kid"] = .string(kid) }
            let input = Base64URL.encode(Array(CanonicalJSON.serialize(.object(header)).utf8)) + "."
                + Base64URL.encode(Array(CanonicalJSON.serialize(.object(claims)).utf8))
            let signature: [UInt8]
            switch self {
            case .ed25519(let pair, _): signature = Array(try pair.privateKey.signature(for: Array(input.utf8)))
            case .p256(let key): signature = Array(try key.signature(for: Array(input.utf8)).rawRepresentation)
            }
            return input + "." + Base64URL.encode(signature)
        }
    }

    /// The claims of a root AAT for `mission`, bound to `holder`. Only what an AAT can say is
    /// accepted: tools with AAT-expressible constraints; anything else is refused by name.
    public static func rootClaims(
        mission: Mission, issuer: String, holder: ForeignPublicKey, issuedAt: Int64, ttl: Int64, jti: String = UUID().uuidString.lowercased()
    ) throws(MissionError) -> [String: JSONValue] {
        if !mission.resource_scope.isEmpty { throw .invalid("mission.resource_scope cannot be expressed in an AAT (it has no resource scope)") }
        var tools: [String: JSONValue] = [:]
        let forbidden = Set(mission.forbidden_tools)
        for tool in mission.allowed_tools where !forbidden.contains(tool) { tools[tool] = .object([:]) }
        for (tool, entry) in mission.tools ?? [:] where !forbidden.contains(tool) {
            tools[tool] = try toolEntry(entry, path: "mission.tools.\(tool)")
        }
        var detail: [String: JSONValue] = ["type": .string(AATToken.detailType), "tools": .object(tools)]
        if let calls = mission.max_tool_calls { detail["max_tool_calls"] = .number(JSONNumber(calls)) }
        let lifetime = max(1, min(ttl, Int64(mission.max_duration_s ?? Int(ttl))))
        return [
            "iss": .string(issuer), "sub": .string(mission.agent_id), "jti": .string(jti), "iat": .number(JSONNumber(Int(issuedAt))),
            "exp": .number(JSONNumber(Int(issuedAt + lifetime))), "cnf": .object(["jwk": jwkValue(holder.jwk)]),
            "del_depth": .number(0), "del_max_depth": .number(JSONNumber(mission.delegation_allowed ? min(mission.max_delegation_depth, AATVerifier.maximumDelegationDepth) : 0)),
            "authorization_details": .array([.object(detail)]),
        ]
    }

    /// A derived token's claims (draft-01 §6): narrower tools, one level deeper, `par_hash` and
    /// `iss` from the parent, never later than it. Narrowing is checked here as a verifier would.
    public static func derivedClaims(
        parent: AATToken, tools: [String: JSONValue], child: ForeignPublicKey, now: Int64, ttl: Int64?, maxDepth: Int? = nil,
        maxToolCalls: Int? = nil, jti: String = UUID().uuidString.lowercased()
    ) throws(AATFailure) -> [String: JSONValue] {
        guard let issuer = parent.childIssuer else { throw AATFailure(link: nil, step: "6", "the parent's cnf.jwk is not a usable key") }
        let depth = parent.delDepth + 1
        guard depth <= parent.delMaxDepth else { throw AATFailure(link: nil, step: "4e", "the parent is terminal (del_depth = del_max_depth)") }
        let childMax = min(maxDepth ?? parent.delMaxDepth, parent.delMaxDepth)
        guard depth <= childMax else { throw AATFailure(link: nil, step: "4m", "--max-depth below the child's depth") }
        let parsed: [String: [String: AATConstraint]]
        do {
            parsed = try AATToken.parseTools(.object(tools))
        } catch {
            throw AATFailure(link: nil, step: "4o", error.message)
        }
        try AATVerifier.checkNarrowing(child: parsed, parent: parent.tools ?? [:], link: depth)
        let iat = max(now, parent.iat)
        let exp = min(parent.exp, ttl.map { iat + $0 } ?? parent.exp)
        guard exp > iat else { throw AATFailure(link: nil, step: "4l", "the parent expires before the child could start") }
        // The parent's budget carries over (Ardur's `max_tool_calls`): never larger.
        var detail: [String: JSONValue] = ["type": .string(AATToken.detailType), "tools": .object(tools)]
        let parentBudget: Int? = if case .number(let n)? = parent.detail?["max_tool_calls"], let b = n.int { b } else { nil }
        if let maxToolCalls, let parentBudget, maxToolCalls > parentBudget {
            throw AATFailure(link: nil, step: "4p", "max_tool_calls \(maxToolCalls) exceeds the parent's \(parentBudget)")
        }
        if let budget = maxToolCalls ?? parentBudget { detail["max_tool_calls"] = .number(JSONNumber(budget)) }
        var claims: [String: JSONValue] = [
            "iss": .string(issuer), "jti": .string(jti), "iat": .number(JSONNumber(Int(iat))), "exp": .number(JSONNumber(Int(exp))),
            "cnf": .object(["jwk": jwkValue(child.jwk)]), "del_depth": .number(JSONNumber(depth)), "del_max_depth": .number(JSONNumber(childMax)),
            "par_hash": .string(parent.jws.signingInputHash),
            "authorization_details": .array([.object(detail)]),
        ]
        // The child stays in its parent's mission (Ardur requires it on every link, unchanged).
        if let mission = parent.claims["mission_ref"] { claims["mission_ref"] = mission }
        return claims
    }

    /// The claims of a proof of possession for a call (draft-01 §5.2).
    public static func proofClaims(leafJTI: String, tool: String, arguments: [String: JSONValue], audience: String?, now: Int64) -> [String: JSONValue] {
        var claims: [String: JSONValue] = [
            "jti": .string(UUID().uuidString.lowercased()), "iat": .number(JSONNumber(Int(now))), "aat_id": .string(leafJTI),
            "aat_tool": .string(tool), "hta": .object(arguments),
        ]
        if let audience { claims["aat_aud"] = .string(audience) }
        return claims
    }

    public static func jwkValue(_ jwk: JWK) -> JSONValue {
        var o: [String: JSONValue] = ["kty": .string(jwk.kty)]
        if let crv = jwk.crv { o["crv"] = .string(crv) }
        if let x = jwk.x { o["x"] = .string(x) }
        if let y = jwk.y { o["y"] = .string(y) }
        return .object(o)
    }

    /// A Tessera tool entry as an AAT constraint map.
    static func toolEntry(_ entry: JSONValue, path: String) throws(MissionError) -> JSONValue {
        guard case .object(let o) = entry else { throw .invalid("\(path) must be an object") }
        if o["requires_approval"] != nil { throw .invalid("\(path).requires_approval cannot be expressed in an AAT (no approval gates in draft-01)") }
        let open = o["allow_unknown_arguments"] == .bool(true)
        guard case .object(let arguments)? = o["arguments"], !arguments.isEmpty else {
            // An AAT's empty map allows any arguments; Tessera's closed entry with none named
            // allows none. Only the open form translates.
            guard open else {
                throw .invalid("\(path) allows no arguments, which an AAT cannot express (its empty map allows any): name the arguments or set allow_unknown_arguments")
            }
            return .object([:])
        }
        if open { throw .invalid("\(path).allow_unknown_arguments with named arguments cannot be expressed in an AAT (its argument maps are closed)") }
        var out: [String: JSONValue] = [:]
        for (name, constraint) in arguments {
            if case .object(let c) = constraint, c["optional"] != nil {
                throw .invalid("\(path).arguments.\(name).optional cannot be expressed in an AAT (every named argument is required)")
            }
            out[name] = try constraintValue(constraint, path: "\(path).arguments.\(name)")
        }
        return .object(out)
    }

    /// One Tessera constraint (JSON) as an AAT constraint; kinds draft-01 has no type for are refused.
    static func constraintValue(_ value: JSONValue, path: String) throws(MissionError) -> JSONValue {
        guard case .object(let o) = value, o.count == 1, let (kind, body) = o.first else { throw .invalid("\(path) must hold one constraint") }
        func scalars(_ name: String) throws(MissionError) -> JSONValue {
            guard case .array(let items) = body, items.allSatisfy(\.isScalar) else {
                throw .invalid("\(path).\(kind) holds a non-scalar value, which an AAT \(kind) cannot")
            }
            return .object(["constraint_type": .string(kind), name: .array(items)])
        }
        func clauses() throws(MissionError) -> JSONValue {
            guard case .array(let items) = body else { throw .invalid("\(path).\(kind) must be an array") }
            var out: [JSONValue] = []
            for (i, item) in items.enumerated() { out.append(try constraintValue(item, path: "\(path).\(kind)[\(i)]")) }
            return .object(["constraint_type": .string(kind), "constraints": .array(out)])
        }
        switch kind {
        case "exact":
            guard body.isScalar else { throw .invalid("\(path).exact is not a scalar, which an AAT exact cannot hold") }
            return .object(["constraint_type": .string("exact"), "value": body])
        case "one_of": return try scalars("values")
        case "not_one_of": return try scalars("excluded")
        case "contains": return try scalars("required")
        case "subset": return try scalars("allowed")
        case "wildcard": return .object(["constraint_type": .string("wildcard")])
        case "all", "any": return try clauses()
        case "range":
            guard case .object(let r) = body else { throw .invalid("\(path).range must be an object") }
            var out: [String: JSONValue] = ["constraint_type": .string("range")]
            if let min = r["min"], min != .null {
                out["min"] = min
                out["min_inclusive"] = .bool(r["exclusive_min"] != .bool(true))
            }
            if let max = r["max"], max != .null {
                out["max"] = max
                out["max_inclusive"] = .bool(r["exclusive_max"] != .bool(true))
            }
            return .object(out)
        default:
            throw .invalid("\(path).\(kind) has no draft-01 constraint type (AATs carry exact, range, one_of, not_one_of, contains, subset, wildcard, all, any)")
        }
    }
}
