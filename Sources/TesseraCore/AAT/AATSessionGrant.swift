import Crypto
import Foundation

/// The passport an AAT session is governed by: the leaf's grant (tools and constraints, in
/// Tessera's constraint language), narrowed by its mission declaration. Evaluation, budgets,
/// approvals, delegation and receipts then run exactly as for any passport.
public enum AATSessionGrant {
    /// - Parameters:
    ///   - mission: the declaration `mission_ref` resolved to, already checked against its digest.
    ///   - holderBound: every call must carry a proof by the leaf's key.
    public static func passport(
        chain: AATChain, token: String, mission: MissionDeclaration?, holderBound: Bool, workspace: String, now: Int64
    ) throws(MissionDeclaration.Refusal) -> PassportClaims {
        let leaf = chain.leaf
        func widens(_ detail: String) -> MissionDeclaration.Refusal { .init("aat_widens_mission", detail) }
        var tools = chain.missionTools
        // Budgets the chain states (Ardur's profile puts `max_tool_calls` in the detail entry):
        // the smallest of every link's, so a derived token can never state its way past an
        // ancestor's budget (the draft itself has no budget claim to attenuate).
        var budget: Int?
        for value in chain.tokens.flatMap({ [$0.detail?["max_tool_calls"], $0.claims["max_tool_calls"]] }) {
            guard let value else { continue }
            guard case .number(let n) = value, let calls = n.int, calls >= 0 else {
                throw .init("aat_invalid", "max_tool_calls must be a non-negative integer")
            }
            budget = min(budget ?? calls, calls)
        }
        var exp = leaf.exp
        var forbidden: [String] = []
        var scope: [String] = []
        var duration: Int?
        var depth = max(0, leaf.delMaxDepth - leaf.delDepth)
        var missionText = "aat"
        if let mission {
            let allowed = Set(mission.allowedTools)
            let extra = tools.keys.filter { !allowed.contains($0) }.sorted()
            guard extra.isEmpty else { throw widens("tools \(extra) are not allowed by mission \(mission.missionID)") }
            for tool in mission.forbiddenTools { tools[tool] = nil }
            forbidden = mission.forbiddenTools
            if let limit = mission.maxToolCalls {
                if let b = budget, b > limit { throw widens("max_tool_calls \(b) exceeds the mission's \(limit)") }
                budget = min(budget ?? limit, limit)
            }
            exp = min(exp, mission.exp)
            scope = mission.resourceScope
            duration = mission.maxDurationSeconds
            // The mission's delegation limits bind the AAT chain itself as well as what the
            // session may delegate further.
            let missionDepth = mission.delegationAllowed == false ? 0 : mission.maxDelegationDepth
            if let limit = missionDepth, leaf.delDepth > limit {
                throw widens("the chain is \(leaf.delDepth) delegation(s) deep; mission \(mission.missionID) allows \(limit)")
            }
            if let limit = missionDepth { depth = min(depth, limit - leaf.delDepth) }
            missionText = mission.mission
        }
        guard !tools.isEmpty else { throw .init("aat_invalid", "the grant leaves no tool to call") }
        // Who the agent is comes from the root (signed by a trust anchor), never from a link any
        // holder downstream could write.
        let agent: String = if case .string(let s)? = chain.root.claims["sub"], !s.isEmpty, s.utf8.count <= 256,
            s.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) { s }
            else { "aat:" + chain.root.iss }
        let grant = Mission(
            agent_id: agent, mission: missionText, allowed_tools: [], forbidden_tools: forbidden, resource_scope: scope,
            max_tool_calls: budget, max_duration_s: duration, delegation_allowed: depth > 0, max_delegation_depth: depth,
            tools: tools)
        // The mapped constraints must be ones Tessera's own parser accepts (its bounds are tighter
        // in places, e.g. nesting depth 8): a grant it cannot hold is refused, not approximated.
        do {
            _ = try Mission.parse(grant.jsonObject)
        } catch {
            throw .init("aat_unsupported", "the grant cannot be expressed as a Tessera mission: \(error.description)")
        }
        var claims = PassportClaims(
            mission: grant, issuer: leaf.iss, workspace: workspace, issuedAt: leaf.iat, ttl: exp - leaf.iat, jti: leaf.jti,
            depth: 0, parentJTI: nil, jkt: holderBound ? leaf.holderKey?.thumbprint : nil)
        claims.nbf = nil
        var binding = AATBinding(rootIssuer: chain.root.iss, tokenSHA256: CompactJWS.hex(SHA256.hash(data: Array(token.utf8))))
        binding.mission_ref = try? chain.missionReference()
        binding.mission_digest = mission?.digest
        binding.mission_id = mission?.missionID
        binding.revocation_ref = mission?.revocation.map { "\($0.uri)#idx=\($0.index)" }
        binding.holder_jwk = holderBound ? leaf.holderKey?.jwk : nil
        claims.aat = binding
        return claims
    }
}

extension Mission {
    /// The mission as `/issue` would receive it (for validation by ``parse(_:)``).
    var jsonObject: [String: JSONValue] {
        var o: [String: JSONValue] = [
            "agent_id": .string(agent_id), "mission": .string(mission), "allowed_tools": .array(allowed_tools.map(JSONValue.string)),
            "forbidden_tools": .array(forbidden_tools.map(JSONValue.string)), "resource_scope": .array(resource_scope.map(JSONValue.string)),
            "delegation_allowed": .bool(delegation_allowed), "max_delegation_depth": .number(JSONNumber(min(max_delegation_depth, 16))),
        ]
        if let max_tool_calls { o["max_tool_calls"] = .number(JSONNumber(max_tool_calls)) }
        if let max_duration_s { o["max_duration_s"] = .number(JSONNumber(max_duration_s)) }
        if let tools { o["tools"] = .object(tools) }
        return o
    }
}
