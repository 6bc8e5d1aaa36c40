import ArgumentParser
import Foundation
import NIOHTTP1
import TesseraClient
import TesseraCore

/// Governance calls answer `{"error":"…"}`; print that as the failure.
func governanceCall(
    _ options: ClientOptions, _ path: String, _ body: [String: JSONValue]?, requireToken: Bool = false, method: HTTPMethod = .POST
) async throws -> [String: JSONValue] {
    try await governanceCall(options, path, body: body, requireToken: requireToken, method: method)
}

/// One call through the SDK with a typed body (a ``GovernanceWire`` request, the contract the
/// server reads); the answer as the server sent it, printed whole with `--json`.
func governanceCall<Body: Encodable>(
    _ options: ClientOptions, _ path: String, body: Body?, requireToken: Bool = false, method: HTTPMethod = .POST
) async throws -> [String: JSONValue] {
    let client = try options.client(requireToken: requireToken)
    let (status, bytes): (Int, [UInt8])
    do {
        (status, bytes) = try await client.raw(method, path, body: body)
    } catch {
        throw CLIFailure(error.description)
    }
    let object = (try? StrictJSON.decode([String: JSONValue].self, from: Data(bytes))) ?? [:]
    guard (200..<300).contains(status) else {
        throw CLIFailure(ClientError.server(status: status, body: String(decoding: bytes, as: UTF8.self)).description)
    }
    if options.json { try Output.json(object) }
    return object
}

func readArgument(_ value: String) throws -> String {
    // "-" reads stdin; "@file" reads a file; so does a path to an existing file (a token never
    // contains "/", and one that is not a file is refused rather than taken as token text).
    // Inline JSON is text, whatever it contains: a mission's resource_scope is full of "/".
    if value == "-" { return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
    if let first = value.first(where: { !$0.isWhitespace }), first == "{" || first == "[" { return value }
    let path = value.hasPrefix("@") ? String(value.dropFirst()) : value
    var isDirectory: ObjCBool = false
    if value.hasPrefix("@") || FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) || value.contains("/") {
        guard !isDirectory.boolValue, let data = FileManager.default.contents(atPath: path) else { throw CLIFailure("cannot read \(path)") }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
    return value
}

func parseJSONObject(_ text: String, name: String) throws -> [String: JSONValue] {
    guard let object = try? StrictJSON.decode([String: JSONValue].self, from: Data(text.utf8)) else {
        throw ValidationError("\(name) must be a JSON object")
    }
    return object
}

struct PassportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passport", abstract: "Issue, verify and inspect mission passports.",
        subcommands: [Issue.self, Verify.self, Inspect.self])

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a passport (needs passports:issue); prints the token.")
        @OptionGroup var options: ClientOptions
        @Option(help: "Mission JSON, @file or - (fields: agent_id, mission, allowed_tools, …).") var mission: String
        @Option(help: "Lifetime in seconds (default 900).") var ttl: Int?
        @Option(help: "Bind to an agent key: its RFC 7638 thumbprint (cnf.jkt).") var cnfJkt: String?
        @Option(help: "A resource the passport is for (aud), e.g. an MCP endpoint URL; repeatable.") var audience: [String] = []
        @Option(help: "passport (default) or aat: a root Attenuating Agent Token (draft-01) bound to --holder-key.") var format: String = "passport"
        @Option(help: "With --format aat: the holder's public JWK file (a private one is read for its public part only).") var holderKey: String?

        func validate() throws {
            guard ["passport", "aat"].contains(format) else { throw ValidationError("--format must be passport or aat") }
            if format == "aat", holderKey == nil { throw ValidationError("--format aat needs --holder-key JWK_FILE") }
            if format == "passport", holderKey != nil { throw ValidationError("--holder-key is for --format aat") }
        }

        func run() async throws {
            var body = GovernanceWire.IssueRequest(
                mission: try parseJSONObject(try readArgument(mission), name: "--mission"), ttl_s: ttl, cnf_jkt: cnfJkt,
                audience: audience.isEmpty ? nil : audience)
            if format == "aat", let holderKey {
                body.format = "aat"
                // The public members only: the server refuses any other.
                let jwk = try AATKeyFiles.publicJWK(holderKey, option: "--holder-key")
                body.holder_key = JWK(kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y)
            }
            let response = try await governanceCall(options, "/issue", body: body, requireToken: true)
            if !options.json, case .string(let token)? = response["token"] { Output.result(token) }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a passport with the server; prints its claims.",
            discussion: "--status-list checks it the way any third party can: the signature against the JWKS, revocation in the passport's Token Status List.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The passport: a file, @file, - or the token.") var token: String
        @Flag(help: "Verify with the published JWKS and status list instead of /verify.") var statusList = false

        func run() async throws {
            if statusList {
                let text = try readArgument(token)
                let client = try options.client(requireToken: false)
                let claims: PassportClaims
                do {
                    claims = try await PassportStatusCheck.verify(text, client: client)
                } catch {
                    Output.result(error.description)
                    throw ExitCode(1)
                }
                return try Output.json(claims)
            }
            let response = try await governanceCall(options, "/verify", body: GovernanceWire.VerifyRequest(token: try readArgument(token)))
            if !options.json, let claims = response["claims"] { try Output.json(claims) }
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Decode a passport's header and claims without verifying (offline).")
        @Argument(help: "The passport, @file or -.") var token: String

        func run() throws {
            let text = try readArgument(token)
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3, let header = Base64URL.decode(parts[0]), let payload = Base64URL.decode(parts[1]),
                let headerJSON = try? StrictJSON.decode(JSONValue.self, from: Data(header)),
                let payloadJSON = try? StrictJSON.decode(JSONValue.self, from: Data(payload))
            else { throw CLIFailure("not a compact JWS") }
            Output.context("(not verified: use `tessera passport verify` to check the signature)")
            try Output.json(["header": headerJSON, "claims": payloadJSON])
        }
    }
}

