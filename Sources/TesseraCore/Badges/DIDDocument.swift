import Foundation

/// A W3C DID Document, as much of it as badge verification reads: verification methods (Ed25519,
/// as `publicKeyMultibase` or `publicKeyJwk`) and the `authentication` relationship.
///
/// Used both ways: the registry *serves* one for each agent it hosts under `did:web` (RFC-002
/// §6.3, built from the stored key), and verifiers *resolve* one to check an IAL-1 badge's
/// `cnf.kid` (RFC-002 §8.1 step 7) or a PoP proof's `kid` (RFC-003 §5.2.2 steps 20–23).
public struct DIDDocument: Codable, Sendable, Equatable {
    public struct VerificationMethod: Codable, Sendable, Equatable {
        public var id: String
        public var type: String
        public var controller: String
        public var publicKeyMultibase: String?
        public var publicKeyJwk: JWK?

        /// The raw Ed25519 key (RFC-002 §7.2.7 normalisation), or nil if it is not one.
        public var ed25519Key: Ed25519PublicKey? {
            if let multibase = publicKeyMultibase {
                return try? DIDKey.decode(DIDKey.prefix + multibase.dropFirst())
            }
            if let jwk = publicKeyJwk, jwk.kty == "OKP", jwk.crv == "Ed25519", jwk.d == nil {
                return try? Ed25519PublicKey(jwk: jwk)
            }
            return nil
        }
    }

    public var context: [String]
    public var id: String
    public var verificationMethod: [VerificationMethod]
    /// Ids of the methods in the `authentication` relationship (string references, or the `id`
    /// of embedded methods: both forms are accepted, RFC-003 §5.2.2 step 22).
    public var authentication: [String]

    enum CodingKeys: String, CodingKey {
        case context = "@context"
        case id, verificationMethod, authentication
    }

    public init(id: String, verificationMethod: [VerificationMethod], authentication: [String]) {
        self.context = ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/ed25519-2020/v1"]
        self.id = id
        self.verificationMethod = verificationMethod
        self.authentication = authentication
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let one = try? container.decode(String.self, forKey: .context) {
            context = [one]
        } else {
            context = try container.decodeIfPresent([String].self, forKey: .context) ?? []
        }
        id = try container.decode(String.self, forKey: .id)
        verificationMethod = try container.decodeIfPresent([VerificationMethod].self, forKey: .verificationMethod) ?? []
        struct Embedded: Decodable { var id: String }
        enum Entry: Decodable {
            case reference(String)
            case embedded(Embedded)
            init(from decoder: any Decoder) throws {
                let single = try decoder.singleValueContainer()
                if let id = try? single.decode(String.self) { self = .reference(id) } else { self = .embedded(try single.decode(Embedded.self)) }
            }
            var id: String {
                switch self {
                case .reference(let id): id
                case .embedded(let method): method.id
                }
            }
        }
        authentication = (try container.decodeIfPresent([Entry].self, forKey: .authentication) ?? []).map(\.id)
    }

    /// The document for an agent's single Ed25519 key: `#<multibase>` for `did:key` (as the
    /// did:key method defines it), `#key-1` for `did:web`.
    public static func forKey(did: String, key: Ed25519PublicKey) -> DIDDocument {
        let methodID = DIDs.keyID(did: did, key: key)
        let method = VerificationMethod(
            id: methodID, type: "Ed25519VerificationKey2020", controller: did,
            publicKeyMultibase: String(key.did.dropFirst("did:key:".count)), publicKeyJwk: nil)
        return DIDDocument(id: did, verificationMethod: [method], authentication: [methodID])
    }

    /// The key of the verification method `id`, if the document has it.
    public func key(methodID: String) -> Ed25519PublicKey? {
        verificationMethod.first { $0.id == methodID }?.ed25519Key
    }
}

/// DID helpers for the two methods Tessera supports.
public enum DIDs {
    /// The verification-method id Tessera uses for an agent's key.
    public static func keyID(did: String, key: Ed25519PublicKey) -> String {
        if did.hasPrefix("did:key:") { return did + "#" + did.dropFirst("did:key:".count) }
        return did + "#key-1"
    }

    /// `did:key` resolves offline (RFC-002 §6.3): the document is derived from the DID itself.
    public static func resolveKeyDID(_ did: String) -> DIDDocument? {
        guard let key = try? DIDKey.decode(did), !did.contains("#") else { return nil }
        return DIDDocument.forKey(did: did, key: key)
    }

    /// A syntactically valid DID of a method Tessera handles (`did:key` with an Ed25519 key, or
    /// `did:web` with a domain name), at most 512 bytes, without query or fragment.
    public static func isSupported(_ did: String) -> Bool {
        guard did.utf8.count <= 512, !did.contains("#"), !did.contains("?"), !did.contains("/") else { return false }
        if did.hasPrefix("did:key:") { return (try? DIDKey.decode(did)) != nil }
        return DIDWeb(did) != nil
    }
}

/// A `did:web` identifier (W3C CCG did:web): `did:web:<host>[%3A<port>][:<path>…]`.
public struct DIDWeb: Sendable, Equatable {
    static let hostCharacters = Set("abcdefghijklmnopqrstuvwxyz0123456789-.:")
    static let segmentCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")

    /// Host, with `:port` if the DID encodes one.
    public let authority: String
    public let path: [String]

    public init?(_ did: String) {
        guard did.hasPrefix("did:web:") else { return nil }
        let parts = did.dropFirst("did:web:".count).split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard let first = parts.first, !first.isEmpty else { return nil }
        let authority = first.replacingOccurrences(of: "%3A", with: ":")
        guard authority.allSatisfy({ Self.hostCharacters.contains($0) }), !authority.hasPrefix("."), !authority.hasPrefix(":") else { return nil }
        for part in parts.dropFirst() {
            guard !part.isEmpty, part.count <= 128, part.allSatisfy({ Self.segmentCharacters.contains($0) }), part != ".", part != ".." else { return nil }
        }
        self.authority = authority
        self.path = Array(parts.dropFirst())
    }

    /// The `did:web` for `agents/<slug>` under a registry origin such as `https://r.example:8443`.
    public static func agentDID(registryOrigin: String, slug: String) -> String? {
        guard let range = registryOrigin.range(of: "://") else { return nil }
        let authority = registryOrigin[range.upperBound...].lowercased().replacingOccurrences(of: ":", with: "%3A")
        guard !authority.isEmpty, !authority.contains("/") else { return nil }
        return "did:web:\(authority):agents:\(slug)"
    }

    /// Where the document lives (`/.well-known/did.json` for a bare domain).
    public func documentURL(scheme: String = "https") -> String {
        if path.isEmpty { return "\(scheme)://\(authority)/.well-known/did.json" }
        return "\(scheme)://\(authority)/\(path.joined(separator: "/"))/did.json"
    }
}
