import ArgumentParser
import Foundation
import TesseraCore

/// `tessera aat …`: Attenuating Agent Tokens (draft-niyikiza-oauth-attenuating-agent-tokens-01),
/// offline — for users and CI checking a chain and a call without a server.
struct AATCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aat", abstract: "Verify Attenuating Agent Token chains offline (draft-01 §7).",
        subcommands: [AATVerifyCommand.self, AATDeriveCommand.self, AATProofCommand.self])
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
            _ = try verified.missionReference()
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
        return try ForeignPublicKey.keys(jwkOrJWKS: data)
    }
}

/// Key files for the AAT commands: JWKs on disk (private ones only where a signature is made).
enum AATKeyFiles {
    static func jwk(_ path: String, option: String) throws -> JWK {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("\(option): cannot read \(path)") }
        do {
            return try StrictJSON.decode(JWK.self, from: data)
        } catch {
            throw ValidationError("\(option): \(path) is not a JWK")
        }
    }

    /// The public part of a JWK file (public or private).
    static func publicJWK(_ path: String, option: String) throws -> JWK {
        var jwk = try jwk(path, option: option)
        if jwk.d != nil, jwk.x == nil, let signer = try? AATIssuance.SigningKey(privateJWK: jwk) { return signer.publicKey.jwk }
        jwk.d = nil
        do {
            return try ForeignPublicKey(jwk: jwk).jwk
        } catch {
            throw ValidationError("\(option): \(error)")
        }
    }
}

/// `tessera aat derive`: attenuates an AAT on the holder's machine (draft-01 §6). The holder's
/// private key signs; no server sees it.
struct AATDeriveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "derive",
        abstract: "Derive a narrower AAT from a parent you hold; prints the child token (--json: the child and the whole chain).")

    @Option(help: "The parent: a compact JWT file, or a JSON chain file (array root first, or an object with `chain`); the last token is the parent.")
    var parent: String
    @Option(help: "The parent holder's private JWK file (Ed25519 or P-256): it signs the child.")
    var key: String
    @Option(name: .customLong("child-key"), help: "The child holder's public JWK file (cnf.jwk of the new token).")
    var childKey: String
    @Option(help: "The child's tools, JSON: {\"tool\": {\"argument\": {\"constraint_type\": …}}} — each no wider than the parent's.")
    var tools: String
    @Option(help: "Lifetime in seconds (never past the parent's exp).")
    var ttl: Int?
    @Option(name: .customLong("max-depth"), help: "del_max_depth of the child (at most the parent's).")
    var maxDepth: Int?
    @Option(name: .customLong("max-tool-calls"), help: "The child's call budget (at most the parent's; default: the parent's).")
    var maxToolCalls: Int?
    @Flag(help: "Print {\"token\", \"chain\"} as JSON.")
    var json = false

    struct Derived: Encodable {
        var token: String
        var chain: [String]
    }

    func run() async throws {
        var chain: [String]
        let text = (FileManager.default.contents(atPath: parent).map { String(decoding: $0, as: UTF8.self) } ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw ValidationError("--parent: cannot read \(parent)") }
        if text.hasPrefix("[") || text.hasPrefix("{") {
            chain = try AATVerifyCommand.readChain(parent)
        } else {
            chain = [text]
        }
        let signer: AATIssuance.SigningKey
        do {
            signer = try AATIssuance.SigningKey(privateJWK: try AATKeyFiles.jwk(key, option: "--key"))
        } catch let error as KeyError {
            throw ValidationError("--key must be a private Ed25519 or P-256 JWK (\(error))")
        }
        let childPublic = try ForeignPublicKey(jwk: try AATKeyFiles.publicJWK(childKey, option: "--child-key"))
        guard case .object(let toolMap)? = try? StrictJSON.parse(Array(tools.utf8)) else { throw ValidationError("--tools must be a JSON object") }
        let parentJWS = try ForeignJWS(chain[chain.count - 1], maximumBytes: AATVerifier.maximumTokenBytes)
        // The parent as its own verifier reads it; its signature is not ours to check here, but
        // the key that signs the child must be the one the parent names.
        let parentToken: AATToken
        do {
            parentToken = try AATToken(jws: parentJWS, link: chain.count - 1, requireHolderKey: true)
        } catch {
            throw CLIFailure("parent: \(error)")
        }
        guard parentToken.holderKey == signer.publicKey else { throw CLIFailure("--key is not the parent's holder key (cnf.jwk)") }
        do {
            let claims = try AATIssuance.derivedClaims(
                parent: parentToken, tools: toolMap, child: childPublic, now: Int64(Date().timeIntervalSince1970), ttl: ttl.map(Int64.init), maxDepth: maxDepth, maxToolCalls: maxToolCalls)
            let token = try signer.sign(claims)
            chain.append(token)
            if json { try Output.json(Derived(token: token, chain: chain)) } else { Output.result(token) }
        } catch let failure as AATFailure {
            throw CLIFailure("cannot derive: \(failure.message) (draft-01 step \(failure.step))")
        }
    }
}

/// `tessera aat pop`: a proof of possession for one call (draft-01 §5.2), signed by the leaf's key.
struct AATProofCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pop", abstract: "Sign a proof of possession for one call; prints the JWT.")
    @Option(help: "The leaf token (compact JWT file, or a chain file whose last token is the leaf).") var token: String
    @Option(help: "The leaf holder's private JWK file.") var key: String
    @Option(help: "The tool called (for a session start: tessera:session/start).") var tool: String
    @Option(help: "The call's arguments, a JSON object.") var arguments: String = "{}"
    @Option(help: "The verifier's audience (aat_aud), e.g. Tessera's public URL.") var aud: String?

    func run() async throws {
        let text = (FileManager.default.contents(atPath: token).map { String(decoding: $0, as: UTF8.self) } ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let leaf = text.hasPrefix("[") || text.hasPrefix("{") ? try AATVerifyCommand.readChain(token).last! : text
        guard let jti = ForeignJWSJTI.read(leaf) else { throw ValidationError("--token: not an AAT with a jti") }
        guard case .object(let args)? = try? StrictJSON.parse(Array(arguments.utf8)) else { throw ValidationError("--arguments must be a JSON object") }
        let signer = try AATIssuance.SigningKey(privateJWK: try AATKeyFiles.jwk(key, option: "--key"))
        Output.result(try signer.sign(AATIssuance.proofClaims(leafJTI: jti, tool: tool, arguments: args, audience: aud, now: Int64(Date().timeIntervalSince1970))))
    }
}

enum ForeignJWSJTI {
    static func read(_ token: String) -> String? { (try? ForeignJWS(token, maximumBytes: AATVerifier.maximumTokenBytes))?.unverifiedJTI }
}
