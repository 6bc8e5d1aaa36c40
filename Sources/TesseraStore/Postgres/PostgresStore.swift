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

    func migrate() async throws {
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.migrationLock))", logger: logger)
            do {
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INT PRIMARY KEY, identifier TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)",
                    logger: logger)
                var applied = Set<Int>()
                for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: logger).decode(Int.self) {
                    applied.insert(version)
                }
                for (index, migration) in PostgresMigrations.all.enumerated() where !applied.contains(index + 1) {
                    try await connection.withTransaction(logger: logger) { transaction in
                        for statement in migration.statements {
                            try await transaction.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                        }
                        try await transaction.query(
                            "INSERT INTO schema_migrations (version, identifier, applied_at) VALUES (\(index + 1), \(migration.identifier), \(Date().timeIntervalSince1970))",
                            logger: logger)
                    }
                    logger.info("migrated", metadata: ["version": "\(index + 1)", "identifier": "\(migration.identifier)"])
                }
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.migrationLock))", logger: logger)
                throw error
            }
            try await connection.query("SELECT pg_advisory_unlock(\(Self.migrationLock))", logger: logger)
        }
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