struct SessionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session", abstract: "Start a governed session, evaluate tool calls, end it.",
        subcommands: [Start.self, Evaluate.self, End.self])

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start the passport's session; prints the session id.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The passport, @file or -.") var token: String

        func run() async throws {
            let response = try await governanceCall(options, "/session/start", body: GovernanceWire.StartRequest(token: try readArgument(token)))
            if !options.json, case .string(let id)? = response["session_id"] { Output.result(id) }
        }
    }

    struct Evaluate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask whether a tool call is permitted; prints PERMIT or DENY (exit 1 on DENY).")
        @OptionGroup var options: ClientOptions
        @Option var session: String
        @Option var tool: String
        @Option(help: "Arguments JSON object.") var arguments: String = "{}"
        @Option(name: .customLong("request-id"), help: "Idempotency key: a retry with the same id returns the first answer.") var requestID: String?

        func run() async throws {
            let body = GovernanceWire.EvaluateRequest(
                session_id: session, tool_name: tool, arguments: try parseJSONObject(arguments, name: "--arguments"), request_id: requestID)
            let response = try await governanceCall(options, "/evaluate", body: body)
            guard case .string(let decision)? = response["decision"] else { throw CLIFailure("no decision in the response") }
            if !options.json {
                Output.result(decision)
                if case .string(let reason)? = response["reason"] { Output.context(reason) }
                if case .array(let violations)? = response["violations"] {
                    for case .object(let v) in violations {
                        if case .string(let a)? = v["argument"], case .string(let c)? = v["constraint"], case .string(let d)? = v["detail"] {
                            Output.context("  \(a): \(c): \(d)")
                        }
                    }
                }
                if case .string(let id)? = response["approval_id"], decision == "APPROVAL_REQUIRED" {
                    Output.context("approval \(id) pending: tessera approval grant \(id)")
                }
            }
            if decision != "PERMIT" { throw ExitCode(1) }
        }
    }

    struct End: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End the session; prints the signed attestation.")
        @OptionGroup var options: ClientOptions
        @Option var session: String

        func run() async throws {
            let response = try await governanceCall(options, "/session/end", body: GovernanceWire.EndRequest(session_id: session))
            if !options.json, case .string(let token)? = response["attestation_token"] { Output.result(token) }
        }
    }
}

struct ApprovalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approval", abstract: "List, grant and deny human approvals of tool calls (needs approvals:grant).",
        subcommands: [List.self, Grant.self, Deny.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pending approvals in your workspaces, with the exact arguments.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let response = try await governanceCall(options, "/approvals", nil, requireToken: true, method: .GET)
            guard !options.json else { return }
            guard case .array(let items)? = response["approvals"] else { return }
            for case .object(let a) in items {
                // Every field is agent- or server-supplied text: bidi overrides and invisible
                // characters are shown as escapes, never applied (an approver reads these).
                func text(_ k: String) -> String {
                    guard case .string(let s)? = a[k] else { return "" }
                    return VisibleText.escape(s)
                }
                let arguments = VisibleText.escape(a["arguments"].map(CanonicalJSON.serialize) ?? "{}")
                Output.result("\(text("approval_id"))\t\(text("agent_id"))\t\(text("tool"))\t\(arguments)\texpires \(text("expires_at"))")
            }
            if items.isEmpty { Output.context("no pending approvals") }
        }
    }

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Grant an approval; prints its status (granted once enough approvers did).")
        @OptionGroup var options: ClientOptions
        @Argument var id: String

        func run() async throws {
            let response = try await governanceCall(options, "/approvals/\(id)/grant", [:], requireToken: true)
            if !options.json, case .string(let status)? = response["status"] { Output.result(status) }
        }
    }

    struct Deny: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Deny an approval (final).")
        @OptionGroup var options: ClientOptions
        @Argument var id: String

        func run() async throws {
            let response = try await governanceCall(options, "/approvals/\(id)/deny", [:], requireToken: true)
            if !options.json, case .string(let status)? = response["status"] { Output.result(status) }
        }
    }
}

