import Foundation
import Logging
import TesseraCore
import TesseraFileSystem

/// Keeps an agent's badge fresh on disk, with no downtime: issues at start, renews
/// `renewBefore` ahead of expiry (with jitter), retries with capped exponential back-off while
/// the current badge is still valid, and never replaces a valid IAL-1 badge by an IAL-0 one until
/// the IAL-1 path has kept failing and expiry is near. Every write is atomic and 0600.
public struct BadgeKeeper: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        case pop, ca, auto
    }

    public struct Configuration: Sendable {
        public var server: String
        public var agentID: String
        /// The agent's key, for PoP. Without one only CA issuance is possible.
        public var key: Ed25519KeyPair?
        /// A credential with `badges:issue`, for CA issuance.
        public var apiKey: String?
        public var mode: Mode = .auto
        public var lifetime: Duration = .seconds(3600)
        public var renewBefore: Duration = .seconds(600)
        public var checkInterval: Duration = .seconds(60)
        public var output: String
        public var audience: [String]?
        /// The agent's DID (`--sub`): the RFC-003 proof's `sub` and the route key. Default: the
        /// agent reference if it is a DID, else the key's `did:key`.
        public var did: String?
        /// The issuer a badge must name (`--iss`); a badge from another issuer is refused.
        public var issuer: String?

        /// Per-request deadline: half the renewal margin (1–10 s), so an unreachable registry is
        /// noticed and retried well before the badge in hand expires.
        public var requestTimeout: Duration {
            let half = BadgeKeeper.seconds(renewBefore) / 2
            return .milliseconds(Int64(min(10, max(1, half)) * 1000))
        }

        public init(server: String, agentID: String, output: String) {
            self.server = server
            self.agentID = agentID
            self.output = output
        }
    }

    public let configuration: Configuration
    let logger: Logger
    let now: @Sendable () -> Date

    public init(configuration: Configuration, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }) {
        self.configuration = configuration
        self.logger = logger
        self.now = now
    }

    public struct Held: Sendable, Equatable {
        public var token: String
        public var ial: String
        public var jti: String
        public var expires: Date
        public var issuer: String = ""
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// One issuance: PoP first (unless mode is `ca`), CA as the logged fallback (unless `pop`).
    /// `current` is the badge in hand; an IAL-1 badge with time left is not downgraded.
    public func acquire(current: Held?) async throws -> Held {
        let c = configuration
        let seconds = Int(c.lifetime.components.seconds)
        var popError: (any Error)?
        if c.mode != .ca {
            if let key = c.key {
                do {
                    // Phase 1 is authenticated (RFC-003 §3.3): with the IAL-1 badge in hand if it is
                    // still valid (an agent renews by PoP on its own credential, no API key needed),
                    // else — or if the registry refuses the badge — with the API key.
                    let did = c.did ?? (c.agentID.hasPrefix("did:") ? c.agentID : key.publicKey.did)
                    let held = current.flatMap { $0.ial == "1" && $0.expires > now().addingTimeInterval(5) ? $0.token : nil }
                    let credentials = [held, c.apiKey].compactMap { $0 }
                    var lastError: (any Error)?
                    for (index, credential) in (credentials.isEmpty ? [nil] : credentials.map { Optional($0) }).enumerated() {
                        do {
                            let client = try TesseraHTTPClient(baseURL: c.server, token: credential, timeout: c.requestTimeout)
                            return try checked(try Self.held(try await client.issuePoPBadge(
                                did: did, agent: c.agentID, key: key, lifetime: seconds, audience: c.audience)))
                        } catch ClientError.server(let status, let body) where status == 401 && index + 1 < credentials.count {
                            lastError = ClientError.server(status: status, body: body)
                            continue
                        }
                    }
                    throw lastError ?? Failure(description: "no credential for the PoP challenge")
                } catch {
                    popError = error
                }
            } else {
                popError = Failure(description: "no agent key (--key) for proof of possession")
            }
            if c.mode == .pop { throw Failure(description: "PoP badge refused: \(popError!)") }
            if let current, current.ial == "1", current.expires.timeIntervalSince(now()) > fallbackThreshold {
                throw Failure(description: "PoP renewal failed (\(popError!)); keeping the IAL-1 badge, which is still valid until \(current.expires)")
            }
            logger.warning(
                "PoP badge failed; falling back to a CA-issued (IAL-0) badge",
                metadata: ["cause": "\(popError!)", "agent": "\(c.agentID)"])
        }
        guard let apiKey = c.apiKey else {
            throw Failure(description: "CA issuance needs an API key (--api-key or TESSERA_API_KEY)" + (popError.map { "; PoP failed: \($0)" } ?? ""))
        }
        let client = try TesseraHTTPClient(baseURL: c.server, token: apiKey, timeout: c.requestTimeout)
        return try checked(try Self.held(try await client.issueBadge(agent: c.did ?? c.agentID, lifetime: seconds, audience: c.audience)))
    }

    /// A badge from an issuer other than `--iss` is not kept.
    func checked(_ held: Held) throws -> Held {
        if let issuer = configuration.issuer, held.issuer != issuer {
            throw Failure(description: "the registry issued a badge for issuer \(held.issuer), not \(issuer)")
        }
        return held
    }

    /// Below this much remaining lifetime, a failing IAL-1 renewal may fall back to IAL-0.
    var fallbackThreshold: TimeInterval { Self.seconds(configuration.renewBefore) / 3 }

    static func held(_ issued: TesseraHTTPClient.IssuedBadge) throws -> Held {
        guard let claims = CompactJWS.unverifiedPayload(issued.token, as: BadgeClaims.self), let exp = claims.exp else {
            throw Failure(description: "the registry returned an unreadable badge")
        }
        return Held(
            token: issued.token, ial: claims.ial, jti: claims.jti, expires: Date(timeIntervalSince1970: TimeInterval(exp)), issuer: claims.iss ?? "")
    }

    public func write(_ held: Held) throws {
        try PrivateFiles.writeAtomically(Array((held.token + "\n").utf8), to: configuration.output)
    }

    /// When to renew a badge: `renewBefore` ahead of expiry, minus up to 10 % jitter so a fleet
    /// does not renew in lockstep.
    public func renewalTime(for held: Held) -> Date {
        let ahead = Self.seconds(configuration.renewBefore)
        return held.expires.addingTimeInterval(-ahead - Double.random(in: 0...(ahead * 0.1)))
    }

    /// Runs until cancelled (or once), handing every new badge to `deliver` (the keeper writes the
    /// file; the SDK keeps it in memory). With `initial`, the first renewal waits for its time.
    /// Returns normally on cancellation.
    public func run(once: Bool = false, initial: Held? = nil, deliver: (@Sendable (Held) throws -> Void)? = nil) async throws {
        var current = initial
        var failures = 0
        if let initial {
            do { try await sleep(until: renewalTime(for: initial)) } catch { return }
        }
        while !Task.isCancelled {
            do {
                let fresh = try await acquire(current: current)
                if let deliver { try deliver(fresh) } else { try write(fresh) }
                if let previous = current, previous.ial == "1", fresh.ial == "0" {
                    logger.warning("badge downgraded to IAL-0: IAL-1 renewal kept failing until expiry was near", metadata: ["jti": "\(fresh.jti)"])
                }
                current = fresh
                failures = 0
                logger.info(
                    "badge renewed",
                    metadata: ["jti": "\(fresh.jti)", "ial": "\(fresh.ial)", "expires": "\(ISO8601DateFormatter().string(from: fresh.expires))", "file": "\(configuration.output)"])
                if once { return }
                try await sleep(until: renewalTime(for: fresh))
            } catch is CancellationError {
                return
            } catch {
                failures += 1
                if once { throw error }
                let remaining = current.map { $0.expires.timeIntervalSince(now()) } ?? 0
                let delay = backoff(failures: failures, remaining: remaining)
                logger.warning(
                    "badge renewal failed; retrying",
                    metadata: [
                        "error": "\(error)", "attempt": "\(failures)", "retry_in_s": "\(String(format: "%.1f", delay))",
                        "current_valid_s": "\(Int(max(0, remaining)))",
                    ])
                do {
                    try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                } catch {
                    return
                }
            }
        }
    }

    /// Capped exponential back-off with full jitter: 0.5 s, 1 s, 2 s … capped at the check
    /// interval, and at a quarter of the remaining lifetime so a retry still lands in time.
    public func backoff(failures: Int, remaining: TimeInterval) -> TimeInterval {
        var cap = min(Self.seconds(configuration.checkInterval), 60)
        if remaining > 0 { cap = min(cap, max(0.2, remaining / 4)) }
        let base = min(cap, 0.5 * pow(2, Double(min(failures - 1, 16))))
        return max(0.1, Double.random(in: (base / 2)...base))
    }

    func sleep(until date: Date) async throws {
        // Wake at least every check interval (clock jumps, suspended laptops).
        while true {
            let remaining = date.timeIntervalSince(now())
            if remaining <= 0 { return }
            let step = min(remaining, Self.seconds(configuration.checkInterval))
            try await Task.sleep(for: .milliseconds(Int(step * 1000)))
        }
    }

    public static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// `1h`, `10m`, `6s`, `500ms`, `1h30m`: the keeper's duration flags.
public enum DurationText {
    public static func parse(_ text: String) -> Duration? {
        var total = 0.0
        var number = ""
        var unit = ""
        var parsedAny = false
        func flush() -> Bool {
            guard let value = Double(number) else { return false }
            switch unit {
            case "h": total += value * 3600
            case "m": total += value * 60
            case "s", "": total += value
            case "ms": total += value / 1000
            default: return false
            }
            parsedAny = true
            number = ""
            unit = ""
            return true
        }
        for char in text {
            if char.isNumber || char == "." {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(char)
            } else if char.isLetter {
                unit.append(char)
            } else {
                return nil
            }
        }
        guard !number.isEmpty, flush(), parsedAny, total > 0 else { return nil }
        return .milliseconds(Int64((total * 1000).rounded()))
    }
}
