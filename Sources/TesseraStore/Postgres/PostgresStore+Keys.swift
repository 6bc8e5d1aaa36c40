import Foundation
import PostgresNIO
import TesseraCore

/// Signing keys and the audit trail.
extension PostgresStore {
    static let keyLock: Int64 = 0x7465_7373_6b65_79

    static func signingKeys(_ connection: PostgresConnection) async throws -> [SigningKeyRecord] {
        var out: [SigningKeyRecord] = []
        let rows = try await connection.query("SELECT kid, private_jwk, created_at, retired_at FROM signing_keys ORDER BY created_at", logger: .init(label: "pg"))
        for try await (kid, json, created, retired) in rows.decode((String, String, Double, Double?).self) {
            out.append(SigningKeyRecord(
                kid: kid, privateJWK: try StrictJSON.decode(JWK.self, from: Data(json.utf8)), createdAt: created.date,
                retiredAt: retired?.date))
        }
        return out
    }

    static func insert(_ record: SigningKeyRecord, _ connection: PostgresConnection) async throws {
        let json = String(decoding: try JSONEncoder().encode(record.privateJWK), as: UTF8.self)
        try await connection.query(
            "INSERT INTO signing_keys (kid, private_jwk, created_at, retired_at) VALUES (\(record.kid), \(json), \(record.createdAt.pg), \(record.retiredAt?.pg))",
            logger: .init(label: "pg"))
    }

    public func signingKeys() async throws(StoreError) -> [SigningKeyRecord] {
        try await run { [self] in try await client.withConnection { try await Self.signingKeys($0) } }
    }

    public func ensureActiveSigningKey(_ candidate: SigningKeyRecord) async throws(StoreError) -> [SigningKeyRecord] {
        try await transaction { [self] connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.keyLock))", logger: logger)
            let existing = try await Self.signingKeys(connection)
            if !existing.contains(where: { $0.retiredAt == nil }) { try await Self.insert(candidate, connection) }
            return try await Self.signingKeys(connection)
        }
    }

    public func rotateSigningKey(to candidate: SigningKeyRecord) async throws(StoreError) -> [SigningKeyRecord] {
        try await transaction { [self] connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.keyLock))", logger: logger)
            try await connection.query("UPDATE signing_keys SET retired_at = \(candidate.createdAt.pg) WHERE retired_at IS NULL", logger: logger)
            try await Self.insert(candidate, connection)
            return try await Self.signingKeys(connection)
        }
    }

    public func appendAudit(_ event: AuditEvent) async throws(StoreError) {
        _ = try await run { [self] in
            try await client.query(
                "INSERT INTO audit_events (id, at, actor, action, target, outcome, detail) VALUES (\(event.id), \(event.at.pg), \(event.actor), \(event.action), \(event.target), \(event.outcome), \(event.detail))")
        }
    }

    public func listAudit(limit: Int) async throws(StoreError) -> [AuditEvent] {
        let limit = max(0, min(limit, 10_000))
        return try await run { [self] in
            var out: [AuditEvent] = []
            let rows = try await client.query("SELECT id, at, actor, action, target, outcome, detail FROM audit_events ORDER BY seq DESC LIMIT \(limit)")
            for try await (id, at, actor, action, target, outcome, detail) in rows.decode((String, Double, String, String, String, String, String?).self) {
                out.append(AuditEvent(id: id, at: at.date, actor: actor, action: action, target: target, outcome: outcome, detail: detail))
            }
            return out
        }
    }
}
