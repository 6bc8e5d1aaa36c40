import Foundation

/// One argument constraint of an AAT (draft-01 §3.4): the nine core types, each with exactly its
/// own members. An unknown `constraint_type` — including draft-00's `pattern`, `regex`, `cel`
/// and `not`, which draft-01 dropped from the core — is refused (fail closed, §3.4/§8.8).
///
/// Checking is Tessera's constraint engine (``tessera``), so an AAT session decides exactly
/// like a passport carrying the same constraints; "no wider than the parent" is the draft's
/// table of allowed pairs (§4.5), with the value-level proofs delegated to
/// ``ArgumentConstraint/implies(_:)``.
public indirect enum AATConstraint: Sendable, Equatable {
    case exact(JSONValue)
    case range(min: JSONNumber?, max: JSONNumber?, minInclusive: Bool, maxInclusive: Bool)
    case oneOf([JSONValue])
    case notOneOf([JSONValue])
    case contains([JSONValue])
    case subset([JSONValue])
    case wildcard
    case all([AATConstraint])
    case any([AATConstraint])

    public static let maximumDepth = 32
    public static let maximumValues = ArgumentConstraint.maximumValues
    public static let maximumMembers = ArgumentConstraint.maximumMembers

    public var type: String {
        switch self {
        case .exact: "exact"
        case .range: "range"
        case .oneOf: "one_of"
        case .notOneOf: "not_one_of"
        case .contains: "contains"
        case .subset: "subset"
        case .wildcard: "wildcard"
        case .all: "all"
        case .any: "any"
        }
    }

    /// Nodes in this tree (itself included).
    public var nodeCount: Int {
        switch self {
        case .all(let c), .any(let c): return c.reduce(1) { $0 + $1.nodeCount }
        default: return 1
        }
    }

    /// Parses `{"constraint_type": T, …}`; every error names its path.
    public static func parse(_ value: JSONValue, path: String, depth: Int = 1) throws(AATFailure.Detail) -> AATConstraint {
        guard depth <= maximumDepth else { throw .init("\(path) nests constraints deeper than \(maximumDepth)") }
        guard case .object(let object) = value, case .string(let type)? = object["constraint_type"] else {
            throw .init("\(path) must be an object with a string constraint_type")
        }
        func members(_ allowed: Set<String>) throws(AATFailure.Detail) {
            if let extra = object.keys.sorted().first(where: { $0 != "constraint_type" && !allowed.contains($0) }) {
                throw .init("\(path).\(extra) is not a member of \(type)")
            }
        }
        func list(_ name: String) throws(AATFailure.Detail) -> [JSONValue] {
            try members([name])
            guard case .array(let items)? = object[name], !items.isEmpty, items.count <= maximumValues else {
                throw .init("\(path).\(name) must be a non-empty array of at most \(maximumValues) values")
            }
            for (i, item) in items.enumerated() where !item.isScalar {
                throw .init("\(path).\(name)[\(i)] must be a scalar (string, number, boolean or null)")
            }
            return items
        }
        func clauses() throws(AATFailure.Detail) -> [AATConstraint] {
            try members(["constraints"])
            guard case .array(let items)? = object["constraints"], !items.isEmpty, items.count <= maximumMembers else {
                throw .init("\(path).constraints must be a non-empty array of at most \(maximumMembers) constraints")
            }
            var out: [AATConstraint] = []
            for (i, item) in items.enumerated() { out.append(try parse(item, path: "\(path).constraints[\(i)]", depth: depth + 1)) }
            return out
        }
        switch type {
        case "exact":
            try members(["value"])
            guard let v = object["value"], v.isScalar else { throw .init("\(path).value must be a scalar") }
            return .exact(v)
        case "range":
            try members(["min", "max", "min_inclusive", "max_inclusive"])
            func bound(_ name: String) throws(AATFailure.Detail) -> JSONNumber? {
                guard let v = object[name] else { return nil }
                guard case .number(let n) = v, n.significantDigits <= ArgumentConstraint.maximumSignificantDigits, n.survivesDecimal else {
                    throw .init("\(path).\(name) must be a number of at most \(ArgumentConstraint.maximumSignificantDigits) significant digits")
                }
                return n
            }
            func flag(_ name: String) throws(AATFailure.Detail) -> Bool {
                guard let v = object[name] else { return true }
                guard case .bool(let b) = v else { throw .init("\(path).\(name) must be a boolean") }
                return b
            }
            let lo = try bound("min"), hi = try bound("max")
            if let lo, let hi, hi < lo { throw .init("\(path).min is greater than max") }
            return .range(min: lo, max: hi, minInclusive: try flag("min_inclusive"), maxInclusive: try flag("max_inclusive"))
        case "one_of": return .oneOf(try list("values"))
        case "not_one_of": return .notOneOf(try list("excluded"))
        case "contains": return .contains(try list("required"))
        case "subset": return .subset(try list("allowed"))
        case "wildcard":
            try members([])
            return .wildcard
        case "all": return .all(try clauses())
        case "any": return .any(try clauses())
        default:
            throw .init("\(path).constraint_type \(type) is not a draft-01 core type (unknown types are refused)")
        }
    }

    /// The same constraint in Tessera's engine.
    public var tessera: ArgumentConstraint {
        func canonical(_ values: [JSONValue]) -> Set<String> { Set(values.map(CanonicalJSON.serialize)) }
        switch self {
        case .exact(let v): return .exact(v)
        case .range(let lo, let hi, let loIn, let hiIn):
            return .range(.init(min: lo, max: hi, exclusiveMin: lo != nil && !loIn, exclusiveMax: hi != nil && !hiIn))
        case .oneOf(let v): return .oneOf(canonical(v))
        case .notOneOf(let v): return .notOneOf(canonical(v))
        case .contains(let v): return .contains(canonical(v))
        case .subset(let v): return .subset(canonical(v))
        case .wildcard: return .wildcard
        case .all(let c): return .all(c.map(\.tessera))
        case .any(let c): return .any(c.map(\.tessera))
        }
    }

    /// The constraint as a mission's `tools` entry writes it (what an AAT session's passport
    /// carries, parsed again by ``ToolPolicy`` like any other).
    public var tesseraJSON: JSONValue {
        func flag(_ b: Bool) -> JSONValue { .bool(b) }
        switch self {
        case .exact(let v): return .object(["exact": v])
        case .range(let lo, let hi, let loIn, let hiIn):
            // A range with no bound is "any number"; Tessera's `range` needs a bound.
            guard lo != nil || hi != nil else {
                return .object(["any": .array([
                    .object(["range": .object(["min": .number(0)])]), .object(["range": .object(["max": .number(0)])]),
                ])])
            }
            var body: [String: JSONValue] = [:]
            if let lo { body["min"] = .number(lo); body["exclusive_min"] = flag(!loIn) }
            if let hi { body["max"] = .number(hi); body["exclusive_max"] = flag(!hiIn) }
            return .object(["range": .object(body)])
        case .oneOf(let v): return .object(["one_of": .array(v)])
        case .notOneOf(let v): return .object(["not_one_of": .array(v)])
        case .contains(let v): return .object(["contains": .array(v)])
        case .subset(let v): return .object(["subset": .array(v)])
        case .wildcard: return .object(["wildcard": .object([:])])
        case .all(let c): return .object(["all": .array(c.map(\.tesseraJSON))])
        case .any(let c): return .object(["any": .array(c.map(\.tesseraJSON))])
        }
    }

    /// Whether this (derived) constraint is provably no wider than `parent`: only the pairs
    /// draft-01 §4.5 lists; every other pair is refused even where it might be sound.
    public func subsumes(_ parent: AATConstraint) -> Bool {
        let budget = SubsumptionBudget(steps: SubsumptionBudget.defaultSteps)
        return subsumes(parent, budget: budget) && !budget.exhausted
    }

    /// The same within a shared step budget: `all` against `all` compares clause pairs
    /// recursively, so a token full of wide trees could otherwise buy seconds of CPU on an
    /// anonymous request. Past the budget the answer is no (fail closed).
    public func subsumes(_ parent: AATConstraint, budget: SubsumptionBudget) -> Bool {
        guard budget.spend() else { return false }
        switch (self, parent) {
        case (_, .wildcard): return true
        case (.wildcard, _): return false
        // The set pairs compare canonical forms directly (what `implies` would conclude, without
        // re-parsing every value); the numeric ones are `implies`'s exact decimal comparisons.
        case (.oneOf(let c), .oneOf(let p)), (.subset(let c), .subset(let p)):
            return Set(c.map(CanonicalJSON.serialize)).isSubset(of: p.map(CanonicalJSON.serialize))
        case (.notOneOf(let c), .notOneOf(let p)), (.contains(let c), .contains(let p)):
            return Set(p.map(CanonicalJSON.serialize)).isSubset(of: c.map(CanonicalJSON.serialize))
        case (.exact(let v), .oneOf(let p)):
            return p.map(CanonicalJSON.serialize).contains(CanonicalJSON.serialize(v))
        case (.exact, .exact), (.exact, .range), (.range, .range):
            return tessera.implies(parent.tessera)
        case (.all(let derived), .all(let required)):
            return Self.assign(required, to: derived, budget: budget)
        case (.any(let derived), .any(let allowed)):
            return !derived.isEmpty && derived.allSatisfy { d in allowed.contains { d.subsumes($0, budget: budget) } }
        default:
            return false
        }
    }

    /// A one-to-one assignment of a distinct derived clause to every parent clause (§4.5 `all`),
    /// by augmenting paths (Kuhn): polynomial, so a hostile token cannot make it exponential.
    static func assign(_ parents: [AATConstraint], to derived: [AATConstraint], budget: SubsumptionBudget) -> Bool {
        guard parents.count <= derived.count else { return false }
        let fits = parents.map { p in derived.indices.filter { derived[$0].subsumes(p, budget: budget) } }
        var owner = [Int?](repeating: nil, count: derived.count)
        func augment(_ p: Int, _ seen: inout [Bool]) -> Bool {
            for d in fits[p] where !seen[d] {
                seen[d] = true
                if owner[d] == nil || augment(owner[d]!, &seen) {
                    owner[d] = p
                    return true
                }
            }
            return false
        }
        for p in parents.indices {
            var seen = [Bool](repeating: false, count: derived.count)
            guard augment(p, &seen) else { return false }
        }
        return true
    }
}

/// Steps left for one chain's subsumption checks (shared by every pair of every link).
public final class SubsumptionBudget: @unchecked Sendable {
    public static let defaultSteps = 100_000
    var remaining: Int
    public init(steps: Int) { remaining = steps }
    public var exhausted: Bool { remaining < 0 }
    func spend() -> Bool {
        remaining -= 1
        return remaining >= 0
    }
}

extension JSONValue {
    var isScalar: Bool {
        switch self {
        case .array, .object: false
        default: true
        }
    }
}
