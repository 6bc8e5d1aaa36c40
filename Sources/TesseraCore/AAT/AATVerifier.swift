import Foundation

/// A root key an AAT chain may start from; `issuer` nil accepts any root `iss` (the offline CLI,
/// given one key file), otherwise the root's `iss` must be exactly it.
public struct AATTrustAnchor: Sendable {
    public var issuer: String?
    public var key: ForeignPublicKey
    public init(issuer: String?, key: ForeignPublicKey) {
        self.issuer = issuer
        self.key = key
    }
}

/// draft-01 §7 steps 1–5: the chain, root first. Every step fails closed with the link and the
/// step named (``AATFailure``). Steps 6 (the call) and 7 (the proof) are ``AATChain/authorize``
/// and ``AATProof``.
public struct AATVerifier: Sendable {
    public var anchors: [AATTrustAnchor]
    /// Whether the leaf's `cnf.jwk` must be a usable key. Off only for a session whose holder
    /// opted out of proof of possession where policy allows (Ardur's `require_pop:false`): the
    /// key is then never used, and a chain continues only from a parent whose key is usable.
    public var requireHolderKey = true

    public static let maximumTokenBytes = 65_536
    public static let maximumChainBytes = 262_144
    public static let maximumDelegationDepth = 16
    public static let maximumIATSkew: Int64 = 30
    public static let maximumLifetime: Int64 = 90 * 86_400

    public init(anchors: [AATTrustAnchor], requireHolderKey: Bool = true) {
        self.anchors = anchors
        self.requireHolderKey = requireHolderKey
    }

