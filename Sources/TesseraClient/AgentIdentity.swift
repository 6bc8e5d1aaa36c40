import AsyncHTTPClient
import Foundation
import Logging
import TesseraCore
import Synchronization

/// Entry point of the agent SDK.
public enum Tessera {
    public enum ConnectError: Error, CustomStringConvertible {
        case noKey(String)
        case badge(String)

        public var description: String {
            switch self {
            case .noKey(let why): "no agent key: \(why)"
            case .badge(let why): "no badge: \(why)"
            }
        }
    }

    /// Loads the agent's key, obtains a badge (PoP first, CA with `apiKey` as the logged
    /// fallback) and keeps it fresh in the background, PoP badges included.
    ///
    /// Key: `keysDir/private.jwk`, else `TESSERA_KEYS_DIR/private.jwk`, else the env-only
    /// `TESSERA_AGENT_PRIVATE_KEY_JWK` (never written to disk).
    public static func connect(
        server: String, agentID: String, keysDir: String? = nil, apiKey: String? = nil, did: String? = nil,
        lifetime: Duration = .seconds(3600), renewBefore: Duration = .seconds(600),
        logger: Logger = Logger(label: "tessera.sdk")
    ) async throws -> AgentIdentity {
        let key = try loadKey(keysDir: keysDir)
        var configuration = BadgeKeeper.Configuration(server: server, agentID: agentID, output: "")
        configuration.key = key
        configuration.apiKey = apiKey ?? ProcessInfo.processInfo.environment["TESSERA_API_KEY"]
        configuration.lifetime = lifetime
        configuration.renewBefore = renewBefore
        configuration.checkInterval = .seconds(30)
        configuration.did = did
        let keeper = BadgeKeeper(configuration: configuration, logger: logger)
        let first: BadgeKeeper.Held
        do {
            first = try await keeper.acquire(current: nil)
        } catch {
            throw ConnectError.badge("\(error)")
        }
        return AgentIdentity(keeper: keeper, key: key, first: first)
    }

    static func loadKey(keysDir: String?) throws -> Ed25519KeyPair {
        let environment = ProcessInfo.processInfo.environment
        let jwkData: Data
        if let directory = keysDir ?? environment["TESSERA_KEYS_DIR"] {
            let path = (directory as NSString).appendingPathComponent("private.jwk")
            guard let data = FileManager.default.contents(atPath: path) else { throw ConnectError.noKey("cannot read \(path)") }
            jwkData = data
        } else if let inline = environment["TESSERA_AGENT_PRIVATE_KEY_JWK"] {
            jwkData = Data(inline.utf8)
        } else {
            throw ConnectError.noKey("give keysDir, TESSERA_KEYS_DIR or TESSERA_AGENT_PRIVATE_KEY_JWK")
        }
        do {
            return try Ed25519KeyPair(jwk: try StrictJSON.decode(JWK.self, from: jwkData))
        } catch {
            throw ConnectError.noKey("\(error)")
        }
    }
}

/// An agent with a badge that stays fresh: renewal runs in the background until ``close()``.
public final class AgentIdentity: Sendable {
    public let key: Ed25519KeyPair
    /// Shared with the renewal task, which must not retain `self` (``close()`` ends it).
    let badge: SharedMutex<BadgeKeeper.Held>
    let renewal: Mutex<Task<Void, Never>?>

    init(keeper: BadgeKeeper, key: Ed25519KeyPair, first: BadgeKeeper.Held) {
        self.key = key
        let badge = SharedMutex(first)
        self.badge = badge
        self.renewal = Mutex(nil)
        let task = Task {
            _ = try? await keeper.run(initial: first) { fresh in badge.withLock { $0 = fresh } }
        }
        renewal.withLock { $0 = task }
    }

    /// The current badge (compact JWS).
    public func currentBadge() -> String { badge.withLock { $0.token } }

    /// `"0"` (CA) or `"1"` (proof of possession).
    public var assurance: String { badge.withLock { $0.ial } }

    public var expires: Date { badge.withLock { $0.expires } }

    /// Adds `Authorization: Bearer <badge>` to an outgoing request, and a DPoP proof (RFC 9449)
    /// for its method and URL signed with the agent's key, so a service that requires proof of
    /// possession (``BadgeAuthMiddleware`` with `requireProof`) accepts it and a stolen badge
    /// alone is useless.
    public func authorize(_ request: inout HTTPClientRequest) {
        let badge = currentBadge()
        request.headers.replaceOrAdd(name: "Authorization", value: "Bearer \(badge)")
        if let proof = try? DPoPProofClaims.sign(method: request.method.rawValue, url: request.url, badge: badge, key: key, now: Date().unixSeconds) {
            request.headers.replaceOrAdd(name: "DPoP", value: proof)
        }
    }

    /// The DPoP proof for one request made with another HTTP library.
    public func proof(method: String, url: String) throws -> String {
        try DPoPProofClaims.sign(method: method, url: url, badge: currentBadge(), key: key, now: Date().unixSeconds)
    }

    public func close() {
        renewal.withLock { $0?.cancel() }
    }

    deinit { renewal.withLock { $0?.cancel() } }
}
