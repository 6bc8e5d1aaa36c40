import ArgumentParser
import Foundation
import TesseraCore

/// `tessera aat …`: Attenuating Agent Tokens (draft-niyikiza-oauth-attenuating-agent-tokens-01),
/// offline — for users and CI checking a chain and a call without a server.
struct AATCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aat", abstract: "Verify Attenuating Agent Token chains offline (draft-01 §7).",
        subcommands: [AATVerifyCommand.self])
}

struct AATVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Run draft-01 §7 on a chain, a call and its proof: prints permit (exit 0) or deny: <reason> (exit 1).")

    @Option(help: "A JSON array of compact JWTs, root first, or a JSON object with a `chain` member (e.g. a conformance fixture).")
    var chain: String
    @Option(name: .customLong("trust-anchor"), help: "The root's public key: a JWK or JWKS file.")
    var trustAnchor: String
    @Option(help: "This verifier's audience: the proof's aat_aud must equal it (omit to not require aat_aud).")
    var aud: String?
    @Option(help: "The tool called (compared as an exact string).")
    var tool: String
    @Option(help: "The call's arguments, a JSON object.")
    var arguments: String = "{}"
    @Option(help: "The proof of possession JWT signed by the leaf's key.")
    var pop: String
    @Option(help: "Verify as of this time (RFC 3339), instead of now.")
    var at: String?
    @Flag(help: "Print the verdict as JSON.")
    var json = false

    struct Verdict: Encodable {
        var verdict: String
        var reason: String?
        var link: Int?
        var step: String?
        var leaf_jti: String?
        var depth: Int?
    }

    func run() async throws {
        let tokens = try Self.readChain(chain)
        let keys: [ForeignPublicKey]
        do {
            keys = try Self.readKeys(trustAnchor)
        } catch {
            throw ValidationError("--trust-anchor: \(error)")
        }
        guard let argumentBytes = Optional(Array(arguments.utf8)), case .object(let args)? = try? StrictJSON.parse(argumentBytes) else {
            throw ValidationError("--arguments must be a JSON object")
        }
        var now = Int64(Date().timeIntervalSince1970)
        if let at {
            guard let date = ISO8601DateFormatter().date(from: at) else { throw ValidationError("--at must be an RFC 3339 time such as 2030-01-01T00:00:00Z") }
            now = Int64(date.timeIntervalSince1970)
        }
        let verifier = AATVerifier(anchors: keys.map { AATTrustAnchor(issuer: nil, key: $0) })
        let pop = self.pop.trimmingCharacters(in: .whitespacesAndNewlines)
        let (tool, aud) = (self.tool, self.aud)
        let outcome: Result<AATChain, AATFailure> = Result { () throws(AATFailure) -> AATChain in
            let verified = try verifier.verify(tokens, now: now)
            try verified.authorize(tool: tool, arguments: args)
            _ = try AATProof.verify(pop, chain: verified, tool: tool, arguments: args, audience: aud, now: now)
            return verified
        }
        switch outcome {
        case .success(let verified):
            if json {
                try Output.json(Verdict(verdict: "permit", leaf_jti: verified.leaf.jti, depth: verified.leaf.delDepth))
            } else {
                Output.result("permit")
            }
        case .failure(let failure):
            if json {
                try Output.json(Verdict(verdict: "deny", reason: failure.description, link: failure.link, step: failure.step))
            } else {
                Output.result("deny: \(failure.description)")
            }
            throw ExitCode(1)
        }
    }

    static func readChain(_ path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("--chain: cannot read \(path)") }
        let value: JSONValue
        do {
            value = try StrictJSON.parse(Array(data))
        } catch {
            throw ValidationError("--chain: \(path) is not JSON (\(error))")
        }
        var list = value
        if case .object(let object) = value, let inner = object["chain"] { list = inner }
        guard case .array(let items) = list, !items.isEmpty else { throw ValidationError("--chain must hold a non-empty JSON array of compact JWTs (or an object with a chain member)") }
        return try items.map { item in
            guard case .string(let token) = item else { throw ValidationError("--chain: every entry must be a compact JWT string") }
            return token
        }
    }

    static func readKeys(_ path: String) throws -> [ForeignPublicKey] {
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIFailure("cannot read \(path)") }
        let object = try StrictJSON.object(Array(data))
        if object["keys"] != nil { return try StrictJSON.decode(JWKSet.self, from: data).keys.map { try ForeignPublicKey(jwk: $0) } }
        return [try ForeignPublicKey(jwk: StrictJSON.decode(JWK.self, from: data))]
    }
}