    public func verify(_ chain: [String], now: Int64) throws(AATFailure) -> AATChain {
        // 1, 2: non-empty, bounded, no repeated jti.
        guard !chain.isEmpty else { throw AATFailure(link: nil, step: "1", "the chain is empty") }
        guard chain.count <= Self.maximumDelegationDepth + 1 else {
            throw AATFailure(link: nil, step: "2b", "more than \(Self.maximumDelegationDepth + 1) tokens")
        }
        guard chain.reduce(0, { $0 + $1.utf8.count }) <= Self.maximumChainBytes else {
            throw AATFailure(link: nil, step: "2b", "the chain is larger than \(Self.maximumChainBytes) bytes")
        }
        var parsed: [ForeignJWS] = []
        var seen = Set<String>()
        for (i, token) in chain.enumerated() {
            let jws: ForeignJWS
            do {
                jws = try ForeignJWS(token, maximumBytes: Self.maximumTokenBytes)
            } catch {
                if case .tooLarge = error { throw AATFailure(link: i, step: "2a", "\(error)") }
                if case .algorithm = error { throw AATFailure(link: i, step: i == 0 ? "3a" : "4a", "\(error)", credential: true) }
                throw AATFailure(link: i, step: "2c", "\(error)")
            }
            guard let jti = jws.unverifiedJTI else { throw AATFailure(link: i, step: "2c", "payload has no string jti") }
            guard seen.insert(jti).inserted else { throw AATFailure(link: i, step: "2c", "jti \(jti) appears twice in the chain") }
            parsed.append(jws)
        }
        // 3: the root, signed by a trust anchor.
        let rootJWS = parsed[0]
        let rootIssuer: String? = if case .string(let s)? = rootJWS.unverified("iss") { s } else { nil }
        let candidates = anchors.filter { $0.key.algorithm == rootJWS.algorithm && ($0.issuer == nil || $0.issuer == rootIssuer) }
        guard !candidates.isEmpty else {
            throw AATFailure(link: 0, step: "3a", "no trust anchor for issuer \(rootIssuer ?? "-") with algorithm \(rootJWS.algorithm)", credential: true)
        }
        guard candidates.contains(where: { (try? rootJWS.verify(with: $0.key)) != nil }) else {
            throw AATFailure(link: 0, step: "3b", "the root's signature does not verify under a trust anchor", credential: true)
        }
        let last = parsed.count - 1
        let root = try AATToken(jws: rootJWS, link: 0, requireHolderKey: requireHolderKey || last > 0)
        if root.delDepth != 0 { throw AATFailure(link: 0, step: "3c", "del_depth must be 0 on the root") }
        try Self.checkTimes(root, link: 0, now: now, steps: ("3e", "3f", "3g", "3h"))
        var tokens = [root]
        let budget = SubsumptionBudget(steps: SubsumptionBudget.defaultSteps)
        // 4: each link, signed by its parent's holder key.
        for i in 1..<parsed.count where parsed.count > 1 {
            let parent = tokens[i - 1]
            let jws = parsed[i]
            guard let parentKey = parent.holderKey else {
                throw AATFailure(link: i, step: "4a", "the parent's cnf.jwk is not a usable key", credential: true)
            }
            guard jws.algorithm == parentKey.algorithm else {
                throw AATFailure(link: i, step: "4a", "algorithm \(jws.algorithm) does not fit the parent's key", credential: true)
            }
            do {
                try jws.verify(with: parentKey)
            } catch {
                throw AATFailure(link: i, step: "4b", "the signature does not verify under the parent's cnf.jwk", credential: true)
            }
            let child = try AATToken(jws: jws, link: i, requireHolderKey: requireHolderKey || i < last)
            func fail(_ step: String, _ message: String, credential: Bool = false) -> AATFailure {
                AATFailure(link: i, step: step, message, credential: credential)
            }
            if child.iss != parent.childIssuer { throw fail("4c", "iss is not the thumbprint URI of the parent's cnf.jwk") }
            if child.delDepth != parent.delDepth + 1 { throw fail("4d", "del_depth must be the parent's plus one") }
            if child.delDepth > parent.delMaxDepth { throw fail("4e", "del_depth exceeds the parent's del_max_depth") }
            if child.delMaxDepth > parent.delMaxDepth { throw fail("4g", "del_max_depth exceeds the parent's") }
            if child.exp > parent.exp { throw fail("4h", "exp is later than the parent's") }
            if child.iat < parent.iat { throw fail("4j", "iat is earlier than the parent's") }
            try Self.checkTimes(child, link: i, now: now, steps: ("4i", "4k", "4l", "4l"))
            if child.delDepth > child.delMaxDepth { throw fail("4m", "del_depth exceeds its own del_max_depth") }
            try Self.checkNarrowing(child: child.tools ?? [:], parent: parent.tools ?? [:], link: i, budget: budget)
            if child.parHash != parent.jws.signingInputHash { throw fail("4q", "par_hash does not match the parent's signing input") }
            tokens.append(child)
        }
        // 5: as many links as the leaf's depth says.
        let leaf = tokens[last]
        if tokens.count != leaf.delDepth + 1 { throw AATFailure(link: last, step: "5", "the chain has \(tokens.count) tokens but the leaf's del_depth is \(leaf.delDepth)") }
        // 6a: the leaf must hold exactly one AAT entry.
        guard leaf.tools != nil else { throw AATFailure(link: last, step: "6a", "the leaf has no \(AATToken.detailType) entry") }
        return AATChain(tokens: tokens)
    }

    static func checkTimes(_ token: AATToken, link: Int, now: Int64, steps: (expired: String, future: String, order: String, lifetime: String)) throws(AATFailure) {
        if token.exp <= now { throw AATFailure(link: link, step: steps.expired, "expired", credential: true) }
        if token.iat > now + maximumIATSkew { throw AATFailure(link: link, step: steps.future, "iat is in the future", credential: true) }
        if token.exp <= token.iat { throw AATFailure(link: link, step: steps.order, "exp is not after iat") }
        if token.exp > token.iat + maximumLifetime { throw AATFailure(link: link, step: steps.lifetime, "lifetime above 90 days") }
    }

