/// MCP 2026-07-28's `Mcp-Param-{Name}` headers: a server marks tool parameters with
/// `x-mcp-header: Name` in their input schema, and clients mirror those arguments into headers
/// that routers may act on. The gateway never forwards a client's copy (a router would route on a
/// value Tessera did not evaluate): it learns each tool's declarations from the `tools/list`
/// answers it relays, and derives the headers from the arguments it evaluated.
public enum MCPParamHeaders {
    public struct Declaration: Sendable, Equatable {
        /// The header is `Mcp-Param-` + this name.
        public var name: String
        /// The argument, as a path of property names from the arguments object.
        public var path: [String]
    }

    static let maximumDepth = 8
    static let maximumPerTool = 64

    /// Tool name → its declarations, from a `tools/list` answer (empty when it has none).
    public static func declarations(in message: [String: JSONValue]) -> [String: [Declaration]] {
        guard case .object(let result)? = message["result"], case .array(let tools)? = result["tools"] else { return [:] }
        var out: [String: [Declaration]] = [:]
        for case .object(let tool) in tools {
            guard case .string(let name)? = tool["name"], case .object(let schema)? = tool["inputSchema"] else { continue }
            var found: [Declaration] = []
            walk(schema, path: [], into: &found)
            if !found.isEmpty { out[name] = Array(found.prefix(maximumPerTool)) }
        }
        return out
    }

    static func walk(_ schema: [String: JSONValue], path: [String], into found: inout [Declaration]) {
        guard path.count < maximumDepth, found.count < maximumPerTool, case .object(let properties)? = schema["properties"] else { return }
        for key in properties.keys.sorted() {
            guard case .object(let property)? = properties[key] else { continue }
            if case .string(let header)? = property["x-mcp-header"], isToken(header) {
                found.append(Declaration(name: header, path: path + [key]))
            }
            walk(property, path: path + [key], into: &found)
        }
    }

    /// RFC 9110 token characters: a header name suffix that cannot smuggle anything.
    static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.utf8.allSatisfy { b in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
                    || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".")
            }
    }

    /// The headers for a call with `arguments` (omitted where the value is absent or null, as the
    /// revision says; only strings, booleans and integers are mirrored).
    public static func headers(for arguments: [String: JSONValue], _ declarations: [Declaration]) -> [(name: String, value: String)] {
        var out: [(name: String, value: String)] = []
        for declaration in declarations {
            var current: JSONValue = .object(arguments)
            for key in declaration.path {
                guard case .object(let object) = current, let next = object[key] else { current = .null; break }
                current = next
            }
            let value: String? =
                switch current {
                case .string(let s): MCPRoutingHeaders.encode(s)
                case .bool(let b): b ? "true" : "false"
                case .number(let n) where n.int != nil: n.canonical
                default: nil
                }
            if let value { out.append(("Mcp-Param-" + declaration.name, value)) }
        }
        return out
    }
}
