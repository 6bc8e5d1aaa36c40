import Foundation
import Logging
import TesseraCore
import TesseraStore

/// Passports, sessions, evaluation, delegation, receipts and attestation: the governance
/// operations, independent of HTTP. Every state change goes through the store's
/// `mutateSession`, with a pure plan built from the core rules.
public struct GovernanceService: Sendable {
    let store: any TesseraStore
    let keys: SigningKeyService
    let clock: any TesseraClock
    let issuer: String
    let logger: Logger

    public init(store: any TesseraStore, keys: SigningKeyService, clock: any TesseraClock, issuer: String, logger: Logger) {
        self.store = store
        self.keys = keys
        self.clock = clock
        self.issuer = issuer
        self.logger = logger
    }

    public static let defaultTTL = 900
    public static let maxTTL = 86_400

    var passportPolicy: JWSPolicy { JWSPolicy(type: PassportClaims.type, issuers: [issuer]) }

    /// Signs a new passport for `mission` in `workspace`.
    public func issue(_ mission: Mission, workspace: String, ttl: Int, jkt: String?) async throws -> (String, PassportClaims) {
        let claims = PassportClaims(
            mission: mission, issuer: issuer, workspace: workspace, issuedAt: clock.now().unixSeconds, ttl: Int64(ttl), jkt: jkt)
        return (try await keys.sign(claims, type: PassportClaims.type), claims)
    }

    /// Verifies a passport: 401 `invalid_token` for anything that does not verify, 403
    /// `passport_revoked` for a revoked one (or one delegated from a revoked one).
    public func verify(_ token: String) async throws -> PassportClaims {
        let claims: PassportClaims
        do {
            claims = try await keys.verify(token, as: PassportClaims.self, policy: passportPolicy)
        } catch {
            throw APIError.invalidToken
        }
        if try await store.isRevoked(jti: claims.jti) { throw APIError.passportRevoked }
        return claims
    }

    /// Starts the one session a passport may have.
    public func start(token: String, proof: String?) async throws -> SessionState {
        let claims = try await verify(token)
        if let jkt = claims.cnf?.jkt { try await checkProof(proof, jkt: jkt, passport: claims) }
        let session = SessionState(id: Self.newSessionID(), passport: claims, startedAt: clock.now())
        do {
            try await store.startSession(session)
        } catch {
            switch error {
            case .conflict: throw APIError.governance(.conflict, "passport_already_used")
            default:
                logger.error("replay cache unavailable", metadata: ["error": "\(error)"])
                throw APIError.replayCacheUnavailable
            }
        }
        return session
    }

    /// 256 random bits: the session id is a bearer capability for /evaluate and /end.
    static func newSessionID() -> String {
        var generator = SystemRandomNumberGenerator()
        return "ses_" + Base64URL.encode((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// A key-bound passport (`cnf.jkt`) starts only with a proof of possession: a JWS whose header
    /// carries the agent's public `jwk` and `kid` = its thumbprint (= `cnf.jkt`), signed by that
    /// key, claiming this passport's `jti`, issued within the last 60 s.
    func checkProof(_ proof: String?, jkt: String, passport: PassportClaims) async throws {
        struct ProofHeader: Decodable { var jwk: JWK? }
        struct ProofClaims: JWSClaims { var iss: String?; var iat: Int64?; var exp: Int64?; var passport_jti: String? }
        guard let proof, let segment = proof.split(separator: ".").first, let bytes = Base64URL.decode(segment),
            let header = try? JSONDecoder().decode(ProofHeader.self, from: Data(bytes)), let jwk = header.jwk,
            let key = try? Ed25519PublicKey(jwk: jwk), key.thumbprint == jkt
        else { throw APIError.invalidToken }
        let verifier = await JWSVerifier(keys: [jkt: key])
        let claims: ProofClaims
        do {
            claims = try await verifier.verify(proof, as: ProofClaims.self, policy: JWSPolicy(requireExpiry: false), clock: clock)
        } catch {
            throw APIError.invalidToken
        }
        guard claims.passport_jti == passport.jti, let iat = claims.iat, abs(clock.now().unixSeconds - iat) <= 60 else {
            throw APIError.invalidToken
        }
    }
}
