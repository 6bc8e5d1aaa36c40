/// How Tessera's decisions are spoken in MCP's JSON-RPC, for both gateways (stdio and
/// streamable HTTP): one refusal shape and one `tools/list` filter, so an agent sees the same
/// answer whichever transport it uses.
public enum MCPGovernance {
    /// DENY (and fail-closed refusals).
    public static let deniedCode = -32001
    /// APPROVAL_REQUIRED: the same call can be retried after approvers grant it.
    public static let approvalRequiredCode = -32002

    /// A JSON-RPC error response.
    public static func errorResponse(code: Int, message: String, id: JSONValue, data: JSONValue? = nil) -> JSONValue {
        var error: [String: JSONValue] = ["code": .number(JSONNumber(code)), "message": .string(message)]
        if let data { error["data"] = data }
        return .object(["jsonrpc": "2.0", "id": id, "error": .object(error)])
    }

    /// The error answering a call Tessera did not permit, or nil for a PERMIT:
    /// -32001 with `data {decision, reason, receipt_id?, violations?}`, or -32002 with the
    /// `approval_id`.
    public static func refusal(_ result: GovernanceWire.EvaluationResult, id: JSONValue) -> JSONValue? {
        guard result.decision != Decision.Verdict.permit.rawValue else { return nil }
        var data: [String: JSONValue] = ["decision": .string(result.decision), "reason": .string(result.reason ?? "")]
        if let receipt = result.receipt_id { data["receipt_id"] = .string(receipt) }
        if let approval = result.approval_id { data["approval_id"] = .string(approval) }
        if let violations = result.violations {
            data["violations"] = .array(violations.map {
                .object(["argument": .string($0.argument), "constraint": .string($0.constraint), "detail": .string($0.detail)])
            })
        }
        if result.decision == Decision.Verdict.approvalRequired.rawValue {
            return errorResponse(
                code: approvalRequiredCode,
                message: "approval required: a human must approve this call (approval \(result.approval_id ?? "?")); retry after it is granted",
                id: id, data: .object(data))
        }
        return errorResponse(code: deniedCode, message: "denied by Tessera: \(result.reason ?? "DENY")", id: id, data: .object(data))
    }

    /// A refusal that is not a decision (Tessera unreachable, no session): fail closed.
    public static func failClosed(reason: String, id: JSONValue) -> JSONValue {
        errorResponse(
            code: deniedCode, message: "denied by Tessera: \(reason)", id: id,
            data: .object(["decision": "DENY", "reason": .string(reason)]))
    }

    /// The bytes a gateway sends for `message`: compact JSON on one line, never the bytes it
    /// received. A peer that splits lines differently (Python's universal newlines split at a
    /// bare CR; `str.splitlines` also at U+0085, U+2028 and U+2029) must read exactly the one
    /// message Tessera evaluated, so every such character inside a string is escaped too (JSON
    /// allows `\uXXXX` for any character; outside strings the output has no whitespace at all).
    public static func wire(_ message: JSONValue) -> [UInt8] {
        let text = CanonicalJSON.serialize(message)
        guard text.utf8.contains(where: { $0 >= 0xC2 }) else { return Array(text.utf8) }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x80...0x9F, 0x2028, 0x2029:
                out.append(contentsOf: String(format: "\\u%04x", scalar.value).unicodeScalars)
            default:
                out.append(scalar)
            }
        }
        return Array(String(out).utf8)
    }

    /// Whether a received message has a control character (U+0000–U+001F) anywhere. Inside a
    /// JSON string one is invalid already; outside, JSON calls tab, CR and LF whitespace, but a
    /// bare CR is a line break to other readers: a message carrying one could be one message to
    /// Tessera and two to the server behind it (round-three finding 1). Refused, not repaired.
    public static func hasControlCharacter(_ bytes: some Sequence<UInt8>) -> Bool {
        bytes.contains { $0 < 0x20 }
    }

    /// The tools a passport can ever permit: what `tools/list` may show.
    public static func visibleTools(_ claims: PassportClaims) -> Set<String> {
        claims.permittedTools.subtracting(claims.forbidden_tools)
    }

    /// What a gateway relays for a message from the upstream, filtered for the caller: any
    /// result carrying a `tools` array (a `tools/list` answer, a `server/discover` answer —
    /// whatever request it answers, correlated or not) keeps only `visible` tools. Fails closed:
    /// a `tools` member that is not an array of named tools is replaced by an error.
    ///
    /// A filtered list is for this caller only: it is marked `cacheScope: "private"` and its
    /// `ttlMs` is at most `ttlMs` (the passport's remaining life), so no cache — the client's or a
    /// shared gateway's — serves it to another authorization context or past the passport
    /// (MCP 2026-07-28, server/utilities/caching).
    public static func filteringAnyToolList(_ message: [String: JSONValue], visible: Set<String>, ttlMs: Int? = nil) -> [String: JSONValue] {
        guard case .object(let result)? = message["result"], let tools = result["tools"] else { return message }
        guard case .array = tools, var filtered = filteringToolsList(message, visible: visible),
            case .object(var filteredResult)? = filtered["result"]
        else {
            return errorObject(code: -32603, message: "Tessera could not read the upstream's tool list", id: message["id"] ?? .null)
        }
        filteredResult["cacheScope"] = "private"
        if let ttlMs {
            var ttl = max(0, ttlMs)
            if case .number(let given)? = filteredResult["ttlMs"], let upstream = given.int, upstream >= 0 { ttl = min(ttl, upstream) }
            filteredResult["ttlMs"] = .number(JSONNumber(ttl))
        }
        filtered["result"] = .object(filteredResult)
        return filtered
    }

    /// The `_meta` key naming the receipt that covers a call, on the call's answer.
    public static let receiptMetaKey = "io.tessera/receipt"

    /// `message` with `result._meta["io.tessera/receipt"] = receipt` when it is the answer (a
    /// result) to the request `id`; otherwise unchanged.
    public static func annotatingReceipt(_ message: [String: JSONValue], id: JSONValue, receipt: String) -> [String: JSONValue] {
        guard message["method"] == nil, message["id"] == id, case .object(var result)? = message["result"] else { return message }
        var meta: [String: JSONValue] = [:]
        if case .object(let existing)? = result["_meta"] { meta = existing }
        meta[receiptMetaKey] = .string(receipt)
        result["_meta"] = .object(meta)
        var out = message
        out["result"] = .object(result)
        return out
    }

    static func errorObject(code: Int, message: String, id: JSONValue) -> [String: JSONValue] {
        guard case .object(let object) = errorResponse(code: code, message: message, id: id) else { return [:] }
        return object
    }

    /// A `tools/list` answer with only `visible` tools (`nextCursor` and the rest untouched), or
    /// nil when `message` is not such an answer.
    public static func filteringToolsList(_ message: [String: JSONValue], visible: Set<String>) -> [String: JSONValue]? {
        guard case .object(var result)? = message["result"], case .array(let tools)? = result["tools"] else { return nil }
        result["tools"] = .array(tools.filter { tool in
            guard case .object(let t) = tool, case .string(let name)? = t["name"] else { return false }
            return visible.contains(name)
        })
        var filtered = message
        filtered["result"] = .object(result)
        return filtered
    }
}