struct ReceiptsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receipts", abstract: "Verify receipt chains offline.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a receipt chain (NDJSON of {\"jwt\":…} or one JWS per line) against a JWKS.",
            discussion: "Exit 0 when every signature, seq and prev link holds; 1 naming the first broken receipt.")
        @Argument(help: "Receipts file (as GET /receipts returns), or - for stdin.") var file: String
        @Option(help: "JWKS file with the server's keys.") var jwks: String?
        @Option(help: "Fetch the JWKS from this server instead.") var server: String?
        @Flag var json = false

        func run() async throws {
            let set: JWKSet
            if let jwks {
                guard let bytes = FileManager.default.contents(atPath: jwks), let decoded = try? StrictJSON.decode(JWKSet.self, from: bytes) else {
                    throw CLIFailure("\(jwks) is not a JWKS")
                }
                set = decoded
            } else if let server {
                do {
                    set = try await TesseraHTTPClient(baseURL: server).jwks()
                } catch {
                    throw CLIFailure(error.description)
                }
            } else {
                throw ValidationError("give --jwks FILE or --server URL")
            }
            let input: FileHandle
            if file == "-" {
                input = .standardInput
            } else {
                guard let handle = FileHandle(forReadingAtPath: file) else { throw CLIFailure("cannot read \(file)") }
                input = handle
            }
            // Streamed line by line with only the chain head kept: constant memory for any length.
            var chain = ReceiptChainVerifier(verifier: await JWSVerifier(jwks: set))
            do {
                for line in LineStream(input) {
                    // Blanks and a CR trimmed over bytes (Foundation's trimming cost more than hashing a receipt).
                    let text = Self.trimmed(line)
                    if text.isEmpty { continue }
                    var jwt = text
                    if text.hasPrefix("{"), case .string(let value)? = (try? StrictJSON.object(Array(text.utf8)))?["jwt"] {
                        jwt = value
                    }
                    _ = try chain.add(jwt)
                    if chain.count % 100_000 == 0 { Output.context("receipts verify: \(chain.count) receipts verified…") }
                }
            } catch {
                if json { try Output.json(["valid": JSONValue.bool(false), "index": .number(JSONNumber(error.index)), "problem": .string(error.problem)]) }
                throw CLIFailure("BROKEN at receipt \(error.index) (line \(error.index + 1)): \(error.problem)")
            }
            if json {
                try Output.json(["valid": JSONValue.bool(true), "receipts": .number(JSONNumber(chain.count))])
            } else {
                Output.result("OK: \(chain.count) receipts, chain intact")
            }
        }
    }
}

extension ReceiptsCommand.Verify {
    static func trimmed(_ line: String) -> String {
        let utf8 = line.utf8
        let blank: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
        guard let first = utf8.firstIndex(where: { !blank($0) }), let last = utf8.lastIndex(where: { !blank($0) }) else { return "" }
        if first == utf8.startIndex && utf8.index(after: last) == utf8.endIndex { return line }
        return String(line[first...last])
    }
}

/// The lines of a file, read in 1 MiB chunks (never the whole file).
struct LineStream: Sequence, IteratorProtocol {
    let handle: FileHandle
    var buffer: [UInt8] = []
    var start = 0
    var finished = false

    init(_ handle: FileHandle) { self.handle = handle }

    mutating func next() -> String? {
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[start..<newline], as: UTF8.self)
                start = newline + 1
                return line
            }
            if finished {
                guard start < buffer.count else { return nil }
                let line = String(decoding: buffer[start...], as: UTF8.self)
                start = buffer.count
                return line
            }
            let chunk = handle.readData(ofLength: 1 << 20)
            buffer.removeFirst(start)
            start = 0
            if chunk.isEmpty { finished = true } else { buffer.append(contentsOf: chunk) }
        }
    }
}
