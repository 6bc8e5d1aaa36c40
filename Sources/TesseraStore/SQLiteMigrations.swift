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
        ),
        (
            "v2-identity",
            """
            CREATE TABLE workspaces (
                id TEXT PRIMARY KEY NOT NULL,
                name TEXT NOT NULL,
                enabled INTEGER NOT NULL,
                created REAL NOT NULL
            );
            CREATE TABLE users (
                id TEXT PRIMARY KEY NOT NULL,
                username TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                email TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                roles TEXT NOT NULL,
                default_workspace TEXT NOT NULL REFERENCES workspaces(id),
                enabled INTEGER NOT NULL,
                must_change_password INTEGER NOT NULL,
                created REAL NOT NULL
            );
            CREATE INDEX users_by_workspace ON users(default_workspace);
            CREATE TABLE api_keys (
                id TEXT PRIMARY KEY NOT NULL,
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                prefix TEXT NOT NULL,
                hash TEXT NOT NULL UNIQUE,
                expires REAL,
                created REAL NOT NULL,
                last_used REAL,
                revoked INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX api_keys_by_user ON api_keys(user_id);
            """
        ),
        (
            "v3-governance",
            """
            CREATE TABLE gov_replay (
                jti TEXT PRIMARY KEY NOT NULL,
                session_id TEXT NOT NULL,
                seen_at REAL NOT NULL
            );
            CREATE TABLE gov_sessions (
                id TEXT PRIMARY KEY NOT NULL,
                jti TEXT NOT NULL UNIQUE,
                parent_jti TEXT,
                workspace TEXT NOT NULL,
                state TEXT NOT NULL
            );
            CREATE INDEX gov_sessions_by_parent ON gov_sessions(parent_jti);
            CREATE TABLE gov_receipts (
                session_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                jwt TEXT NOT NULL,
                hash TEXT NOT NULL,
                PRIMARY KEY (session_id, seq)
            );
            CREATE TABLE gov_delegations (
                parent_session_id TEXT NOT NULL,
                request_id TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                child_jti TEXT NOT NULL,
                child_token TEXT NOT NULL,
                budget INTEGER,
                parent_remaining INTEGER,
                PRIMARY KEY (parent_session_id, request_id)
            );
            CREATE TABLE gov_revocations (
                jti TEXT PRIMARY KEY NOT NULL,
                revoked_at REAL NOT NULL
            );
            """
        ),
        (
            "v4-agents-and-badges",
            """
            CREATE TABLE agents (
                id TEXT PRIMARY KEY NOT NULL,
                workspace TEXT NOT NULL,
                name TEXT NOT NULL,
                did TEXT NOT NULL,
                public_jwk TEXT NOT NULL,
                domain TEXT NOT NULL,
                status TEXT NOT NULL,
                created REAL NOT NULL,
                UNIQUE (workspace, did)
            );
            CREATE INDEX agents_by_workspace ON agents(workspace);
            CREATE TABLE badge_challenges (
                id TEXT PRIMARY KEY NOT NULL,
                agent_id TEXT NOT NULL,
                nonce TEXT NOT NULL,
                expires_at REAL NOT NULL,
                used INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX badge_challenges_by_agent ON badge_challenges(agent_id);
            CREATE TABLE badges (
                jti TEXT PRIMARY KEY NOT NULL,
                agent_id TEXT NOT NULL,
                workspace TEXT NOT NULL,
                ial TEXT NOT NULL,
                issued_at REAL NOT NULL,
                expires_at REAL NOT NULL,
                revoked_at REAL
            );
            CREATE INDEX badges_revoked ON badges(revoked_at);
            """
        ),
        (
            "v5-credential-changes",
            """
            CREATE TABLE credential_changes (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                kind TEXT NOT NULL,
                subject TEXT NOT NULL,
                at REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0)
            );
            CREATE INDEX credential_changes_by_time ON credential_changes(at);
            CREATE TRIGGER credential_change_workspace AFTER UPDATE ON workspaces
                BEGIN INSERT INTO credential_changes (kind, subject) VALUES ('workspace', NEW.id); END;
            CREATE TRIGGER credential_change_user_update AFTER UPDATE ON users
                BEGIN INSERT INTO credential_changes (kind, subject) VALUES ('user', NEW.id); END;
            CREATE TRIGGER credential_change_user_delete AFTER DELETE ON users
                BEGIN INSERT INTO credential_changes (kind, subject) VALUES ('user', OLD.id); END;
            CREATE TRIGGER credential_change_key AFTER UPDATE OF revoked, expires ON api_keys
                BEGIN INSERT INTO credential_changes (kind, subject) VALUES ('key', NEW.id); END;
            """
        ),
        (
            "v6-passport-lineage-idempotency-approvals",
            """
            CREATE TABLE gov_passports (
                jti TEXT PRIMARY KEY NOT NULL,
                parent_jti TEXT,
                workspace TEXT NOT NULL,
                jkt TEXT,
                issued_at REAL NOT NULL,
                expires_at REAL NOT NULL
            );
            CREATE INDEX gov_passports_by_parent ON gov_passports(parent_jti);
            CREATE TABLE gov_evaluations (
                session_id TEXT NOT NULL,
                request_id TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                response TEXT NOT NULL,
                PRIMARY KEY (session_id, request_id)
            );
            ALTER TABLE users ADD COLUMN token_epoch INTEGER NOT NULL DEFAULT 0;
            CREATE TABLE gov_approvals (
                id TEXT PRIMARY KEY NOT NULL,
                session_id TEXT NOT NULL,
                workspace TEXT NOT NULL,
                status TEXT NOT NULL,
                expires_at REAL NOT NULL
            );
            CREATE INDEX gov_approvals_open ON gov_approvals(status, expires_at);
            """
        ),
        (
            // Revocations join the change feed, so every process can keep "not revoked" answers
            // in memory and drop them within a feed period of a revocation anywhere.
            "v7-revocations-in-change-feed",
            """
            CREATE TRIGGER credential_change_revocation AFTER INSERT ON gov_revocations
                BEGIN INSERT INTO credential_changes (kind, subject) VALUES ('revocation', NEW.jti); END;
            """
        ),
        (
            // As on PostgreSQL: every update of a session bumps its version (here in the UPDATE
            // statements themselves), so a process can decide on its cached view of a session and
            // write only if the version is still the one it saw (`decidePipelined`).
            "v8-session-versions",
            """
            ALTER TABLE gov_sessions ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
            -- A writer that does not bump the version itself (an older binary sharing the file
            -- during an upgrade) still moves it: a cached view can never match changed content.
            CREATE TRIGGER session_version AFTER UPDATE OF state ON gov_sessions WHEN NEW.version = OLD.version
                BEGIN UPDATE gov_sessions SET version = OLD.version + 1 WHERE id = NEW.id; END;
            """
        ),
        (
            // IETF Token Status List: every badge and passport gets an index that is never
            // reused (AUTOINCREMENT), and its status (0 valid, 1 revoked). RFC-003 challenges
            // remember what phase 1 bound: DID, audience, TTL, proof audience and `htu`.
            "v9-status-lists-and-rfc003-challenges",
            """
            CREATE TABLE status_entries (
                idx INTEGER PRIMARY KEY AUTOINCREMENT,
                kind TEXT NOT NULL,
                jti TEXT NOT NULL UNIQUE,
                agent_id TEXT,
                expires_at REAL NOT NULL,
                status INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX status_entries_nonzero ON status_entries(status) WHERE status <> 0;
            CREATE INDEX status_entries_by_agent ON status_entries(agent_id);
            ALTER TABLE badge_challenges ADD COLUMN did TEXT NOT NULL DEFAULT '';
            ALTER TABLE badge_challenges ADD COLUMN created_at REAL NOT NULL DEFAULT 0;
            ALTER TABLE badge_challenges ADD COLUMN badge_aud TEXT;
            ALTER TABLE badge_challenges ADD COLUMN badge_ttl INTEGER NOT NULL DEFAULT 300;
            ALTER TABLE badge_challenges ADD COLUMN proof_aud TEXT NOT NULL DEFAULT '';
            ALTER TABLE badge_challenges ADD COLUMN htu TEXT NOT NULL DEFAULT '';
            ALTER TABLE badge_challenges ADD COLUMN account TEXT NOT NULL DEFAULT '';
            ALTER TABLE badge_challenges ADD COLUMN used_at REAL;
            ALTER TABLE badge_challenges ADD COLUMN issued_badge_jti TEXT;
            CREATE INDEX agents_by_did ON agents(did);
            """
        ),
        (
            // The operator console lists a workspace's sessions newest first and each agent's
            // latest badge; both were full scans. `started_at` is set on insert (rows from
            // before this migration keep 0 and sort last).
            "v10-console-listings",
            """
            ALTER TABLE gov_sessions ADD COLUMN started_at REAL NOT NULL DEFAULT 0;
            CREATE INDEX gov_sessions_by_workspace ON gov_sessions(workspace, started_at);
            CREATE INDEX badges_by_agent ON badges(agent_id, issued_at);
            """
        ),
        (
            // Passport proofs of possession are single use on every process sharing the file:
            // a used proof's key (a digest of holder key and `jti`) until it could no longer be
            // accepted anyway; expired rows are pruned a few at a time by the writes themselves.
            "v11-passport-proof-replay",
            """
            CREATE TABLE proof_replays (
                proof_key TEXT PRIMARY KEY,
                expires_at REAL NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX proof_replays_by_expiry ON proof_replays(expires_at);
            """
        ),
        (
            // Round three, finding 13: `GET /approvals` and the per-workspace cap read one
            // workspace's open approvals; without this index both scanned every workspace's.
            "v12-approvals-by-workspace",
            "CREATE INDEX gov_approvals_by_workspace ON gov_approvals(workspace, status, expires_at);"
        ),
        (
            // The OAuth authorization server: templates, clients, pending sign-ins, codes and
            // refresh tokens, one table (see OAuthStore). Secrets are stored as digests only.
            "v13-oauth",
            """
            CREATE TABLE oauth_records (
                kind TEXT NOT NULL,
                id TEXT NOT NULL,
                family TEXT NOT NULL DEFAULT '',
                client_id TEXT NOT NULL DEFAULT '',
                subject TEXT NOT NULL DEFAULT '',
                workspace TEXT NOT NULL DEFAULT '',
                body TEXT NOT NULL,
                created_at REAL NOT NULL,
                expires_at REAL,
                used INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (kind, id)
            );
            CREATE INDEX oauth_records_by_family ON oauth_records(family) WHERE family <> '';
            CREATE INDEX oauth_records_by_client ON oauth_records(client_id);
            CREATE INDEX oauth_records_by_expiry ON oauth_records(expires_at) WHERE expires_at IS NOT NULL;
            CREATE INDEX oauth_records_by_workspace ON oauth_records(kind, workspace, created_at);
            """
        ),
        (
            // The fleet feed's table (see FeedRelayStore). Only PostgreSQL nodes use it: one
            // SQLite file serves one node, whose feed is already complete. Kept in step with the
            // PostgreSQL schema so both backends share one list of versions.
            "v14-fleet-feed",
            """
            CREATE TABLE feed_events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                node TEXT NOT NULL,
                workspace TEXT NOT NULL,
                outcome TEXT NOT NULL,
                at_ms INTEGER NOT NULL,
                event TEXT NOT NULL
            );
            """
        ),
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
