import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TesseraClient
import TesseraCore

struct BadgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "badge", abstract: "Issue, verify, inspect and keep trust badges.",
        subcommands: [Issue.self, Verify.self, Inspect.self, Keep.self, Health.self])

    static func duration(_ text: String, _ name: String) throws -> Duration {
        guard let value = DurationText.parse(text) else { throw ValidationError("\(name): expected a duration such as 1h, 10m, 6s") }
        return value
    }

    static func readKey(_ path: String) throws -> Ed25519KeyPair {
        guard let data = FileManager.default.contents(atPath: path), let jwk = try? StrictJSON.decode(JWK.self, from: data) else {
            throw CLIFailure("cannot read a private JWK from \(path)")
        }
        do {
            return try Ed25519KeyPair(jwk: jwk)
        } catch {
            throw CLIFailure("\(path): \(error)")
        }
    }

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Get a badge and print the JWS: PoP (IAL-1) with --key, CA (IAL-0) with a badges:issue credential, or --self-sign (level 0, no registry).")
        @OptionGroup var options: ClientOptions
        @Option(help: "The agent's DID or registered id.") var agent: String?
        @Option(help: "The agent's private.jwk: prove possession for an IAL-1 badge (or sign a --self-sign badge).") var key: String?
        @Option(help: "The agent's DID for the proof (default: --agent if a DID, else the key's did:key).") var did: String?
        @Option(help: "Lifetime, e.g. 5m (RFC-002: 60 s to 1 h).") var exp: String = "5m"
        @Option(help: "Audience (repeatable).") var aud: [String] = []
        @Flag(help: "A self-signed level-0 did:key badge for development (iss = sub); needs --key, no server.") var selfSign = false
        @Option(help: "Domain claim of a self-signed badge.") var domain: String?

        func run() async throws {
            let seconds = Int(try BadgeCommand.duration(exp, "--exp").components.seconds)
            let pair = try key.map(BadgeCommand.readKey)
            if selfSign {
                guard let pair else { throw ValidationError("--self-sign needs --key") }
                let token = try SelfSignedBadge.issue(key: pair, lifetime: seconds, audience: aud.isEmpty ? nil : aud, domain: domain)
                Output.context("self-signed level-0 badge for \(pair.publicKey.did), expires in \(seconds)s")
                return Output.result(token)
            }
            guard let agent else { throw ValidationError("give --agent (or --self-sign)") }
            let client = try options.client(requireToken: true)
            let issued: TesseraHTTPClient.IssuedBadge = try await AgentCommand.run { () async throws(ClientError) in
                if let pair {
                    let did = did ?? (agent.hasPrefix("did:") ? agent : pair.publicKey.did)
                    return try await client.issuePoPBadge(did: did, key: pair, lifetime: seconds, audience: aud.isEmpty ? nil : aud)
                }
                return try await client.issueBadge(agent: agent, lifetime: seconds, audience: aud.isEmpty ? nil : aud)
            }
            if options.json { return try Output.json(issued) }
            Output.context("IAL-\(issued.ial) badge \(issued.jti), expires \(issued.expires_at)")
            Output.result(issued.token)
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a badge (RFC-002 §8.1) offline or against a registry; prints claims; exit 1 with the error code.",
            discussion: """
                BADGE is a file path, @file, - (stdin) or the token itself. Online (--server) the registry's JWKS, \
                the badge's status list and (IAL-1 did:web) its DID document are fetched from that server. \
                Offline, --jwks gives the issuer keys and --status-list a status list token file.
                """)
        @Argument(help: "The badge: a file, @file, - or the token.") var token: String
        @Option(help: "JWKS file (offline).") var jwks: String?
        @Option(name: [.customLong("status-list"), .customLong("status")], help: "Status list token file (offline revocation).") var statusList: String?
        @Option(help: "Verify against this registry (fetch JWKS, status list, DID document).") var server: String?
        @Option(help: "Trusted issuer origin (repeatable; default: --server, or offline the badge's own issuer).") var issuer: [String] = []
        @Option(help: "This verifier's identity. A badge with aud must list it; without --audience, a badge that names any audience is refused (BADGE_AUDIENCE_MISMATCH).") var audience: String?
        @Option var minIal: Int = 0
        @Flag(help: "Fail (BADGE_REVOCATION_UNAVAILABLE) without a fresh status list.") var requireStatus = false
        @Flag(help: "Accept self-signed level-0 did:key badges (development).") var allowSelfSigned = false
        @Option(help: "Accept self-signed badges of this did:key only (repeatable).") var trustDid: [String] = []
        @Flag var json = false

        func run() async throws {
            let badge = try readArgument(token)
            let selfSigned: SelfSignedPolicy = !trustDid.isEmpty ? .only(Set(trustDid)) : allowSelfSigned ? .any : .refuse
            let claims: BadgeClaims
            do {
                if let server {
                    let origin = server.hasSuffix("/") ? String(server.dropLast()) : server
                    let verifier = try RegistryBadgeVerifier(
                        server: server,
                        verification: BadgeVerification(
                            trustedIssuers: issuer.isEmpty ? [origin] : Set(issuer), audience: audience, minimumIAL: minIal,
                            requireFreshStatus: requireStatus, selfSigned: selfSigned))
                    claims = try await verifier.verify(badge)
                } else {
                    claims = try await offline(badge, selfSigned: selfSigned)
                }
            } catch let error as BadgeError {
                if json { try Output.json(["valid": JSONValue.bool(false), "error": .string(error.rawValue)]) } else { Output.result(error.rawValue) }
                throw ExitCode(1)
            }
            if json {
                try Output.json(claims)
            } else {
                let expires = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(claims.exp ?? 0)))
                Output.result("VALID: \(claims.sub) IAL-\(claims.ial) level \(claims.level) jti \(claims.jti), expires \(expires)")
            }
        }

        func offline(_ badge: String, selfSigned: SelfSignedPolicy) async throws -> BadgeClaims {
            var keys: JWSVerifier?
            if let jwks {
                guard let data = FileManager.default.contents(atPath: jwks), let set = try? StrictJSON.decode(JWKSet.self, from: data) else {
                    throw CLIFailure("cannot read a JWK Set from \(jwks)")
                }
                keys = await JWSVerifier(jwks: set)
            } else if selfSigned == .refuse {
                throw ValidationError("give --jwks FILE or --server URL (or --allow-self-signed for level-0 badges)")
            }
            var lists: [String: StatusLookup] = [:]
            if let statusList, let keys {
                let text = try readArgument("@" + statusList)
                // The list's own `sub` says which URI it is (checked again against the badge).
                if let sub = CompactJWS.unverifiedPayload(text, as: StatusListClaims.self)?.sub,
                    let (list, claims) = StatusListVerifier.verify(text, uri: sub, keys: keys)
                {
                    lists[sub] = .list(list, fresh: StatusListVerifier.isFresh(claims, now: Date()))
                } else {
                    Output.context("warning: \(statusList) is not a status list token signed by these keys; ignored")
                }
            }
            var trusted = Set(issuer)
            if trusted.isEmpty, let iss = CompactJWS.unverifiedPayload(badge, as: [String: JSONValue].self)?["iss"], case .string(let value) = iss {
                // Offline without --issuer, the JWKS file is the trust anchor.
                trusted = [value]
            }
            let verification = BadgeVerification(
                trustedIssuers: trusted, audience: audience, minimumIAL: minIal, requireFreshStatus: requireStatus, selfSigned: selfSigned)
            return try verification.verify(badge, now: Date().unixSeconds, keys: { _ in keys }, status: { lists[$0] ?? .unavailable })
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Decode a badge without verifying it.")
        @Argument var token: String

        func run() throws {
            try PassportCommand.Inspect.parse([try readArgument(token)]).run()
        }
    }

    struct Keep: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Keep a badge fresh in a file: PoP first, CA as a logged fallback, atomic 0600 writes.",
            discussion: "Stops cleanly on SIGTERM/SIGINT. --once issues one badge and exits.")
        @Option(help: "The agent's DID: the proof's sub and the route key (default: the key's did:key).") var sub: String?
        @Option(help: "The agent's domain (informative: badges carry the domain registered with the agent).") var domain: String?
        @Option(help: "The issuer badges must name (the registry origin); a badge naming another is refused.") var iss: String?
        @Option(help: "Badge lifetime.") var exp = "1h"
        @Option(help: "The agent's private.jwk.") var key: String?
        @Option(help: "Output file for the current badge.") var out = "badge.jwt"
        @Option(help: "Renew this long before expiry.") var renewBefore = "10m"
        @Option(help: "Wake at least this often.") var checkInterval = "1m"
        @Option(help: "The registered agent's id or DID (default: --sub).") var agent: String?
        @Option(help: "Server URL (default TESSERA_SERVER or http://127.0.0.1:8787).") var server: String?
        @Option(help: "badges:issue credential for CA issuance (default TESSERA_API_KEY).") var apiKey: String?
        @Option(help: "pop, ca or auto (PoP first, CA on failure).") var mode = "auto"
        @Option(help: "Audience (repeatable).") var aud: [String] = []
        @Flag(help: "Issue one badge and exit.") var once = false

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            guard let mode = BadgeKeeper.Mode(rawValue: mode) else { throw ValidationError("--mode must be pop, ca or auto") }
            guard let agentReference = agent ?? sub else { throw ValidationError("give --agent ID or --sub DID") }
            var config = BadgeKeeper.Configuration(
                server: server ?? environment["TESSERA_SERVER"] ?? "http://127.0.0.1:8787", agentID: agentReference, output: out)
            config.key = try key.map(BadgeCommand.readKey)
            config.apiKey = apiKey ?? environment["TESSERA_API_KEY"]
            config.mode = mode
            config.lifetime = try BadgeCommand.duration(exp, "--exp")
            config.renewBefore = try BadgeCommand.duration(renewBefore, "--renew-before")
            config.checkInterval = try BadgeCommand.duration(checkInterval, "--check-interval")
            config.audience = aud.isEmpty ? nil : aud
            config.issuer = iss
            config.did = sub
            guard config.renewBefore < config.lifetime else { throw ValidationError("--renew-before must be shorter than --exp") }
            if let sub, sub.hasPrefix("did:key:"), let pair = config.key, pair.publicKey.did != sub {
                throw ValidationError("--sub \(sub) is not the DID of --key (\(pair.publicKey.did))")
            }
            LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
            let keeper = BadgeKeeper(configuration: config, logger: Logger(label: "tessera.keeper"))
            if once {
                do {
                    try await keeper.run(once: true)
                } catch {
                    throw CLIFailure("\(error)")
                }
                return
            }
            let group = ServiceGroup(
                configuration: .init(services: [KeeperService(keeper: keeper)], gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "tessera.keeper")))
            try await group.run()
        }
    }

    struct KeeperService: Service {
        let keeper: BadgeKeeper
        func run() async throws {
            try await cancelWhenGracefulShutdown { try await keeper.run() }
        }
    }

    struct Health: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a badge file: exit 0 OK, 1 WARNING (expires within --min-remaining), 2 CRITICAL (expired or unreadable).")
        @Argument var file: String
        @Option var minRemaining = "5m"

        func run() throws {
            let threshold = BadgeKeeper.seconds(try BadgeCommand.duration(minRemaining, "--min-remaining"))
            guard let data = FileManager.default.contents(atPath: file) else {
                print("CRITICAL: cannot read \(file)")
                throw ExitCode(2)
            }
            let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            struct Lifetime: Decodable { var exp: Int64?; var ial: String; var jti: String }
            guard let claims = CompactJWS.unverifiedPayload(token, as: Lifetime.self), let exp = claims.exp else {
                print("CRITICAL: \(file) does not hold a badge")
                throw ExitCode(2)
            }
            let remaining = TimeInterval(exp) - Date().timeIntervalSince1970
            if remaining <= 0 {
                print("CRITICAL: badge expired \(Int(-remaining))s ago (IAL-\(claims.ial), \(claims.jti))")
                throw ExitCode(2)
            }
            if remaining < threshold {
                print("WARNING: badge expires in \(Int(remaining))s (IAL-\(claims.ial), \(claims.jti))")
                throw ExitCode(1)
            }
            print("OK: badge valid for \(Int(remaining))s (IAL-\(claims.ial), \(claims.jti))")
        }
    }
}
