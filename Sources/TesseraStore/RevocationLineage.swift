import TesseraCore

/// The revocation rules every backend follows, written once. A backend only reads and writes
/// rows (its SQL dialect, its locking); which passport is looked at next, where the walks stop and
/// which sessions change are decided here, so a lineage revoked on one store is revoked the same
/// way on all of them.
enum RevocationLineage {
    /// Ancestors checked above a passport (delegation depth is capped far below this).
    static let maximumDepth = 32
    /// Sessions a cascade visits before it stops.
    static let maximumCascade = 100_000

    /// Marks a passport's status-list entry and its descendants' INVALID; `$1` is the passport's
    /// `jti`. The same statement on SQLite (where `$1` is a parameter name bound by position) and
    /// PostgreSQL.
    static let markStatusEntries = """
        UPDATE status_entries SET status = 1 WHERE jti IN (
            WITH RECURSIVE lineage(jti, depth) AS (
                SELECT CAST($1 AS TEXT), 0
                UNION SELECT p.jti, l.depth + 1 FROM gov_passports p JOIN lineage l ON p.parent_jti = l.jti WHERE l.depth < 64)
            SELECT jti FROM lineage)
        """

    /// Upwards from a passport to its root: a child dies with any ancestor.
    ///
    /// ```
    /// var walk = RevocationLineage.Walk(jti: jti, parent: parent)
    /// while let id = walk.next {
    ///     if <id is revoked> { return true }
    ///     walk.moveUp(to: walk.givenParent ?? <the parent the records name>)
    /// }
    /// ```
    struct Walk {
        private var current: String?
        private var hops = 0
        private let firstParent: String?

        /// `parent`: the first link, when the caller read it from the signed passport.
        init(jti: String, parent: String?) {
            current = jti
            firstParent = parent
        }

        /// The passport to check next; nil when the walk has reached a root or its bound.
        var next: String? { hops <= RevocationLineage.maximumDepth ? current : nil }

        /// The next link when the caller named it (the first hop only); nil when the records must say.
        var givenParent: String? { hops == 0 ? firstParent : nil }

        mutating func moveUp(to parent: String?) {
            current = parent
            hops += 1
        }

        /// The parent the records name: the issuance record's when the passport was recorded,
        /// else its session's (passports issued before issuance records existed).
        static func recordedParent(recorded: Bool, passportParent: String?, sessionParent: String?) -> String? {
            recorded ? passportParent : sessionParent
        }
    }

    /// Downwards from a revoked passport: every session under it and every passport delegated
    /// from it, breadth by breadth, each once, at most ``maximumCascade`` of them.
    struct Cascade {
        private var frontier: [String]
        private var seen = Set<String>()

        init(root jti: String) { frontier = [jti] }

        /// The next passport whose sessions and children to visit; nil when done or past the bound.
        mutating func next() -> String? {
            while let candidate = frontier.popLast(), seen.count <= RevocationLineage.maximumCascade {
                if seen.insert(candidate).inserted { return candidate }
            }
            return nil
        }

        /// A session of `jti` or of a child of `jti` (`sessionJTI` is its passport): returns the
        /// state to write when the session was not revoked yet, and queues the child.
        mutating func visit(session state: SessionState, sessionJTI: String, under jti: String) -> SessionState? {
            if sessionJTI != jti { frontier.append(sessionJTI) }
            guard !state.revoked else { return nil }
            var revoked = state
            revoked.revoked = true
            return revoked
        }

        /// Passports recorded as delegated from the one visited, whether or not they started a
        /// session (an AAT chain's intermediate links, a child that only delegated further).
        mutating func visit(childPassports: [String]) { frontier += childPassports }
    }
}
