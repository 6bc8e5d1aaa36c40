/// How a boxcar is run (`options.evaluations_semantic`, OpenID AuthZEN 1.0 "Evaluations
/// semantics"): every item, or stop at the first `false` (`&&`), or at the first `true` (`||`).
public enum AuthZENSemantic: String, Codable, Sendable, CaseIterable {
    case executeAll = "execute_all"
    case denyOnFirstDeny = "deny_on_first_deny"
    case permitOnFirstPermit = "permit_on_first_permit"
}

/// An Access Evaluations request (`POST /access/v1/evaluations`): top-level `subject`, `action`,
/// `resource` and `context` are defaults that an item's own member replaces (whole, not merged,
/// as the spec's "Default values" says), and `options.evaluations_semantic` picks the semantic.
public struct AuthZENEvaluationsRequest: Codable, Sendable, Equatable {
    /// One item of `evaluations`: each entity may be left to the top-level default.
    public struct Item: Codable, Sendable, Equatable {
        public var subject: AuthZENSubject?
        public var action: AuthZENAction?
        public var resource: AuthZENResource?
        public var context: [String: JSONValue]?

        public init(
            subject: AuthZENSubject? = nil, action: AuthZENAction? = nil, resource: AuthZENResource? = nil,
            context: [String: JSONValue]? = nil
        ) {
            self.subject = subject
            self.action = action
            self.resource = resource
            self.context = context
        }

        static func parse(_ members: [String: JSONValue], at path: String) throws(AuthZENRequestError) -> Item {
            Item(
                subject: try AuthZENSubject.parse(members["subject"], at: path + "subject"),
                action: try AuthZENAction.parse(members["action"], at: path + "action"),
                resource: try AuthZENResource.parse(members["resource"], at: path + "resource"),
                context: try AuthZENField.object(members["context"], path + "context"))
        }
    }

    public struct Options: Codable, Sendable, Equatable {
        public var evaluations_semantic: AuthZENSemantic?
        public init(evaluations_semantic: AuthZENSemantic? = nil) { self.evaluations_semantic = evaluations_semantic }
    }

    /// At most this many items in one request: each is a real decision with its own store
    /// transaction and signed receipt, so the bound keeps one request's work (and its answer)
    /// finite, whatever fits in 1 MiB.
    public static let maxEvaluations = 1000

    public var defaults: Item
    public var evaluations: [Item]
    public var options: Options?

    public init(defaults: Item = Item(), evaluations: [Item], options: Options? = nil) {
        self.defaults = defaults
        self.evaluations = evaluations
        self.options = options
    }

    public var semantic: AuthZENSemantic { options?.evaluations_semantic ?? .executeAll }

    /// True when the request is the spec's backwards-compatible form: no items, so it is one
    /// Access Evaluation and is answered as one.
    public var isSingle: Bool { evaluations.isEmpty }

    /// Reads a body: every item is checked (and its defaults resolved) before anything is
    /// evaluated, so a malformed item 50 never leaves items 1-49 decided and spent.
    public static func parse(_ body: [String: JSONValue]) throws(AuthZENRequestError) -> AuthZENEvaluationsRequest {
        let defaults = try Item.parse(body, at: "")
        var items: [Item] = []
        switch body["evaluations"] {
        case nil, .null?: break
        case .array(let values)?:
            guard values.count <= maxEvaluations else {
                throw AuthZENRequestError("evaluations holds \(values.count) items; at most \(maxEvaluations) are evaluated in one request")
            }
            items.reserveCapacity(values.count)
            for (index, value) in values.enumerated() {
                let path = "evaluations[\(index)]"
                items.append(try Item.parse(try AuthZENField.requiredObject(value, path), at: path + "."))
            }
        default: throw AuthZENRequestError("evaluations must be an array")
        }
        var options: Options?
        if let members = try AuthZENField.object(body["options"], "options") {
            options = Options()
            switch members["evaluations_semantic"] {
            case nil, .null?: break
            case .string(let name)?:
                guard let semantic = AuthZENSemantic(rawValue: name) else {
                    throw AuthZENRequestError(
                        "options.evaluations_semantic must be one of \(AuthZENSemantic.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                options?.evaluations_semantic = semantic
            default: throw AuthZENRequestError("options.evaluations_semantic must be a string")
            }
        }
        return AuthZENEvaluationsRequest(defaults: defaults, evaluations: items, options: options)
    }

    /// The items with the defaults filled in, in request order; an entity missing from an item
    /// and from the top level is a 400 naming the item.
    public func resolved() throws(AuthZENRequestError) -> [AuthZENEvaluationRequest] {
        var out: [AuthZENEvaluationRequest] = []
        out.reserveCapacity(evaluations.count)
        for (index, item) in evaluations.enumerated() {
            func missing(_ name: String) -> AuthZENRequestError {
                AuthZENRequestError("evaluations[\(index)].\(name) is required (the request has no top-level \(name) to default to)")
            }
            guard let subject = item.subject ?? defaults.subject else { throw missing("subject") }
            guard let action = item.action ?? defaults.action else { throw missing("action") }
            guard let resource = item.resource ?? defaults.resource else { throw missing("resource") }
            out.append(AuthZENEvaluationRequest(subject: subject, action: action, resource: resource, context: item.context ?? defaults.context))
        }
        return out
    }
}
