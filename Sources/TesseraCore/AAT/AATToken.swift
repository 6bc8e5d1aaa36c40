import Foundation

/// One verified link of an AAT chain: its registered claims and its capability set
/// (draft-01 §3.2, §3.3). Built only after the link's signature verified.
public struct AATToken: Sendable {
    public let jws: ForeignJWS
    public let claims: [String: JSONValue]
    public let jti: String
    public let iss: String
    public let iat: Int64
    public let exp: Int64
    public let delDepth: Int
    public let delMaxDepth: Int
    public let parHash: String?
    /// The holder's key (`cnf.jwk`); nil only when it is not a usable public key and the
    /// caller accepted that (bearer mode, see ``AATVerifier/requireHolderKey``).
    public let holderKey: ForeignPublicKey?
    /// Tool → argument → constraint; an empty argument map allows any arguments. nil: the token
    /// has no AAT entry (allowed on a non-leaf derived token: the empty capability set).
    public let tools: [String: [String: AATConstraint]]?
    /// The AAT `authorization_details` entry itself (profiles read extra members such as
    /// `max_tool_calls`).
    public let detail: [String: JSONValue]?

    public static let thumbprintIssuerPrefix = "urn:ietf:params:oauth:jwk-thumbprint:sha-256:"
    public static let detailType = "attenuating_agent_token"
    public static let maximumTools = 256
    public static let maximumArguments = 64
    public static let maximumToolNameBytes = 256
    /// Constraints (every node of every tree) in one token: Tessera's own per-tool bounds are
    /// tighter, and no real grant comes near it.
    public static let maximumConstraintNodes = 2_048