    /// I4 (§4.5): tools a subset; under a non-empty parent map the same argument names, each
    /// constraint no wider.
    public static func checkNarrowing(
        child: [String: [String: AATConstraint]], parent: [String: [String: AATConstraint]], link: Int,
        budget: SubsumptionBudget = SubsumptionBudget(steps: SubsumptionBudget.defaultSteps)
    ) throws(AATFailure) {
        for tool in child.keys.sorted() {
            guard let parentMap = parent[tool] else { throw AATFailure(link: link, step: "4p1", "tool \(tool) is not granted by the parent") }
            let childMap = child[tool]!
            guard !parentMap.isEmpty else { continue }
            guard Set(childMap.keys) == Set(parentMap.keys) else {
                throw AATFailure(link: link, step: "4p2", "tool \(tool): the argument names differ from the parent's")
            }
            for name in childMap.keys.sorted() where !childMap[name]!.subsumes(parentMap[name]!, budget: budget) {
                if budget.exhausted {
                    throw AATFailure(link: link, step: "4p4", "constraint comparison exceeds \(SubsumptionBudget.defaultSteps) steps (refused, not decided)")
                }
                throw AATFailure(link: link, step: "4p4", "tool \(tool) argument \(name): \(childMap[name]!.type) is not provably within the parent's \(parentMap[name]!.type)")
            }
        }
    }
}

/// A verified chain (steps 1–5 passed).
public struct AATChain: Sendable {
    public let tokens: [AATToken]
    public var root: AATToken { tokens[0] }
    public var leaf: AATToken { tokens[tokens.count - 1] }
    public var link: Int { tokens.count - 1 }

    /// The mission declaration the chain is bound to (Ardur's `mission_ref`): every link that
    /// names one must name the same one, so a derived token can neither swap its ancestor's
    /// mission for a looser one nor drop out of it (a link without one inherits it).
    public func missionReference() throws(AATFailure) -> JSONValue? {
        var found: (link: Int, value: JSONValue, canonical: String)?
        for (index, token) in tokens.enumerated() {
            guard let value = token.claims["mission_ref"] else { continue }
            let canonical = CanonicalJSON.serialize(value)
            if let found, found.canonical != canonical {
                throw AATFailure(link: index, step: "4p", "mission_ref differs from link \(found.link)'s: a derived token stays in its ancestor's mission")
            }
            if found == nil { found = (index, value, canonical) }
        }
        return found?.value
    }

    /// Step 6b: the call is within the leaf's grant (closed world under a non-empty map).
    public func authorize(tool: String, arguments: [String: JSONValue]) throws(AATFailure) {
        guard let tools = leaf.tools, let index = tools.index(forKey: tool), tools[index].key.utf8.elementsEqual(tool.utf8) else {
            throw AATFailure(link: link, step: "6b", "tool \(tool) is not granted")
        }
        let map = tools[index].value
        guard !map.isEmpty else { return }
        if let extra = arguments.keys.sorted().first(where: { map[$0] == nil }) {
            throw AATFailure(link: link, step: "6b", "argument \(extra) is not named by the grant")
        }
        for name in map.keys.sorted() {
            guard let value = arguments[name] else { throw AATFailure(link: link, step: "6b", "argument \(name) is missing") }
            if let why = map[name]!.tessera.check(value) {
                throw AATFailure(link: link, step: "6b", "argument \(name): \(why)")
            }
        }
    }

    /// The leaf's grant as a mission's `tools` (Tessera's constraint language): an empty map
    /// allows unknown arguments; a non-empty one is closed and every named argument required.
    public var missionTools: [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for (tool, map) in leaf.tools ?? [:] {
            if map.isEmpty {
                out[tool] = .object(["allow_unknown_arguments": .bool(true)])
            } else {
                out[tool] = .object(["arguments": .object(map.mapValues(\.tesseraJSON))])
            }
        }
        return out
    }
}
