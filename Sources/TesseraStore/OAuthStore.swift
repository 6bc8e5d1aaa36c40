import Foundation

/// One persisted object of the OAuth authorization server: a mission template, a client, a
/// pending authorization, an authorization code or a refresh token. One table for all of them,
/// because they share their lifecycle operations (expiry, single use, deletion by family or by
/// client); what differs is the JSON `body`, which the server's typed records encode.
public struct OAuthRecord: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case template, client, pending, code, refresh
    }

    public var kind: Kind
    /// Template name, client id, or the SHA-256 of a code / refresh token / pending request id
    /// (never the secret itself).
    public var id: String
    /// The grant a code or refresh token belongs to ("" for none): every token of one consent.
    public var family: String
    public var clientID: String
    public var subject: String
    public var workspace: String
    public var body: String
    public var createdAt: Date
    public var expiresAt: Date?
    /// Set once a single-use record (code, refresh token) has been spent.
    public var used: Bool

    public init(kind: Kind, id: String, family: String = "", clientID: String = "", subject: String = "", workspace: String = "", body: String, createdAt: Date, expiresAt: Date?, used: Bool = false) {
        self.kind = kind
        self.id = id
        self.family = family
        self.clientID = clientID
        self.subject = subject
        self.workspace = workspace
        self.body = body
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.used = used
    }

    public func isLive(at now: Date) -> Bool { expiresAt.map { $0 > now } ?? true }
}

/// What spending a single-use record found.
public enum OAuthClaim: Sendable, Equatable {
    /// Spent now by this call: the record as it was.
    case claimed(OAuthRecord)
    /// Spent before (a replay): the record, whose family the caller may now revoke.
    case replayed(OAuthRecord)
    /// Absent or expired.
    case absent
}

public protocol OAuthStore: Sendable {
    /// Inserts the record; `.conflict` when (kind, id) exists and `replace` is false. Each insert
    /// also prunes a few expired rows, so short-lived codes and pending requests need no job.
    func putOAuth(_ record: OAuthRecord, replace: Bool) async throws(StoreError)
    /// The live record (not expired at `now`), spent or not.
    func oauthRecord(_ kind: OAuthRecord.Kind, id: String, now: Date) async throws(StoreError) -> OAuthRecord?
    /// Live records of a kind, newest first, optionally of one workspace, subject and/or grant
    /// family, at most `limit`.
    func oauthRecords(_ kind: OAuthRecord.Kind, workspace: String?, subject: String?, family: String?, now: Date, limit: Int) async throws(StoreError) -> [OAuthRecord]
    /// Spends a single-use record in one atomic step: of two concurrent calls (on any node) exactly
    /// one gets `.claimed`.
    func claimOAuth(_ kind: OAuthRecord.Kind, id: String, now: Date) async throws(StoreError) -> OAuthClaim
    /// Deletes one record; false when it did not exist.
    @discardableResult func deleteOAuth(_ kind: OAuthRecord.Kind, id: String) async throws(StoreError) -> Bool
    /// Deletes every code and refresh token of a grant; returns how many.
    @discardableResult func deleteOAuthFamily(_ family: String) async throws(StoreError) -> Int
    /// Deletes every code and refresh token issued to a client; returns the grant families they belonged to.
    func deleteOAuthTokens(clientID: String) async throws(StoreError) -> [String]
}

public enum OAuthRecords {
    static let pruneBatch = 64
    static let maximumIDBytes = 512
    static func check(_ id: String) throws(StoreError) {
        guard !id.isEmpty, id.utf8.count <= maximumIDBytes else { throw .invalidState("OAuth record id must be 1-\(maximumIDBytes) bytes") }
    }
}
