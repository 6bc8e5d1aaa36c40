/// The error codes the registry answers as CapiscIO RFC-002 / RFC-003 show them
/// (`{"error":"code","message":"…"}`). Services name a code; the HTTP status of each is decided in
/// one place, the server's `ErrorMapping`, from its ``Category``.
public enum RegistryErrorCode: String, Sendable, CaseIterable {
    // The request itself is malformed.
    case invalidRequest = "invalid_request"
    case invalidDID = "invalid_did"
    case invalidMode = "invalid_mode"
    case invalidProof = "invalid_proof"
    case invalidChallengeID = "invalid_challenge_id"
    case missingCID = "missing_cid"
    case missingExp = "missing_exp"
    // No acceptable credential.
    case unauthorized
    // Authenticated, but refused.
    case agentDisabled = "agent_disabled"
    case agentNotOwned = "agent_not_owned"
    case audienceMismatch = "audience_mismatch"
    case challengeExpired = "challenge_expired"
    case challengeUsed = "challenge_used"
    case cidMismatch = "cid_mismatch"
    case expOutsideChallengeWindow = "exp_outside_challenge_window"
    case expTooLong = "exp_too_long"
    case htuMismatch = "htu_mismatch"
    case iatInvalid = "iat_invalid"
    case keyNotInAuthentication = "key_not_in_authentication"
    case kidNotFound = "kid_not_found"
    case proofExpired = "proof_expired"
    case proofVerificationFailed = "proof_verification_failed"
    case subjectMismatch = "subject_mismatch"
    // Nothing by that name.
    case agentNotFound = "agent_not_found"
    case badgeNotFound = "badge_not_found"
    case challengeNotFound = "challenge_not_found"
    // Too many requests.
    case rateLimitExceeded = "rate_limit_exceeded"
    // A document fetched for the request is unusable.
    case didDocumentInvalid = "did_document_invalid"
    // The registry cannot answer now.
    case unavailable

    /// What kind of failure a code is; the server maps each kind to one HTTP status.
    public enum Category: Sendable {
        case malformed, unauthenticated, refused, notFound, rateLimited, upstream, unavailable
    }

    public var category: Category {
        switch self {
        case .invalidRequest, .invalidDID, .invalidMode, .invalidProof, .invalidChallengeID, .missingCID, .missingExp: .malformed
        case .unauthorized: .unauthenticated
        case .agentDisabled, .agentNotOwned, .audienceMismatch, .challengeExpired, .challengeUsed, .cidMismatch, .expOutsideChallengeWindow,
            .expTooLong, .htuMismatch, .iatInvalid, .keyNotInAuthentication, .kidNotFound, .proofExpired, .proofVerificationFailed,
            .subjectMismatch:
            .refused
        case .agentNotFound, .badgeNotFound, .challengeNotFound: .notFound
        case .rateLimitExceeded: .rateLimited
        case .didDocumentInvalid: .upstream
        case .unavailable: .unavailable
        }
    }
}
