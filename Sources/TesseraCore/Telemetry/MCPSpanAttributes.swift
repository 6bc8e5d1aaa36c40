/// The span of one MCP `tools/call` in either gateway, named and attributed as OpenTelemetry's
/// MCP semantic conventions say (`{mcp.method.name} {target}`; `mcp.method.name`,
/// `gen_ai.tool.name`, `gen_ai.operation.name`, `jsonrpc.request.id`, `mcp.protocol.version`,
/// `network.transport`), plus Tessera's decision. Written once here for both gateways.
///
/// Never an argument value (they may be secrets), and not `mcp.session.id`: MCP session ids are
/// meant to be unguessable, and a trace backend is read by more people than the gateway.
public enum MCPSpanAttributes {
    public static func name(tool: String) -> String { "tools/call \(tool.prefix(utf8Bytes: Evaluator.maxToolNameBytes))" }

    /// String attributes of a `tools/call` span before the decision.
    public static func call(tool: String, id: JSONValue, protocolVersion: String?, transport: String) -> [(String, String)] {
        var out: [(String, String)] = [
            ("mcp.method.name", "tools/call"), ("gen_ai.tool.name", tool.prefix(utf8Bytes: Evaluator.maxToolNameBytes)), ("gen_ai.operation.name", "execute_tool"),
            ("network.transport", transport), ("tessera.tool", tool.prefix(utf8Bytes: Evaluator.maxToolNameBytes)),
        ]
        switch id {
        case .string(let text): out.append(("jsonrpc.request.id", text.prefix(utf8Bytes: 256)))
        case .number: out.append(("jsonrpc.request.id", CanonicalJSON.serialize(id).prefix(utf8Bytes: 256)))
        default: break
        }
        if let protocolVersion { out.append(("mcp.protocol.version", protocolVersion.prefix(utf8Bytes: 64))) }
        return out
    }

    /// The decision's attributes.
    public static func decision(_ result: GovernanceWire.EvaluationResult) -> [(String, String)] {
        var out: [(String, String)] = [("tessera.decision", result.decision)]
        if let rule = result.reasonRule { out.append(("tessera.reason", rule)) }
        if let receipt = result.receipt_id { out.append(("tessera.receipt.id", receipt)) }
        return out
    }

    /// W3C trace context carried in the message's `params._meta` (`traceparent`, `tracestate`),
    /// for hosts that propagate it there rather than in HTTP headers (or over stdio).
    public static func metaTraceContext(_ params: [String: JSONValue]) -> [String: String] {
        guard case .object(let meta)? = params["_meta"] else { return [:] }
        var out: [String: String] = [:]
        for key in ["traceparent", "tracestate"] {
            if case .string(let value)? = meta[key], value.utf8.count <= 512 { out[key] = value }
        }
        return out
    }
}
