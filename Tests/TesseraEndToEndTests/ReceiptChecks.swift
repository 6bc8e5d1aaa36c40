import Foundation
import Testing
import TesseraClient
import TesseraCore

/// The receipt chain of `session` as served by the node at `base` (`GET /receipts`, an admin call).
func receiptJWTs(base: String, admin: String, session: String) async throws -> [String] {
    let client = try TesseraHTTPClient(baseURL: base, token: admin)
    let (status, bytes) = try await client.raw(.GET, "/receipts?session_id=\(session)", body: Optional<[String: String]>.none)
    #expect(status == 200)
    return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap {
        (try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)))?["jwt"]
    }
}

/// Verifies signatures (with the node's published keys) and links; throws naming the first break.
func verifiedReceiptChain(base: String, _ jwts: [String]) async throws -> [ReceiptClaims] {
    let jwks = try await TesseraHTTPClient(baseURL: base).jwks()
    return try await ReceiptChain.verify(jwts, verifier: await JWSVerifier(jwks: jwks))
}
