import Crypto
import Foundation

/// Claims of a decision receipt (`typ` `tessera-receipt+jwt`). Receipts of one session form a
/// chain: `seq` counts from 0 and `prev` is the SHA-256 of the previous receipt's JWS.
public struct ReceiptClaims: JWSClaims, Equatable {
    public static let type = "tessera-receipt+jwt"

    public var iss: String?
    public var iat: Int64?
    public var exp: Int64? { nil }
    public var jti: String
    public var grant_id: String
    public var session_id: String
    public var seq: Int
    public var tool: String
    public var decision: String
    public var reason: String
    public var arguments_digest: String
    public var prev: String
    /// For an argument DENY: what failed.
    public var violations: [ToolPolicy.Violation]?
    /// For APPROVAL_REQUIRED, an approval's grant or denial, and the PERMIT that used it.
    public var approval_id: String?
    /// On a session started from an AAT bound to a mission declaration: `{type:
    /// "mission_binding", mission_ref, mission_digest}` (Ardur's receipt evidence).
    public var evidence_proof_ref: JSONValue?

    enum CodingKeys: String, CodingKey {
        case iss, iat, jti, grant_id, session_id, seq, tool, decision, reason, arguments_digest, prev, violations, approval_id, evidence_proof_ref
    }

    public init(
        iss: String, iat: Int64, jti: String = UUID().uuidString.lowercased(), grantID: String, sessionID: String,
        seq: Int, tool: String, decision: String, reason: String, arguments: JSONValue, prev: String
    ) {
        self.init(
            iss: iss, iat: iat, jti: jti, grantID: grantID, sessionID: sessionID, seq: seq, tool: tool, decision: decision,
            reason: reason, argumentsDigest: Self.digest(arguments), prev: prev, violations: nil, approvalID: nil)
    }

    /// Lowercase hex SHA-256 of the RFC 8785 canonical JSON of the arguments.
    public static func digest(_ arguments: JSONValue) -> String {
        CompactJWS.hex(SHA256.hash(data: Array(CanonicalJSON.serialize(arguments).utf8)))
    }
}

/// A receipt to append: its chain position and its signed form.
public struct ReceiptRecord: Sendable, Equatable {
    public var sessionID: String
    public var seq: Int
    public var jwt: String
    public var hash: String
    /// The receipt's `jti`, known when it was just signed (nil for records read back).
    public var jti: String?

    public init(sessionID: String, seq: Int, jwt: String, jti: String? = nil) {
        self.sessionID = sessionID
        self.seq = seq
        self.jwt = jwt
        self.hash = CompactJWS.digest(jwt)
        self.jti = jti
    }
}

extension SessionState {
    /// Signs the next receipt of this session's chain and advances the chain head.
    public mutating func appendReceipt(
        tool: String, decision: Decision, arguments: JSONValue, issuer: String, now: Date, key: Ed25519KeyPair
    ) throws -> ReceiptRecord {
        var claims = ReceiptClaims(
            iss: issuer, iat: now.unixSeconds, grantID: passport.jti, sessionID: id, seq: receiptCount, tool: tool,
            decision: decision.verdict.rawValue, reason: decision.reason ?? "", arguments: arguments,
            prev: lastReceiptHash)
        claims.violations = decision.violations.isEmpty ? nil : decision.violations
        claims.approval_id = decision.approvalID
        claims.evidence_proof_ref = passport.aat?.evidence
        let record = ReceiptRecord(
            sessionID: id, seq: receiptCount, jwt: try CompactJWS.sign(claims, type: ReceiptClaims.type, key: key), jti: claims.jti)
        receiptCount += 1
        lastReceiptHash = record.hash
        return record
    }
}

