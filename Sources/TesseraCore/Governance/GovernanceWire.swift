import Foundation

/// The governance HTTP bodies (seed 004's shapes), shared by the server, the SDK, the CLI and the
/// MCP gateway so that nobody builds this JSON by hand.
public enum GovernanceWire {
    public struct IssueResponse: Codable, Sendable {
        public var token: String
        public var claims: PassportClaims
        public init(token: String, claims: PassportClaims) {
            self.token = token
            self.claims = claims
        }
    }

    public struct VerifyRequest: Codable, Sendable {
        public var token: String
        public init(token: String) { self.token = token }
    }

    public struct VerifyResponse: Codable, Sendable {
        public var valid: Bool
        public var claims: PassportClaims
        public init(valid: Bool, claims: PassportClaims) {
            self.valid = valid
            self.claims = claims
        }
    }

    public struct StartRequest: Codable, Sendable {
        public var token: String
        public var proof: String?
        /// `passport` (the default) or `aat`.
        public var token_type: String?
        public init(token: String, proof: String? = nil, token_type: String? = nil) {
            self.token = token
            self.proof = proof
            self.token_type = token_type
        }
    }

    public struct StartResponse: Codable, Sendable {
        public var session_id: String
        public var claims: PassportClaims
        public var started_at: String
        public var calls_remaining: Int?
        public init(session_id: String, claims: PassportClaims, started_at: String, calls_remaining: Int?) {
            self.session_id = session_id
            self.claims = claims
            self.started_at = started_at
            self.calls_remaining = calls_remaining
        }
    }

    public struct EvaluateRequest: Codable, Sendable {
        public var session_id: String
        public var tool_name: String
        public var arguments: [String: JSONValue]
        public var request_id: String?
        /// For an AAT session: the holder's proof of possession for this call (docs/aat.md).
        public var pop: String?
        public init(session_id: String, tool_name: String, arguments: [String: JSONValue], request_id: String? = nil, pop: String? = nil) {
            self.session_id = session_id
            self.tool_name = tool_name
            self.arguments = arguments
            self.request_id = request_id
            self.pop = pop
        }
    }

    public struct EvaluationResult: Sendable, Codable, Equatable {
        public var decision: String
        public var reason: String?
        public var calls_used: Int
        public var calls_remaining: Int?
        public var receipt_id: String?
        /// For an argument DENY: `[{argument, constraint, detail}]`.
        public var violations: [ToolPolicy.Violation]?
        /// For APPROVAL_REQUIRED (and the PERMIT that used a granted approval).
        public var approval_id: String?

        public init(
            decision: String, reason: String?, calls_used: Int, calls_remaining: Int?, receipt_id: String? = nil,
            violations: [ToolPolicy.Violation]? = nil, approval_id: String? = nil
        ) {
            self.decision = decision
            self.reason = reason
            self.calls_used = calls_used
            self.calls_remaining = calls_remaining
            self.receipt_id = receipt_id
            self.violations = violations
            self.approval_id = approval_id
        }
    }

    public struct DelegationResult: Sendable, Codable {
        public var child_token: String
        public var child_claims: PassportClaims
        public var parent_jti: String
        public var parent_calls_remaining_at_delegation: Int?
        public init(child_token: String, child_claims: PassportClaims, parent_jti: String, parent_calls_remaining_at_delegation: Int?) {
            self.child_token = child_token
            self.child_claims = child_claims
            self.parent_jti = parent_jti
            self.parent_calls_remaining_at_delegation = parent_calls_remaining_at_delegation
        }
    }

    public struct EndRequest: Codable, Sendable {
        public var session_id: String
        /// For an AAT session: the holder's proof of possession.
        public var pop: String?
        public init(session_id: String, pop: String? = nil) {
            self.session_id = session_id
            self.pop = pop
        }
    }

    /// `/end` and `/attest` (Ardur's shape).
    public struct SessionRequest: Codable, Sendable {
        public var session: String
        public var pop: String?
        public init(session: String, pop: String? = nil) {
            self.session = session
            self.pop = pop
        }
    }

    /// `/revoke`: a session, or a passport by `jti` (and everything delegated from it).
    public struct RevokeRequest: Codable, Sendable {
        public var session_id: String?
        public var jti: String?
        public init(session_id: String? = nil, jti: String? = nil) {
            self.session_id = session_id
            self.jti = jti
        }
    }

    public struct EndResult: Sendable, Codable {
        public var attestation_token: String
        public var summary: AttestationClaims.Summary
        public var receipts_head: String
        public var receipts_count: Int
        public init(attestation_token: String, summary: AttestationClaims.Summary, receipts_head: String, receipts_count: Int) {
            self.attestation_token = attestation_token
            self.summary = summary
            self.receipts_head = receipts_head
            self.receipts_count = receipts_count
        }
    }

    /// `{"error":"…"}`.
    public struct ErrorBody: Codable, Sendable {
        public var error: String
    }
}
