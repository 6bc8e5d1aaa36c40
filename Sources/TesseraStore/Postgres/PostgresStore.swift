import Foundation
import Logging
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
    let client: PostgresClient
    let logger: Logger
    let runner: Task<Void, Never>

    /// Opens a pool to `url` (`postgres://user:password@host:port/database`) and migrates.
    public init(url: String, maximumConnections: Int = 20, statementTimeoutMilliseconds: Int = 5000, logger: Logger = Logger(label: "tessera.store")) async throws(StoreError) {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, let user = components.user
        else { throw .invalidState("database URL must look like postgres://user:password@host:port/database") }
        let database = components.path.isEmpty ? nil : String(components.path.dropFirst())
        let requireTLS = components.queryItems?.first { $0.name == "sslmode" }?.value == "require"
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user, password: components.password, database: database,
            tls: requireTLS ? .require(.makeClientConfiguration()) : .disable)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.additionalStartupParameters = [("statement_timeout", String(statementTimeoutMilliseconds))]
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.runner = Task { await client.run() }
        do {
            try await Self.withDeadline(.seconds(15)) { [self] in try await migrate() }
        } catch {
            runner.cancel()
            throw Self.map(error)
        }
    }

    deinit { runner.cancel() }

    /// Stops the connection pool.
    public func close() { runner.cancel() }

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

    /// Runs `body` with the deadline and maps failures; the body's own `StoreError`s pass through.
    func run<T: Sendable>(deadline: Duration = PostgresStore.deadline, _ body: @escaping @Sendable () async throws -> T) async throws(StoreError) -> T {
        do {
            return try await Self.withDeadline(deadline, body)
        } catch {
            throw Self.map(error)
        }
    }

    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws(StoreError) -> T {
        let client = self.client
        let logger = self.logger
        return try await run { [self] in try await client.withTransaction(logger: logger) { connection in try await body(connection) } }
    }

    /// The first of `body` and the deadline; the loser is cancelled.
    static func withDeadline<T: Sendable>(_ deadline: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: deadline)
                throw StoreError.unavailable("database did not answer within \(deadline)")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
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
