import CZlib

/// A Status List Token in JWT form (draft §5.1): header `typ` `statuslist+jwt`; `sub` is the
/// list's own URI (equal to the referencing token's `status_list.uri`), `ttl` how long a
/// verifier may cache it.
public struct StatusListClaims: JWSClaims, Equatable {
    public static let type = "statuslist+jwt"
    /// The media type a status list is served with.
    public static let mediaType = "application/statuslist+jwt"

    public struct List: Codable, Sendable, Equatable {
        public var bits: Int
        public var lst: String
    }

    public var iss: String?
    public var sub: String
    public var iat: Int64?
    public var exp: Int64?
    public var ttl: Int?
    public var status_list: List

    public init(iss: String, uri: String, iat: Int64, ttl: Int, list: StatusList) {
        self.iss = iss
        self.sub = uri
        self.iat = iat
        // A list older than ten TTLs is refused outright, whatever a verifier's freshness rule.
        self.exp = iat + Int64(ttl) * 10
        self.ttl = ttl
        self.status_list = List(bits: list.bits, lst: list.lst)
    }

    /// The decoded list (bounded inflation).
    public func list() throws(StatusList.Failure) -> StatusList {
        try StatusList(bits: status_list.bits, lst: status_list.lst)
    }
}
