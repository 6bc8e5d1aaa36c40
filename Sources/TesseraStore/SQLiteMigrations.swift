import GRDB

/// The SQLite schema, as versioned forward-only migrations. A migration, once released, is never
/// edited: a change is a new entry at the end.
enum SQLiteMigrations {
    static let all: [(identifier: String, sql: String)] = [
        (
            "v1-signing-keys-and-audit",
            """
            CREATE TABLE signing_keys (
                kid TEXT PRIMARY KEY NOT NULL,
                private_jwk TEXT NOT NULL,
                created_at REAL NOT NULL,
                retired_at REAL
            );
            CREATE TABLE audit_events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                at REAL NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                target TEXT NOT NULL,
                outcome TEXT NOT NULL,
                detail TEXT
            );
            """
        )
    ]

    static var latestVersion: Int { all.count }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in all {
            migrator.registerMigration(migration.identifier) { db in try db.execute(sql: migration.sql) }
        }
        return migrator
    }
}
