import Hummingbird
import TesseraCore

/// What the governance operations refuse, in their own terms. How each becomes HTTP (status and
/// the seed's `{"error":"…"}` body) is decided in ``ErrorMapping``, not here.
public enum GovernanceError: Error, Equatable, Sendable {
    /// Any token or proof that does not verify; never says which check failed.
    case invalidToken
    /// The passport, or one it was delegated from, is revoked.
    case passportRevoked
    /// No such session, or one the caller may not see (the two look the same).
    case unknownSession
    /// A named thing that does not exist (or is out of the caller's scope): 404 with the code.
    case notFound(String)
    case passportAlreadyUsed
    /// A passport proof of possession presented a second time (proofs are single use, on every
    /// node): named, so an honest client that retried with the same proof knows to sign anew.
    case proofReplayed
    case replayCacheUnavailable
    case sessionNotEnded
    /// Bad input: the message names the field.
    case invalid(String)
    case forbidden(String)
    case conflict(String)
    /// The session was denied too often lately (round-three finding 12): retry after the
    /// given seconds.
    case tooManyDenials(retryAfter: Int)
    /// The store did not answer.
    case unavailable
    /// An audit sink that fails closed cannot write: nothing is decided (docs/audit.md).
    case auditUnavailable
    /// An AAT chain, call or proof that failed draft-01 §7: the link and step are named (an AAT
    /// is not a secret of ours, and a precise reason is what its holder needs to fix it).
    case aatInvalid(AATFailure)
    /// A key-bound AAT (or a call on its session) presented without proof of possession.
    case aatProofRequired(String)
    /// A mission declaration that could not be resolved, verified or honoured.
    case missionRefused(MissionDeclaration.Refusal)
}

/// Puts every error of the governance routes into the flat shape.
struct FlatErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            throw ErrorMapping.apiError(for: error, shape: .flat)
        }
    }
}
