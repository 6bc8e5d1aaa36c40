import Foundation
import Logging
import PostgresNIO

/// The throwaway PostgreSQL cluster of a test run: `scripts/test` starts one
/// (`scripts/pg-test-cluster`) and exports its admin URL as `TESSERA_TEST_DATABASE_URL`.
///
/// A test or suite that needs it carries
/// `.enabled(if: TestDatabase.isAvailable, "needs TESSERA_TEST_DATABASE_URL (scripts/test starts a throwaway PostgreSQL cluster)")`,
/// so without it the test is reported as skipped, never as passed.
public enum TestDatabase {
    /// The cluster's admin URL (`postgres://user@host:port/postgres`), or nil.
    public static var adminURL: String? { ProcessInfo.processInfo.environment["TESSERA_TEST_DATABASE_URL"] }

    /// Whether this run has a test cluster.
    public static var isAvailable: Bool { adminURL != nil }

    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// Creates a new, empty database on the test cluster (nobody has migrated it) and returns its
    /// URL: the admin URL with the new database's name as its path.
    public static func makeEmptyDatabase() async throws -> String {
        guard let admin = adminURL else { throw Unavailable(description: "TESSERA_TEST_DATABASE_URL is not set") }
        guard var components = URLComponents(string: admin), let host = components.host, let user = components.user else {
            throw Unavailable(description: "TESSERA_TEST_DATABASE_URL is not a postgres://user@host:port/database URL: \(admin)")
        }
        let name: String = "t_" + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16))
        let configuration = PostgresConnection.Configuration(
            host: host, port: components.port ?? 5432, username: user, password: components.password,
            database: components.path.isEmpty ? nil : String(components.path.dropFirst()), tls: .disable)
        let logger = Logger(label: "tessera.test-database")
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        do {
            try await connection.query("CREATE DATABASE \(unescaped: name)", logger: logger)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
        components.path = "/" + name
        guard let url = components.string else { throw Unavailable(description: "cannot form the URL of database \(name)") }
        return url
    }
}
