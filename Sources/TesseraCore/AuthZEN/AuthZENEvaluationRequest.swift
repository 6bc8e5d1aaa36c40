/// One Access Evaluation request (`POST /access/v1/evaluation`): `subject`, `action` and
/// `resource` REQUIRED, `context` OPTIONAL.
public struct AuthZENEvaluationRequest: Codable, Sendable, Equatable {
    public var subject: AuthZENSubject
    public var action: AuthZENAction
    public var resource: AuthZENResource
    public var context: [String: JSONValue]?

    public init(subject: AuthZENSubject, action: AuthZENAction, resource: AuthZENResource, context: [String: JSONValue]? = nil) {
        self.subject = subject
        self.action = action
        self.resource = resource
        self.context = context
    }

    /// A request body, read from ``StrictJSON``'s values. Unknown members are ignored, as the
    /// spec requires; a missing entity is a 400 naming it.
    public static func parse(_ body: [String: JSONValue]) throws(AuthZENRequestError) -> AuthZENEvaluationRequest {
        guard let subject = try AuthZENSubject.parse(body["subject"], at: "subject") else { throw AuthZENRequestError("subject is required") }
        guard let action = try AuthZENAction.parse(body["action"], at: "action") else { throw AuthZENRequestError("action is required") }
        guard let resource = try AuthZENResource.parse(body["resource"], at: "resource") else {
            throw AuthZENRequestError("resource is required")
        }
        return AuthZENEvaluationRequest(
            subject: subject, action: action, resource: resource, context: try AuthZENField.object(body["context"], "context"))
    }
}
