import ArgumentParser
import Foundation
import TesseraCore
import TesseraFileSystem
import TesseraStore

struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Generate and inspect Ed25519 keys; rotate the server's signing key.",
        subcommands: [Gen.self, Thumbprint.self, Rotate.self, List.self]
    )

    struct Gen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new agent key pair (private.jwk 0600, public.jwk) and print its did:key.")

        @Option(help: "Folder for the key files (created 0700).") var outDir: String
        @Flag(help: "Replace an existing private.jwk.") var force = false
        @Flag(help: "Print {did, kid, private_key, public_key} as JSON.") var json = false

        func run() throws {
            let privatePath = (outDir as NSString).appendingPathComponent("private.jwk")
            let publicPath = (outDir as NSString).appendingPathComponent("public.jwk")
            if !force, FileManager.default.fileExists(atPath: privatePath) {
                throw CLIFailure("\(privatePath) exists; pass --force to replace it")
            }
            let pair = Ed25519KeyPair()
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            do {
                try PrivateFiles.ensureDirectory(outDir)
                try PrivateFiles.writeAtomically(try encoder.encode(pair.privateJWK) + [0x0a], to: privatePath)
                try PrivateFiles.writeAtomically(try encoder.encode(pair.publicKey.jwk) + [0x0a], to: publicPath)
            } catch let error as PrivateFiles.Failure {
                throw CLIFailure(error.description)
            }
            Output.context("wrote \(privatePath) (0600) and \(publicPath)")
            if json {
                try Output.json([
                    "did": pair.publicKey.did, "kid": pair.kid, "private_key": privatePath, "public_key": publicPath,
                ])
            } else {
                Output.result(pair.publicKey.did)
            }
        }
    }

    struct Thumbprint: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the RFC 7638 SHA-256 thumbprint of a JWK file (public or private).")

        @Argument(help: "A JWK file.") var file: String

        func run() throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw CLIFailure("cannot read \(file)") }
            let jwk: JWK
            do {
                jwk = try StrictJSON.decode(JWK.self, from: data)
            } catch {
                throw CLIFailure("\(file) is not a JWK: \(error)")
            }
            do {
                Output.result(try JWKThumbprint.compute(jwk))
            } catch {
                throw CLIFailure("\(file): \(error)")
            }
        }
    }

    struct StoreOptions: ParsableArguments {
        @Option(help: "State directory of the server. Default TESSERA_STATE_DIR or ~/.tessera.")
        var stateDir: String?

        func open() throws -> SQLiteStore {
            let directory = stateDir ?? ProcessInfo.processInfo.environment["TESSERA_STATE_DIR"]
                ?? (NSHomeDirectory() as NSString).appendingPathComponent(".tessera")
            do {
                return try SQLiteStore(stateDirectory: directory)
            } catch {
                throw CLIFailure("cannot open the store in \(directory): \(error)")
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a new server signing key active; the old one verifies through its grace period.",
            discussion: "Running servers on the same store pick the new key up within key_refresh_seconds.")

        @OptionGroup var store: StoreOptions

        func run() async throws {
            let store = try store.open()
            let candidate = SigningKeyRecord.generate(at: Date())
            _ = try await store.rotateSigningKey(to: candidate)
            Output.context("rotated: \(candidate.kid) now signs")
            Output.result(candidate.kid)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the server's signing keys.")

        @OptionGroup var store: StoreOptions
        @Flag(help: "Print JSON.") var json = false

        struct Entry: Encodable {
            var kid: String
            var status: String
            var created_at: Date
            var retired_at: Date?
        }

        func run() async throws {
            let records = try await store.open().signingKeys()
            let entries = records.reversed().map {
                Entry(kid: $0.kid, status: $0.retiredAt == nil ? "active" : "retired", created_at: $0.createdAt, retired_at: $0.retiredAt)
            }
            if json {
                try Output.json(entries)
            } else {
                for entry in entries { Output.result("\(entry.kid)\t\(entry.status)\t\(ISO8601DateFormatter().string(from: entry.created_at))") }
            }
        }
    }
}
