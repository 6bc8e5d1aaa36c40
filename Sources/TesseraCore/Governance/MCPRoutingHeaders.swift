import Foundation

/// MCP revision 2026-07-28's mirrored routing headers (basic/transports/streamable-http,
/// "Request Metadata"): every request carries `Mcp-Method` (its `method`) and, for `tools/call`,
/// `prompts/get` and `resources/read`, `Mcp-Name` (its `params.name` or `params.uri`), beside
/// `MCP-Protocol-Version` (equal to `params._meta["io.modelcontextprotocol/protocolVersion"]`).
/// Load balancers and servers may route on the headers; Tessera judges the body. So the gateway
/// refuses a request whose headers and body disagree (-32020 `HeaderMismatch`, HTTP 400) before
/// it evaluates anything, and sends upstream headers it derives from the body it evaluated —
/// never the client's copies. Values are compared as bytes after decoding: a name in another
/// case or another Unicode normalisation form is a different name.
public enum MCPRoutingHeaders {
    /// The first revision with mirrored headers and no sessions.
    public static let modernRevision = "2026-07-28"
    public static let headerMismatchCode = -32020
    public static let protocolVersionMetaKey = "io.modelcontextprotocol/protocolVersion"
    /// Which parameter `Mcp-Name` mirrors, per method.
    public static let nameBearing: [String: String] = ["tools/call": "name", "prompts/get": "name", "resources/read": "uri"]

    /// Whether `version` (YYYY-MM-DD) is 2026-07-28 or later.
    public static func isModern(_ version: String) -> Bool {
        version.utf8.count == 10 && version >= modernRevision
    }

    /// The revision a request speaks: the header's, or the body's `_meta` one; nil for the
    /// revisions before 2026-07-28, whose body alone is evaluated and forwarded.
    public static func modernVersion(header: String?, message: [String: JSONValue]) -> String? {
        if let header, isModern(header) { return header }
        if case .string(let body)? = meta(message)?[protocolVersionMetaKey], isModern(body) { return body }
        return nil
    }

    static func meta(_ message: [String: JSONValue]) -> [String: JSONValue]? {
        guard case .object(let params)? = message["params"], case .object(let meta)? = params["_meta"] else { return nil }
        return meta
    }

    /// Why the headers disagree with `message`, or nil when they agree. Each list holds every
    /// value the request carried for that header (two copies of one header are a mismatch:
    /// which one a router reads is not Tessera's to guess).
    public static func mismatch(message: [String: JSONValue], version: [String], method: [String], name: [String]) -> String? {
        guard version.count <= 1, method.count <= 1, name.count <= 1 else {
            return "a routing header (MCP-Protocol-Version, Mcp-Method or Mcp-Name) appears more than once"
        }
        guard case .string(let bodyVersion)? = meta(message)?[protocolVersionMetaKey] else {
            return "params._meta[\"\(protocolVersionMetaKey)\"] is required on revision \(modernRevision)"
        }
        guard let headerVersion = version.first, Array(headerVersion.utf8) == Array(bodyVersion.utf8) else {
            return "the MCP-Protocol-Version header does not match the body's protocol version"
        }
        guard case .string(let bodyMethod)? = message["method"] else {
            return "revision \(modernRevision) carries requests and notifications only, not responses"
        }
        let isRequest = message["id"] != nil
        if let headerMethod = method.first {
            guard Array(headerMethod.utf8) == Array(bodyMethod.utf8) else { return "the Mcp-Method header does not match the body's method" }
        } else if isRequest {
            return "the Mcp-Method header is required"
        }
        if let key = nameBearing[bodyMethod] {
            guard case .object(let params)? = message["params"], case .string(let bodyName)? = params[key] else {
                return "params.\(key) must be a string"
            }
            guard let header = name.first else { return "the Mcp-Name header is required for \(bodyMethod)" }
            guard let decoded = decode(header), Array(decoded.utf8) == Array(bodyName.utf8) else {
                return "the Mcp-Name header does not match the body's params.\(key)"
            }
        } else if !name.isEmpty {
            return "Mcp-Name is only for tools/call, prompts/get and resources/read"
        }
        return nil
    }

    /// The headers to send upstream for the message Tessera evaluated, on revision `version`.
    public static func derived(message: [String: JSONValue], version: String) -> [(name: String, value: String)] {
        var out: [(name: String, value: String)] = [("MCP-Protocol-Version", version)]
        guard case .string(let method)? = message["method"] else { return out }
        out.append(("Mcp-Method", encode(method)))
        if let key = nameBearing[method], case .object(let params)? = message["params"], case .string(let name)? = params[key] {
            out.append(("Mcp-Name", encode(name)))
        }
        return out
    }

    /// Plain printable ASCII without edge blanks passes verbatim; anything else (and anything
    /// that looks like the sentinel) is `=?base64?…?=`, as the official SDKs write it.
    public static func encode(_ value: String) -> String {
        let bytes = Array(value.utf8)
        let printable = bytes.allSatisfy { (0x20...0x7E).contains($0) }
        let trimmed = bytes.first != 0x20 && bytes.last != 0x20
        if printable, trimmed, !isSentinel(value) { return value }
        return "=?base64?" + Data(bytes).base64EncodedString() + "?="
    }

    /// The value a header carries: verbatim, or decoded from the sentinel; nil for a sentinel
    /// that is not canonical base64 of UTF-8 (so it never matches anything).
    public static func decode(_ value: String) -> String? {
        guard isSentinel(value) else { return value }
        let payload = String(value.dropFirst(9).dropLast(2))
        guard let data = Data(base64Encoded: payload), data.base64EncodedString() == payload,
            let text = String(data: data, encoding: .utf8), Array(text.utf8) == Array(data)
        else { return nil }
        return text
    }

    static func isSentinel(_ value: String) -> Bool {
        value.hasPrefix("=?base64?") && value.hasSuffix("?=") && value.utf8.count >= 11
    }
}
