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
            abstract: "Get a badge: PoP (IAL-1) with --key, else CA (IAL-0) with a badges:issue credential; prints the JWS.")
        @OptionGroup var options: ClientOptions
        @Option var agent: String
        @Option(help: "The agent's private.jwk: prove possession for an IAL-1 badge.") var key: String?
        @Option(help: "Lifetime, e.g. 1h.") var exp: String = "1h"
        @Option(help: "Audience (repeatable).") var aud: [String] = []
        @Option(help: "The registry's issuer (aud of the proof).") var registry = "tessera"

        func run() async throws {
            let seconds = Int(try BadgeCommand.duration(exp, "--exp").components.seconds)
            let client = try options.client(requireToken: key == nil)
            let pair = try key.map(BadgeCommand.readKey)
            let issued: TesseraHTTPClient.IssuedBadge = try await AgentCommand.run { () async throws(ClientError) in
                if let pair {
                    return try await client.issuePoPBadge(agentID: agent, key: pair, registry: registry, lifetime: seconds, audience: aud.isEmpty ? nil : aud)
                }
                return try await client.issueBadge(agentID: agent, lifetime: seconds, audience: aud.isEmpty ? nil : aud)
            }
            if options.json { return try Output.json(issued) }
            Output.context("IAL-\(issued.ial) badge, expires \(issued.expires_at)")
            Output.result(issued.token)
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a badge offline (JWKS file) or against a server; prints claims; exit 1 with the error code.")
        @Argument(help: "The badge, @file or -.") var token: String
        @Option(help: "JWKS file (offline).") var jwks: String?
        @Option(help: "Status list file (the JSON of GET /v1/badges/status), offline revocation.") var status: String?
        @Option(help: "Fetch JWKS and status list from this server.") var server: String?
        @Option(help: "Trusted issuer (repeatable; default: any).") var issuer: [String] = []
        @Option var audience: String?
        @Option var minIal: Int = 0
        @Flag(help: "Fail (BADGE_REVOCATION_UNAVAILABLE) without a fresh status list.") var requireStatus = false
        @Flag var json = false

        func run() async throws {
            let badge = try readArgument(token)
            var set: JWKSet
            var statusToken: String?
            if let server {
                let client = try TesseraHTTPClient(baseURL: server)
                set = try await AgentCommand.run { () async throws(ClientError) in try await client.jwks() }
                statusToken = try? await client.badgeStatus().token
            } else if let jwks, let data = FileManager.default.contents(atPath: jwks), let decoded = try? StrictJSON.decode(JWKSet.self, from: data) {
                set = decoded
            } else {
                throw ValidationError("give --jwks FILE or --server URL")
            }
            if let status {
                guard let data = FileManager.default.contents(atPath: status) else { throw CLIFailure("cannot read \(status)") }
                statusToken = (try? StrictJSON.decode(TesseraHTTPClient.StatusList.self, from: data).token)
                    ?? String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let keys = await JWSVerifier(jwks: set)
            let verification = BadgeVerification(
                trustedIssuers: issuer.isEmpty ? nil : Set(issuer), audience: audience, minimumIAL: minIal, requireFreshStatus: requireStatus)
            let list = await BadgeStatusCache.verifiedList(statusToken, keys: keys)
            let claims: BadgeClaims
            do {
                claims = try await verification.verify(badge, keys: keys, status: list)
            } catch {
                if json { try Output.json(["valid": JSONValue.bool(false), "error": .string(error.rawValue)]) } else { Output.result(error.rawValue) }
                throw ExitCode(1)
            }
            if json {
                try Output.json(claims)
            } else {
                let expires = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(claims.exp ?? 0)))
                Output.result("VALID: \(claims.sub) IAL-\(claims.ial) agent \(claims.agent_id), expires \(expires)")
            }
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
        @Option(help: "The agent's DID (checked against the registered agent; informative).") var sub: String?
        @Option var domain: String?
        @Option(help: "The registry's issuer (aud of PoP proofs).") var iss = "tessera"
        @Option(help: "Badge lifetime.") var exp = "1h"
        @Option(help: "The agent's private.jwk.") var key: String?
        @Option(help: "Output file for the current badge.") var out = "badge.jwt"
        @Option(help: "Renew this long before expiry.") var renewBefore = "10m"
        @Option(help: "Wake at least this often.") var checkInterval = "1m"
        @Option(help: "The registered agent id.") var agent: String
        @Option(help: "Server URL (default TESSERA_SERVER or http://127.0.0.1:8787).") var server: String?
        @Option(help: "badges:issue credential for CA issuance (default TESSERA_API_KEY).") var apiKey: String?
        @Option(help: "pop, ca or auto (PoP first, CA on failure).") var mode = "auto"
        @Option(help: "Audience (repeatable).") var aud: [String] = []
        @Flag(help: "Issue one badge and exit.") var once = false

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            guard let mode = BadgeKeeper.Mode(rawValue: mode) else { throw ValidationError("--mode must be pop, ca or auto") }
            var config = BadgeKeeper.Configuration(
                server: server ?? environment["TESSERA_SERVER"] ?? "http://127.0.0.1:8787", agentID: agent, output: out)
            config.key = try key.map(BadgeCommand.readKey)
            config.apiKey = apiKey ?? environment["TESSERA_API_KEY"]
            config.mode = mode
            config.lifetime = try BadgeCommand.duration(exp, "--exp")
            config.renewBefore = try BadgeCommand.duration(renewBefore, "--renew-before")
            config.checkInterval = try BadgeCommand.duration(checkInterval, "--check-interval")
            config.audience = aud.isEmpty ? nil : aud
            config.registry = iss
            guard config.renewBefore < config.lifetime else { throw ValidationError("--renew-before must be shorter than --exp") }
            if let sub, let pair = config.key, pair.publicKey.did != sub {
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
            guard let claims = CompactJWS.unverifiedPayload(token, as: BadgeClaims.self), let exp = claims.exp else {
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
