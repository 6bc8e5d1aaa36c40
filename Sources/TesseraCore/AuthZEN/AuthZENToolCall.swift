/// What an AuthZEN evaluation asks of Tessera: one tool call by one session (docs/authzen.md,
/// the mapping table).
///
/// - `subject {type:"session", id:<session id>}`, or `{type:"passport", id:<jti>}` for the
///   session that passport started;
/// - `action {name:<tool>}` and `resource {type:"tool_call", id:<tool>,
///   properties:{arguments:{…}}}`: the tool is named twice, so the two must agree (a PEP that
///   put one tool in `action` and another in `resource` has a bug Tessera must not guess about);
/// - `context {request_id?}`: idempotency exactly like `/evaluate`'s `request_id`.
///
/// Anything else in `properties` or `context` is ignored, as the spec requires of receivers.
public struct AuthZENToolCall: Sendable, Equatable {
    public enum Subject: Sendable, Hashable {
        case session(String)
        case passport(jti: String)
    }

    public static let resourceType = "tool_call"
    /// `/evaluate`'s bound on `request_id`.
    public static let maxRequestIDBytes = 256

    public var subject: Subject
    public var tool: String
    public var arguments: [String: JSONValue]
    public var requestID: String?

    /// - Parameter path: the request's prefix for field names (`""`, or `evaluations[3].`).
    public init(_ request: AuthZENEvaluationRequest, at path: String = "") throws(AuthZENRequestError) {
        switch request.subject.type {
        case "session": subject = .session(request.subject.id)
        case "passport": subject = .passport(jti: request.subject.id)
        default: throw AuthZENRequestError("\(path)subject.type must be \"session\" or \"passport\"")
        }
        guard request.resource.type == Self.resourceType else {
            throw AuthZENRequestError("\(path)resource.type must be \"\(Self.resourceType)\"")
        }
        guard request.action.name == request.resource.id else {
            throw AuthZENRequestError("\(path)action.name and \(path)resource.id must name the same tool")
        }
        tool = request.action.name
        arguments = try AuthZENField.object(request.resource.properties?["arguments"], "\(path)resource.properties.arguments") ?? [:]
        requestID = try Self.requestID(request.context, path)
    }

    static func requestID(_ context: [String: JSONValue]?, _ path: String) throws(AuthZENRequestError) -> String? {
        switch context?["request_id"] {
        case nil, .null?: return nil
        case .string(let id)? where (1...maxRequestIDBytes).contains(id.utf8.count): return id
        default: throw AuthZENRequestError("\(path)context.request_id must be a string of 1-\(maxRequestIDBytes) bytes")
        }
    }

    /// The items of a boxcar as tool calls, checked before any is evaluated. A top-level
    /// `context.request_id` would be every item's default, one id for many different calls, so
    /// it is refused: each item gives its own. The same id twice for one subject is refused too
    /// (the second would only replay the first, or conflict with it).
    public static func calls(_ request: AuthZENEvaluationsRequest) throws(AuthZENRequestError) -> [AuthZENToolCall] {
        if let context = request.defaults.context, context["request_id"].map({ $0 != .null }) == true {
            throw AuthZENRequestError("context.request_id cannot be a default for every evaluation: give it in each item's context")
        }
        let items = try request.resolved()
        var calls: [AuthZENToolCall] = []
        calls.reserveCapacity(items.count)
        var seen: [Subject: [String: Int]] = [:]
        for (index, item) in items.enumerated() {
            let call = try AuthZENToolCall(item, at: "evaluations[\(index)].")
            if let id = call.requestID {
                if let first = seen[call.subject]?[id] {
                    throw AuthZENRequestError("evaluations[\(index)].context.request_id repeats evaluations[\(first)]'s for the same subject")
                }
                seen[call.subject, default: [:]][id] = index
            }
            calls.append(call)
        }
        return calls
    }
}
