/// The PostgreSQL schema: the same versions as the SQLite one, one statement per entry
/// (the extended query protocol runs one statement at a time).
enum PostgresMigrations {
    static let all: [(identifier: String, statements: [String])] = [
        (
            "v1-signing-keys-and-audit",
            [
                "CREATE TABLE signing_keys (kid TEXT PRIMARY KEY, private_jwk TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, retired_at DOUBLE PRECISION)",
                "CREATE TABLE audit_events (seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, at DOUBLE PRECISION NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT)",
            ]
        ),
        (
            "v2-identity",
            [
                "CREATE TABLE workspaces (id TEXT PRIMARY KEY, name TEXT NOT NULL, enabled BOOLEAN NOT NULL, created DOUBLE PRECISION NOT NULL)",
                "CREATE TABLE users (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, name TEXT NOT NULL, email TEXT NOT NULL, password_hash TEXT NOT NULL, roles TEXT NOT NULL, default_workspace TEXT NOT NULL REFERENCES workspaces(id), enabled BOOLEAN NOT NULL, must_change_password BOOLEAN NOT NULL, created DOUBLE PRECISION NOT NULL)",
                "CREATE INDEX users_by_workspace ON users(default_workspace)",
                "CREATE TABLE api_keys (id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE, name TEXT NOT NULL, prefix TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, expires DOUBLE PRECISION, created DOUBLE PRECISION NOT NULL, last_used DOUBLE PRECISION, revoked BOOLEAN NOT NULL DEFAULT FALSE)",
                "CREATE INDEX api_keys_by_user ON api_keys(user_id)",
            ]
        ),
        (
            "v3-governance",
            [
                "CREATE TABLE gov_replay (jti TEXT PRIMARY KEY, session_id TEXT NOT NULL, seen_at DOUBLE PRECISION NOT NULL)",
                "CREATE TABLE gov_sessions (id TEXT PRIMARY KEY, jti TEXT NOT NULL UNIQUE, parent_jti TEXT, workspace TEXT NOT NULL, state TEXT NOT NULL)",
                "CREATE INDEX gov_sessions_by_parent ON gov_sessions(parent_jti)",
                "CREATE TABLE gov_receipts (session_id TEXT NOT NULL, seq INT NOT NULL, jwt TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (session_id, seq))",
                "CREATE TABLE gov_delegations (parent_session_id TEXT NOT NULL, request_id TEXT NOT NULL, fingerprint TEXT NOT NULL, child_jti TEXT NOT NULL, child_token TEXT NOT NULL, budget INT, parent_remaining INT, PRIMARY KEY (parent_session_id, request_id))",
                "CREATE TABLE gov_revocations (jti TEXT PRIMARY KEY, revoked_at DOUBLE PRECISION NOT NULL)",
            ]
        ),
        (
            "v4-agents-and-badges",
            [
                "CREATE TABLE agents (id TEXT PRIMARY KEY, workspace TEXT NOT NULL, name TEXT NOT NULL, did TEXT NOT NULL, public_jwk TEXT NOT NULL, domain TEXT NOT NULL, status TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, UNIQUE (workspace, did))",
                "CREATE INDEX agents_by_workspace ON agents(workspace)",
                "CREATE TABLE badge_challenges (id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, nonce TEXT NOT NULL, expires_at DOUBLE PRECISION NOT NULL, used BOOLEAN NOT NULL DEFAULT FALSE)",
                "CREATE INDEX badge_challenges_by_agent ON badge_challenges(agent_id)",
                "CREATE TABLE badges (jti TEXT PRIMARY KEY, agent_id TEXT NOT NULL, workspace TEXT NOT NULL, ial TEXT NOT NULL, issued_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL, revoked_at DOUBLE PRECISION)",
            ]
        ),
        (
            "v5-credential-changes",
            [
                "CREATE TABLE credential_changes (seq BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL, at DOUBLE PRECISION NOT NULL DEFAULT EXTRACT(EPOCH FROM clock_timestamp()))",
                "CREATE INDEX credential_changes_by_time ON credential_changes(at)",
                """
                CREATE FUNCTION tessera_credential_change() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'DELETE' THEN
                        INSERT INTO credential_changes (kind, subject) VALUES (TG_ARGV[0], OLD.id);
                    ELSE
                        INSERT INTO credential_changes (kind, subject) VALUES (TG_ARGV[0], NEW.id);
                    END IF;
                    RETURN NULL;
                END
                $$
                """,
                "CREATE TRIGGER credential_change_workspace AFTER UPDATE ON workspaces FOR EACH ROW EXECUTE FUNCTION tessera_credential_change('workspace')",
                "CREATE TRIGGER credential_change_user AFTER UPDATE OR DELETE ON users FOR EACH ROW EXECUTE FUNCTION tessera_credential_change('user')",
                "CREATE TRIGGER credential_change_key AFTER UPDATE OF revoked, expires ON api_keys FOR EACH ROW EXECUTE FUNCTION tessera_credential_change('key')",
            ]
        ),
        (
            "v6-passport-lineage-idempotency-approvals",
            [
                "CREATE TABLE gov_passports (jti TEXT PRIMARY KEY, parent_jti TEXT, workspace TEXT NOT NULL, jkt TEXT, issued_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL)",
                "CREATE INDEX gov_passports_by_parent ON gov_passports(parent_jti)",
                "CREATE TABLE gov_evaluations (session_id TEXT NOT NULL, request_id TEXT NOT NULL, fingerprint TEXT NOT NULL, response TEXT NOT NULL, PRIMARY KEY (session_id, request_id))",
                "ALTER TABLE users ADD COLUMN token_epoch INT NOT NULL DEFAULT 0",
                "CREATE TABLE gov_approvals (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, workspace TEXT NOT NULL, status TEXT NOT NULL, expires_at DOUBLE PRECISION NOT NULL)",
                "CREATE INDEX gov_approvals_open ON gov_approvals(status, expires_at)",
            ]
        ),
        (
            "v7-revocations-in-change-feed",
            [
                """
                CREATE FUNCTION tessera_revocation_change() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO credential_changes (kind, subject) VALUES ('revocation', NEW.jti);
                    RETURN NULL;
                END
                $$
                """,
                "CREATE TRIGGER credential_change_revocation AFTER INSERT ON gov_revocations FOR EACH ROW EXECUTE FUNCTION tessera_revocation_change()",
            ]
        ),
        (
            // Every change to a session bumps its version, whoever makes it (a trigger: no code
            // path can forget). Nodes keep sessions in memory and write a decision in one
            // statement conditioned on the version they read; see PostgresStore.mutateSession.
            "v8-session-versions",
            [
                "ALTER TABLE gov_sessions ADD COLUMN version BIGINT NOT NULL DEFAULT 0",
                """
                CREATE FUNCTION tessera_session_version() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    NEW.version := OLD.version + 1;
                    RETURN NEW;
                END
                $$
                """,
                "CREATE TRIGGER session_version BEFORE UPDATE ON gov_sessions FOR EACH ROW EXECUTE FUNCTION tessera_session_version()",
            ]
        ),
        (
            // As on SQLite: status-list indexes from an identity column (never reused, gaps on
            // rollback are harmless), and RFC-003 challenge bindings.
            "v9-status-lists-and-rfc003-challenges",
            [
                "CREATE TABLE status_entries (idx BIGINT GENERATED ALWAYS AS IDENTITY (START WITH 1) PRIMARY KEY, kind TEXT NOT NULL, jti TEXT NOT NULL UNIQUE, agent_id TEXT, expires_at DOUBLE PRECISION NOT NULL, status SMALLINT NOT NULL DEFAULT 0)",
                "CREATE INDEX status_entries_nonzero ON status_entries(status) WHERE status <> 0",
                "CREATE INDEX status_entries_by_agent ON status_entries(agent_id)",
                "ALTER TABLE badge_challenges ADD COLUMN did TEXT NOT NULL DEFAULT ''",
                "ALTER TABLE badge_challenges ADD COLUMN created_at DOUBLE PRECISION NOT NULL DEFAULT 0",
                "ALTER TABLE badge_challenges ADD COLUMN badge_aud TEXT",
                "ALTER TABLE badge_challenges ADD COLUMN badge_ttl INTEGER NOT NULL DEFAULT 300",
                "ALTER TABLE badge_challenges ADD COLUMN proof_aud TEXT NOT NULL DEFAULT ''",
                "ALTER TABLE badge_challenges ADD COLUMN htu TEXT NOT NULL DEFAULT ''",
                "ALTER TABLE badge_challenges ADD COLUMN account TEXT NOT NULL DEFAULT ''",
                "ALTER TABLE badge_challenges ADD COLUMN used_at DOUBLE PRECISION",
                "ALTER TABLE badge_challenges ADD COLUMN issued_badge_jti TEXT",
                "CREATE INDEX agents_by_did ON agents(did)",
            ]
        ),
        (
            // As on SQLite: the console's listings (sessions newest first, latest badges).
            "v10-console-listings",
            [
                "ALTER TABLE gov_sessions ADD COLUMN started_at DOUBLE PRECISION NOT NULL DEFAULT 0",
                "CREATE INDEX gov_sessions_by_workspace ON gov_sessions(workspace, started_at)",
                "CREATE INDEX badges_by_agent ON badges(agent_id, issued_at)",
            ]
        ),
        (
            // As on SQLite: the fleet-wide replay cache of passport proofs.
            "v11-passport-proof-replay",
            [
                "CREATE TABLE proof_replays (proof_key TEXT PRIMARY KEY, expires_at DOUBLE PRECISION NOT NULL)",
                "CREATE INDEX proof_replays_by_expiry ON proof_replays(expires_at)",
            ]
        ),
        (
            // As on SQLite: a workspace's open approvals (its listing and its cap) read without
            // scanning other workspaces' rows.
            "v12-approvals-by-workspace",
            ["CREATE INDEX gov_approvals_by_workspace ON gov_approvals(workspace, status, expires_at)"]
        ),
        (
            // As on SQLite: the OAuth authorization server's records.
            "v13-oauth",
            [
                """
                CREATE TABLE oauth_records (kind TEXT NOT NULL, id TEXT NOT NULL, family TEXT NOT NULL DEFAULT '',
                    client_id TEXT NOT NULL DEFAULT '', subject TEXT NOT NULL DEFAULT '', workspace TEXT NOT NULL DEFAULT '',
                    body TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION,
                    used BOOLEAN NOT NULL DEFAULT FALSE, PRIMARY KEY (kind, id))
                """,
                "CREATE INDEX oauth_records_by_family ON oauth_records(family) WHERE family <> ''",
                "CREATE INDEX oauth_records_by_client ON oauth_records(client_id)",
                "CREATE INDEX oauth_records_by_expiry ON oauth_records(expires_at) WHERE expires_at IS NOT NULL",
                "CREATE INDEX oauth_records_by_workspace ON oauth_records(kind, workspace, created_at)",
            ]
        ),
        (
            // PostgreSQL only (a fleet's store): the decisions every node shows on its consoles.
            "v14-fleet-feed",
            [
                "CREATE TABLE feed_events (seq BIGSERIAL PRIMARY KEY, node TEXT NOT NULL, workspace TEXT NOT NULL, outcome TEXT NOT NULL, at_ms BIGINT NOT NULL, event TEXT NOT NULL)",
                "CREATE INDEX feed_events_by_time ON feed_events(at_ms)",
            ]
        ),
    ]
}
