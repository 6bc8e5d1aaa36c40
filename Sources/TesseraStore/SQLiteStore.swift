import Foundation
import GRDB
import Logging
import TesseraCore
import TesseraFileSystem

/// The embedded store: one SQLite database in WAL mode under the state directory.
///
/// Several `tessera serve` processes may open the same file: writes are serialised by SQLite's
/// lock, a busy writer waits (busy timeout) instead of failing, and each method is one
/// transaction. GRDB runs every statement on its own queues, never on a NIO event loop.
public final class SQLiteStore: TesseraStore {
    public static let fileName = "tessera.sqlite"

    public let path: String
    let pool: DatabasePool
    let logger: Logger
    /// The decision path's writes share transactions (and fsyncs) under load; see `GroupCommit`.
    let groupCommit: GroupCommit
    /// Sessions as this process last saw them (see `decidePipelined`).
    let sessionCache = VersionedSessionCache()
    /// Each hot session's decisions planned ahead of their commits (see `SessionPipelines`).
    let pipelines = SessionPipelines()

    /// Opens (creating if needed) `stateDirectory/tessera.sqlite` and migrates it.
    ///
    /// - Parameter synchronousFull: fsync the WAL on every commit, so an acknowledged write
    ///   survives power loss, not only a process crash.
    public init(
        stateDirectory: String, busyTimeout: TimeInterval = 10, synchronousFull: Bool = true,
        logger: Logger = Logger(label: "tessera.store")
    ) throws(StoreError) {
        do {
            try PrivateFiles.ensureDirectory(stateDirectory)
        } catch {
            throw .invalidState(error.description)
        }
        let path = (stateDirectory as NSString).appendingPathComponent(Self.fileName)
        self.path = path
        self.logger = logger
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.label = "tessera"
        let synchronous = synchronousFull ? "FULL" : "NORMAL"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
        }
        do {
            try PrivateFiles.ensureFile(path)
            pool = try Self.openPool(path: path, configuration: configuration, logger: logger)
            groupCommit = GroupCommit(pool: pool)
            try Self.migrate(pool, logger: logger)
            for suffix in ["-wal", "-shm"] { try PrivateFiles.restrict(path + suffix) }
        } catch let error as PrivateFiles.Failure {
            throw .invalidState(error.description)
        } catch {
            throw .unavailable(String(describing: error))
        }
    }

    /// Opens the pool, retrying a few times while another process holds the lock that switching
    /// a fresh file to WAL needs: SQLite answers `PRAGMA journal_mode = WAL` with SQLITE_BUSY at
    /// once instead of waiting out the busy timeout, so processes opening a new file together
    /// (the race test, a fleet starting at once) could fail to start.
    static func openPool(path: String, configuration: Configuration, logger: Logger) throws -> DatabasePool {
        var attempt = 0
        while true {
            do {
                return try DatabasePool(path: path, configuration: configuration)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && attempt < 10 {
                attempt += 1
                logger.debug("the database file is being opened by another process; retrying", metadata: ["attempt": "\(attempt)"])
                Thread.sleep(forTimeInterval: 0.02 * Double(attempt))
            }
        }
    }

    /// Runs pending migrations. Two processes starting at once may both see a migration as
    /// pending; each migration runs in an IMMEDIATE transaction, so the loser fails without
    /// effect and a retry finds the schema current.
    static func migrate(_ pool: DatabasePool, logger: Logger) throws {
        var attempt = 0
        while true {
            do {
                try SQLiteMigrations.migrator.migrate(pool)
                return
            } catch {
                attempt += 1
                if attempt >= 5 { throw error }
                logger.debug("migration raced with another process; retrying", metadata: ["attempt": "\(attempt)"])
                Thread.sleep(forTimeInterval: 0.05 * Double(attempt))
            }
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await pool.read(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw Self.map(error)
        }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await pool.write(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw Self.map(error)
        }
    }

    static func map(_ error: any Error) -> StoreError {
        if let error = error as? DatabaseError, error.resultCode == .SQLITE_CONSTRAINT {
            return .conflict(error.message ?? "constraint")
        }
        return .unavailable(String(describing: error))
    }

    public func schemaVersion() async throws(StoreError) -> Int {
        try await read { db in try SQLiteMigrations.migrator.appliedIdentifiers(db).count }
    }

    public func ping() async throws(StoreError) {
        _ = try await read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    // MARK: Signing keys

    public func signingKeys() async throws(StoreError) -> [SigningKeyRecord] {
        try await read { db in try Self.fetchSigningKeys(db) }
    }

    public func ensureActiveSigningKey(_ candidate: SigningKeyRecord) async throws(StoreError) -> [SigningKeyRecord] {
        try await write { db in
            let hasActive = try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM signing_keys WHERE retired_at IS NULL)") ?? false
            if !hasActive { try Self.insert(candidate, db) }
            return try Self.fetchSigningKeys(db)
        }
    }

    public func rotateSigningKey(to candidate: SigningKeyRecord) async throws(StoreError) -> [SigningKeyRecord] {
        try await write { db in
            try db.execute(
                sql: "UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL",
                arguments: [candidate.createdAt.timeIntervalSince1970])
            try Self.insert(candidate, db)
            return try Self.fetchSigningKeys(db)
        }
    }

    static func insert(_ record: SigningKeyRecord, _ db: Database) throws {
        let json = String(decoding: try JSONEncoder().encode(record.privateJWK), as: UTF8.self)
        try db.execute(
            sql: "INSERT INTO signing_keys (kid, private_jwk, created_at, retired_at) VALUES (?, ?, ?, ?)",
            arguments: [
                record.kid, json, record.createdAt.timeIntervalSince1970,
                record.retiredAt?.timeIntervalSince1970,
            ])
    }

    static func fetchSigningKeys(_ db: Database) throws -> [SigningKeyRecord] {
        try Row.fetchAll(db, sql: "SELECT kid, private_jwk, created_at, retired_at FROM signing_keys ORDER BY created_at")
            .map { row in
                let json: String = row["private_jwk"]
                let jwk = try StrictJSON.decode(JWK.self, from: Data(json.utf8))
                let retired: Double? = row["retired_at"]
                return SigningKeyRecord(
                    kid: row["kid"], privateJWK: jwk,
                    createdAt: Date(timeIntervalSince1970: row["created_at"]),
                    retiredAt: retired.map { Date(timeIntervalSince1970: $0) })
            }
    }

    // MARK: Audit

    public func appendAudit(_ event: AuditEvent) async throws(StoreError) {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO audit_events (id, at, actor, action, target, outcome, detail)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    event.id, event.at.timeIntervalSince1970, event.actor, event.action, event.target,
                    event.outcome, event.detail,
                ])
        }
    }

    public func listAudit(limit: Int) async throws(StoreError) -> [AuditEvent] {
        let limit = max(0, min(limit, 10_000))
        return try await read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT id, at, actor, action, target, outcome, detail FROM audit_events ORDER BY seq DESC LIMIT ?",
                arguments: [limit]
            ).map { row in
                AuditEvent(
                    id: row["id"], at: Date(timeIntervalSince1970: row["at"]), actor: row["actor"],
                    action: row["action"], target: row["target"], outcome: row["outcome"], detail: row["detail"])
            }
        }
    }
}
