/// Claims read straight from the strict parser's value, without `JSONDecoder`.
///
/// Why: after the signature, `JSONDecoder` (a second parse of the payload, then keyed decoding
/// through existential containers) was the largest cost of verifying a badge — the token every
/// service checks on every request. Types on that hot path adopt this; the verifier uses it when
/// present and `JSONDecoder` otherwise. The rules are JSONDecoder's: a missing or `null` optional
/// member is nil, a member of the wrong type is an error, unknown members are ignored.
public protocol StrictClaims: JWSClaims {
    init(strict object: [String: JSONValue]) throws(JWSError)
}

extension Dictionary where Key == String, Value == JSONValue {
    func required(_ name: String) throws(JWSError) -> String {
        guard case .string(let value)? = self[name] else { throw .malformed("claims: \(name)") }
        return value
    }

    func optionalString(_ name: String) throws(JWSError) -> String? {
        switch self[name] {
        case nil, .null?: return nil
        case .string(let value)?: return value
        default: throw .malformed("claims: \(name)")
        }
    }

    /// Whole seconds, as `JSONDecoder` reads an `Int64`: integral and in range, or an error.
    func optionalInt64(_ name: String) throws(JWSError) -> Int64? {
        switch self[name] {
        case nil, .null?: return nil
        case .number(let value)?:
            guard let integer = value.int else { throw .malformed("claims: \(name)") }
            return Int64(integer)
        default: throw .malformed("claims: \(name)")
        }
    }

    /// `aud`: one string or an array of strings.
    func optionalAudience(_ name: String) throws(JWSError) -> Audience? {
        switch self[name] {
        case nil, .null?: return nil
        case .string(let value)?: return Audience([value])
        case .array(let items)?:
            var values: [String] = []
            values.reserveCapacity(items.count)
            for item in items {
                guard case .string(let value) = item else { throw .malformed("claims: \(name)") }
                values.append(value)
            }
            return Audience(values)
        default: throw .malformed("claims: \(name)")
        }
    }

    func optionalObject(_ name: String) throws(JWSError) -> [String: JSONValue]? {
        switch self[name] {
        case nil, .null?: return nil
        case .object(let value)?: return value
        default: throw .malformed("claims: \(name)")
        }
    }
}

extension ReceiptClaims: StrictClaims {
    /// Receipts are verified by the million (`tessera receipts verify`, the console, auditors):
    /// read straight from the strict parser like badges.
    public init(strict object: [String: JSONValue]) throws(JWSError) {
        guard case .number(let seqNumber)? = object["seq"], let seq = seqNumber.int else { throw .malformed("claims: seq") }
        var violations: [ToolPolicy.Violation]?
        switch object["violations"] {
        case nil, .null?: violations = nil
        case .array(let items)?:
            violations = []
            for item in items {
                guard case .object(let v) = item else { throw .malformed("claims: violations") }
                violations!.append(ToolPolicy.Violation(
                    argument: try v.required("argument"), constraint: try v.required("constraint"), detail: try v.required("detail")))
            }
        default: throw .malformed("claims: violations")
        }
        self.init(
            iss: try object.optionalString("iss"), iat: try object.optionalInt64("iat"), jti: try object.required("jti"),
            grantID: try object.required("grant_id"), sessionID: try object.required("session_id"), seq: seq,
            tool: try object.required("tool"), decision: try object.required("decision"), reason: try object.required("reason"),
            argumentsDigest: try object.required("arguments_digest"), prev: try object.required("prev"), violations: violations,
            approvalID: try object.optionalString("approval_id"))
        self.evidence_proof_ref = object["evidence_proof_ref"]
    }

    init(
        iss: String?, iat: Int64?, jti: String, grantID: String, sessionID: String, seq: Int, tool: String, decision: String,
        reason: String, argumentsDigest: String, prev: String, violations: [ToolPolicy.Violation]?, approvalID: String?
    ) {
        self.iss = iss
        self.iat = iat
        self.jti = jti
        self.grant_id = grantID
        self.session_id = sessionID
        self.seq = seq
        self.tool = tool
        self.decision = decision
        self.reason = reason
        self.arguments_digest = argumentsDigest
        self.prev = prev
        self.violations = violations
        self.approval_id = approvalID
    }
}