    /// Reads the claims of a verified link. `link` and `root` place the errors (root steps are
    /// 3c–3n, derived 4b1–4b5, 4n, 4o).
    public init(jws: ForeignJWS, link: Int, requireHolderKey: Bool) throws(AATFailure) {
        let root = link == 0
        func fail(_ step: String, _ message: String) -> AATFailure { AATFailure(link: link, step: step, message) }
        let claims: [String: JSONValue]
        do {
            claims = try jws.claims()
        } catch {
            throw fail(root ? "3b" : "4b", "\(error)")
        }
        self.jws = jws
        self.claims = claims
        func integer(_ name: String, step: String) throws(AATFailure) -> Int64 {
            guard case .number(let n)? = claims[name], let i = n.int, i >= 0 else { throw fail(step, "\(name) must be a non-negative integer") }
            return Int64(i)
        }
        guard case .string(let jti)? = claims["jti"], !jti.isEmpty, jti.utf8.count <= 256 else {
            throw fail(root ? "3j" : "4b1", "jti must be a non-empty string")
        }
        // An id that becomes a session id, a log field and a revocation key: printable ASCII
        // only (a UUID, a URN…), never blanks or controls that could forge a log line.
        guard jti.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw fail(root ? "3j" : "4b1", "jti must be 1-256 printable ASCII characters")
        }
        self.jti = jti
        guard case .string(let iss)? = claims["iss"], !iss.isEmpty else { throw fail(root ? "3k" : "4b5", "iss is missing") }
        if root, !Self.isURI(iss) { throw fail("3k", "iss must be a URI") }
        self.iss = iss
        iat = try integer("iat", step: root ? "3g" : "4b5")
        exp = try integer("exp", step: root ? "3g" : "4b5")
        let depth = try integer("del_depth", step: root ? "3c" : "4b4")
        let maxDepth = try integer("del_max_depth", step: root ? "3i" : "4b4")
        guard depth <= Int64(AATVerifier.maximumDelegationDepth), maxDepth <= Int64(AATVerifier.maximumDelegationDepth) else {
            throw fail(root ? "3i" : "4f", "delegation depth above the maximum of \(AATVerifier.maximumDelegationDepth)")
        }
        delDepth = Int(depth)
        delMaxDepth = Int(maxDepth)
        switch claims["par_hash"] {
        case nil: parHash = nil
        case .string(let h)?: parHash = h
        default: throw fail(root ? "3d" : "4b5", "par_hash must be a string")
        }
        if root, parHash != nil { throw fail("3d", "a root token carries no par_hash") }
        if !root, parHash == nil { throw fail("4b5", "par_hash is missing") }
        // cnf.jwk: a public key, never a private member.
        guard case .object(let cnf)? = claims["cnf"], case .object(let jwkObject)? = cnf["jwk"] else {
            throw fail(root ? "3l" : "4b2", "cnf.jwk is missing")
        }
        if jwkObject["d"] != nil || jwkObject["p"] != nil || jwkObject["q"] != nil || jwkObject["k"] != nil {
            throw fail(root ? "3l" : "4b2", "cnf.jwk holds a private member")
        }
        let key = Self.publicKey(jwkObject)
        if key == nil, requireHolderKey { throw fail(root ? "3l" : "4b2", "cnf.jwk is not a supported public key (Ed25519 or P-256)") }
        holderKey = key
        // authorization_details: exactly one AAT entry (a derived non-leaf may have none).
        guard case .array(let details)? = claims["authorization_details"] else {
            throw fail(root ? "3m" : "4b3", "authorization_details must be an array")
        }
        let entries = details.compactMap { item -> [String: JSONValue]? in
            guard case .object(let o) = item, case .string(Self.detailType)? = o["type"] else { return nil }
            return o
        }
        if entries.count > 1 { throw fail(root ? "3m" : "4n", "more than one \(Self.detailType) entry") }
        if root, entries.isEmpty { throw fail("3m", "no \(Self.detailType) entry") }
        detail = entries.first
        if let entry = entries.first {
            do {
                tools = try Self.parseTools(entry["tools"])
            } catch {
                throw fail(root ? "3n" : "4o", error.message)
            }
        } else {
            tools = nil
        }
    }

    public static func parseTools(_ value: JSONValue?) throws(AATFailure.Detail) -> [String: [String: AATConstraint]] {
        guard case .object(let tools)? = value else { throw .init("tools must be an object mapping tools to constraint maps") }
        guard tools.count <= maximumTools else { throw .init("more than \(maximumTools) tools") }
        var nodes = 0
        var out: [String: [String: AATConstraint]] = [:]
        for name in tools.keys.sorted() {
            guard !name.isEmpty, name.utf8.count <= maximumToolNameBytes else { throw .init("tool names are 1-\(maximumToolNameBytes) bytes") }
            guard case .object(let arguments) = tools[name]! else { throw .init("tools[\(name)] must be an object of argument constraints") }
            guard arguments.count <= maximumArguments else { throw .init("tools[\(name)] has more than \(maximumArguments) arguments") }
            var map: [String: AATConstraint] = [:]
            for (argument, constraint) in arguments {
                let parsed = try AATConstraint.parse(constraint, path: "tools[\(name)].\(argument)")
                nodes += parsed.nodeCount
                guard nodes <= maximumConstraintNodes else { throw .init("more than \(maximumConstraintNodes) constraints in one token") }
                map[argument] = parsed
            }
            out[name] = map
        }
        return out
    }

    static func publicKey(_ object: [String: JSONValue]) -> ForeignPublicKey? {
        func s(_ name: String) -> String? { if case .string(let v)? = object[name] { v } else { nil } }
        guard let kty = s("kty") else { return nil }
        return try? ForeignPublicKey(jwk: JWK(kty: kty, crv: s("crv"), x: s("x"), y: s("y")))
    }

    /// `scheme ":" something`, no blanks: what "a URI" can be checked as without resolving it.
    static func isURI(_ s: String) -> Bool {
        guard let colon = s.firstIndex(of: ":"), colon != s.startIndex, s.index(after: colon) != s.endIndex else { return false }
        let scheme = s[..<colon]
        guard let first = scheme.unicodeScalars.first, ("a"..."z").contains(first) || ("A"..."Z").contains(first) else { return false }
        guard scheme.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "+-.".unicodeScalars.contains($0)) }) else { return false }
        return !s.unicodeScalars.contains { $0.value <= 0x20 || $0.value == 0x7F }
    }

    /// The `iss` a token derived from this one must carry (draft-01 §3.2, RFC 9278).
    public var childIssuer: String? { holderKey.map { Self.thumbprintIssuerPrefix + $0.thumbprint } }
}