/// Offline verification of a receipt chain.
public enum ReceiptChain {
    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// Index (0-based, in the order given) of the first receipt that does not verify.
        public var index: Int
        public var problem: String
        public var description: String { "receipt \(index): \(problem)" }
    }

    /// Checks every signature, `seq` continuity from 0, one session and grant, and every `prev`
    /// link; throws at the first broken entry. Returns the verified claims in order.
    public static func verify(_ jwts: [String], verifier: JWSVerifier) async throws(Failure) -> [ReceiptClaims] {
        var chain = ReceiptChainVerifier(verifier: verifier)
        var claims: [ReceiptClaims] = []
        claims.reserveCapacity(jwts.count)
        for jwt in jwts { claims.append(try chain.add(jwt)) }
        return claims
    }
}

/// Verifies a receipt chain one receipt at a time, keeping only the chain head: memory stays
/// constant however long the chain (a million receipts is a real session's lifetime on a busy
/// agent), so chains can be checked as they stream from a file or a socket.
public struct ReceiptChainVerifier: Sendable {
    let verifier: JWSVerifier
    let policy = JWSPolicy(type: ReceiptClaims.type, requireExpiry: false)
    public private(set) var count = 0
    var previousHash = ""
    var session: (id: String, grant: String)?

    public init(verifier: JWSVerifier) { self.verifier = verifier }

    /// Verifies the next receipt against the chain so far and advances the head.
    public mutating func add(_ jwt: String) throws(ReceiptChain.Failure) -> ReceiptClaims {
        let index = count
        let receipt: ReceiptClaims
        do {
            // Receipts are records with no expiry: their age does not matter, only their
            // signature, so they are checked "as of" the far future.
            receipt = try verifier.verifySync(jwt, as: ReceiptClaims.self, policy: policy, now: Date.distantFuture.unixSeconds)
        } catch {
            throw ReceiptChain.Failure(index: index, problem: "signature does not verify (\(error))")
        }
        if receipt.seq != index { throw ReceiptChain.Failure(index: index, problem: "seq is \(receipt.seq), expected \(index)") }
        if receipt.prev != previousHash { throw ReceiptChain.Failure(index: index, problem: "prev does not match the previous receipt") }
        if let session, session.id != receipt.session_id || session.grant != receipt.grant_id {
            throw ReceiptChain.Failure(index: index, problem: "belongs to another session")
        }
        if session == nil { session = (receipt.session_id, receipt.grant_id) }
        previousHash = CompactJWS.digest(jwt)
        count += 1
        return receipt
    }
}

/// Claims of a session attestation (`typ` `tessera-attestation+jwt`), signed once at the end.
public struct AttestationClaims: JWSClaims, Equatable {
    public static let type = "tessera-attestation+jwt"

    public struct Summary: Codable, Sendable, Equatable {
        public var permits: Int
        public var denies: Int
        public var tool_calls: Int
        public var delegations: Int
        public var started_at: String
        public var ended_at: String
    }

    public var iss: String?
    public var iat: Int64?
    public var exp: Int64? { nil }
    public var sub: String
    public var session_id: String
    public var grant_id: String
    public var summary: Summary
    public var receipts_head: String
    public var receipts_count: Int

    enum CodingKeys: String, CodingKey {
        case iss, iat, sub, session_id, grant_id, summary, receipts_head, receipts_count
    }
}

extension SessionState {
    /// Ends the session and signs its attestation; a second call returns the same token.
    public mutating func end(issuer: String, now: Date, key: Ed25519KeyPair) throws -> String {
        if let attestation { return attestation }
        endedAt = now
        let iso = ISO8601DateFormatter()
        let claims = AttestationClaims(
            iss: issuer, iat: now.unixSeconds, sub: passport.agent_id, session_id: id, grant_id: passport.jti,
            summary: .init(
                permits: permits, denies: denies, tool_calls: permits + denies, delegations: delegations,
                started_at: iso.string(from: startedAt), ended_at: iso.string(from: now)),
            receipts_head: lastReceiptHash, receipts_count: receiptCount)
        let token = try CompactJWS.sign(claims, type: AttestationClaims.type, key: key)
        attestation = token
        return token
    }
}
