/// A request body the AuthZEN routes refuse before evaluating anything: the message names the
/// field (`evaluations[3].resource.id`), so a PEP's author can see what to fix. The server
/// answers it as 400 (OpenID AuthZEN Authorization API 1.0, "Error Responses").
public struct AuthZENRequestError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reading AuthZEN members out of strictly parsed JSON, every failure naming its path.
///
/// The spec says a receiver MUST ignore unknown members, and that a null SHOULD be omitted, so an
/// optional member that is null reads as absent; a required one that is null is missing.
enum AuthZENField {
    /// The longest string a name or identifier may be: the same bound `/evaluate` puts on
    /// `session_id` and `tool_name`, so nothing `/evaluate` accepts is refused here.
    static let maxStringBytes = 16 * 1024

    static func object(_ value: JSONValue?, _ path: String) throws(AuthZENRequestError) -> [String: JSONValue]? {
        switch value {
        case nil, .null?: return nil
        case .object(let members)?: return members
        default: throw AuthZENRequestError("\(path) must be a JSON object")
        }
    }

    static func requiredObject(_ value: JSONValue?, _ path: String) throws(AuthZENRequestError) -> [String: JSONValue] {
        guard let members = try object(value, path) else { throw AuthZENRequestError("\(path) is required") }
        return members
    }

    static func string(_ value: JSONValue?, _ path: String) throws(AuthZENRequestError) -> String {
        guard let value, value != .null else { throw AuthZENRequestError("\(path) is required") }
        guard case .string(let text) = value, !text.isEmpty, text.utf8.count <= maxStringBytes else {
            throw AuthZENRequestError("\(path) must be a non-empty string of at most \(maxStringBytes) bytes")
        }
        return text
    }
}
