import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import TesseraCore

/// The store for a fleet: every `tessera serve` node on one PostgreSQL database.
///
/// Same protocol and semantics as ``SQLiteStore``. What SQLite gets from its single writer lock,
/// PostgreSQL gets from row locks (`SELECT … FOR UPDATE` on the session a mutation changes) and
/// transaction-scoped advisory locks (bootstrap, first signing key), so budgets, replay cache,
/// revocations and receipt chains stay exact with writers on different nodes. Migrations run under
/// a session advisory lock, so nodes starting together apply each one once.
public final class PostgresStore: TesseraStore {
    let pool: PostgresPool
    /// Sessions as this node last wrote or read them, with their versions (see `decideInOneStatement`).
    let sessionCache = VersionedSessionCache()
    /// Decisions for one session run one at a time on this node (see `SessionLanes`).
    let lanes = SessionLanes()
    let logger: Logger

    /// The pool to use now (replaced after an outage; see ``PostgresPool``).
    var client: PostgresClient { pool.client }

    /// Opens a pool to `url` (`postgres://user:password@host:port/database`) and migrates.
    public init(url: String, maximumConnections: Int = 20, statementTimeoutMilliseconds: Int = 5000, logger: Logger = Logger(label: "tessera.store")) async throws(StoreError) {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, let user = components.user
        else { throw .invalidState("database URL must look like postgres://user:password@host:port/database") }
        let database = components.path.isEmpty ? nil : String(components.path.dropFirst())
        let requireTLS = components.queryItems?.first { $0.name == "sslmode" }?.value == "require"
        let port = components.port ?? 5432
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: user, password: components.password, database: database,
            tls: requireTLS ? .require(.makeClientConfiguration()) : .disable)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.additionalStartupParameters = [("statement_timeout", String(statementTimeoutMilliseconds))]
        let probeTLS: PostgresConnection.Configuration.TLS
        do {
            probeTLS = requireTLS ? .require(try NIOSSLContext(configuration: .makeClientConfiguration())) : .disable
        } catch {
            throw .invalidState("TLS client configuration: \(error)")
        }
        var probe = PostgresConnection.Configuration(
            host: host, port: port, username: user, password: components.password, database: database, tls: probeTLS)
        probe.options.connectTimeout = TimeAmount.seconds(1)
        let pool = PostgresPool(clientConfiguration: configuration, probeConfiguration: probe, logger: logger)
        self.pool = pool
        self.logger = logger
        do {
            try await Deadline(.seconds(15)).run { [self] in try await migrate() }
        } catch {
            pool.close()
            throw Self.map(error)
        }
    }

    /// Stops the connection pool.
    public func close() { pool.close() }

    static let migrationLock: Int64 = 0x7465_7373_6572_61  // "tessera"

    /// Brings the schema to the latest version, safely with any number of nodes starting at once.
    ///
    /// Every step — creating the version table included — runs in its own transaction that first
    /// takes a transaction-scoped advisory lock, so schema work never happens outside the lock and
    /// the lock can never outlive its transaction (a session lock survives on a pooled connection
    /// whose holder was abandoned). Catalogue races that PostgreSQL reports anyway (`CREATE … IF
    /// NOT EXISTS` from two sessions can still collide on `pg_type`, SQL states 23505 / 42P07) are
    /// retried: the second attempt finds the work done.
    func migrate() async throws {
        var attempt = 0
        while true {
            do {
                try await migrateOnce()
                return
            } catch where attempt < 5 && ["23505", "42P07", "42710", "40P01"].contains(Self.sqlState(error) ?? "") {
                attempt += 1
                logger.info("migration raced another node; retrying", metadata: ["attempt": "\(attempt)"])
                try await Task.sleep(for: .milliseconds(50 * attempt))
            }
        }
    }

    func migrateOnce() async throws {
        try await client.withTransaction(logger: logger) { transaction in
            try await Self.drain(transaction.query("SET LOCAL statement_timeout = 0", logger: logger))
            try await Self.drain(transaction.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger))
            try await transaction.query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INT PRIMARY KEY, identifier TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)",
                logger: logger)
        }
        for (index, migration) in PostgresMigrations.all.enumerated() {
            try await client.withTransaction(logger: logger) { transaction in
                // Waiting for another node's migration is bounded by the 15 s deadline around
                // `migrate`, not by the per-statement timeout meant for requests.
                try await Self.drain(transaction.query("SET LOCAL statement_timeout = 0", logger: logger))
                try await Self.drain(transaction.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger))
                var applied = false
                for try await _ in try await transaction.query("SELECT 1 FROM schema_migrations WHERE version = \(index + 1)", logger: logger).decode(Int.self) {
                    applied = true
                }
                guard !applied else { return }
                for statement in migration.statements {
                    try await Self.drain(transaction.query(PostgresQuery(unsafeSQL: statement), logger: logger))
                }
                try await transaction.query(
                    "INSERT INTO schema_migrations (version, identifier, applied_at) VALUES (\(index + 1), \(migration.identifier), \(Date().timeIntervalSince1970))",
                    logger: logger)
                logger.info("migrated", metadata: ["version": "\(index + 1)", "identifier": "\(migration.identifier)"])
            }
        }
    }

    /// Reads a statement's result to its end. A statement whose rows are never read can report its
    /// error late: the next statement then fails with 25P02 ("current transaction is aborted")
    /// and the real cause — a lock wait cancelled by the statement timeout, say — is lost.
    static func drain(_ rows: PostgresRowSequence) async throws {
        for try await _ in rows {}
    }

    /// The SQL state of a server error, also when it is wrapped by a transaction.
    static func sqlState(_ error: any Error) -> String? {
        if let error = error as? PSQLError { return error.serverInfo?[.sqlState] }
        if let error = error as? PostgresTransactionError {
            for inner in [error.closureError, error.beginError, error.commitError, error.rollbackError].compactMap({ $0 }) {
                if let state = sqlState(inner) { return state }
            }
        }
        return nil
    }

    static func map(_ error: any Error) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] {
            if state == "23505" { return .conflict(error.serverInfo?[.message] ?? "duplicate") }
            return .unavailable("postgres \(state): \(error.serverInfo?[.message] ?? "")")
        }
        if let error = error as? PostgresTransactionError {
            if let closure = error.closureError { return map(closure) }
            return .unavailable(String(describing: error))
        }
        return .unavailable(String(describing: error))
    }

    /// How long a caller waits for the database (a connection, then the statement) before the
    /// request fails closed with 503. Without it a request would queue for a connection for as
    /// long as the database is down.
    static let deadline: Duration = .seconds(5)

    /// Runs `body` through the outage breaker and with the deadline; outage-shaped failures are
    /// recorded so the next caller probes. Errors pass through unmapped (plans throw their own).
    func guarded<T: Sendable>(deadline: Duration = PostgresStore.deadline, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await pool.admit()
        do {
            return try await Deadline(deadline).run(body)
        } catch {
            pool.record(error)
            throw error
        }
    }

    /// ``guarded(deadline:_:)`` with every failure mapped to a ``StoreError``.
    func run<T: Sendable>(deadline: Duration = PostgresStore.deadline, _ body: @escaping @Sendable () async throws -> T) async throws(StoreError) -> T {
        do {
            return try await guarded(deadline: deadline, body)
        } catch {
            throw Self.map(error)
        }
    }

    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws(StoreError) -> T {
        try await run { [self] in try await client.withTransaction(logger: logger) { connection in try await body(connection) } }
    }

    public func schemaVersion() async throws(StoreError) -> Int {
        try await run { [self] in
            var version = 0
            for try await value in try await client.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").decode(Int.self) {
                version = value
            }
            return version
        }
    }

    public func ping() async throws(StoreError) {
        try await run(deadline: .seconds(2)) { [client] in _ = try await client.query("SELECT 1") }
    }
}

extension Date {
    var pg: Double { timeIntervalSince1970 }
}

extension Double {
    var date: Date { Date(timeIntervalSince1970: self) }
}
