/// The Policy Decision Point metadata (`GET /.well-known/authzen-configuration`, OpenID AuthZEN
/// 1.0 "Policy Decision Point Metadata"). Only the endpoints Tessera serves are listed: the spec
/// says an absent endpoint tells the PEP the PDP does not offer that API (no search APIs here).
public struct AuthZENMetadata: Codable, Sendable, Equatable {
    public var policy_decision_point: String
    public var access_evaluation_endpoint: String
    public var access_evaluations_endpoint: String

    public static let evaluationPath = "/access/v1/evaluation"
    public static let evaluationsPath = "/access/v1/evaluations"
    public static let wellKnownPath = "/.well-known/authzen-configuration"

    /// The metadata of the PDP at `origin` (the server's public origin, never the request's
    /// `Host`, so a client cannot make the document name another PDP).
    public init(origin: String) {
        self.policy_decision_point = origin
        self.access_evaluation_endpoint = origin + Self.evaluationPath
        self.access_evaluations_endpoint = origin + Self.evaluationsPath
    }
}
