import Foundation
import Glibc
import Testing
import TesseraClient
import TesseraCore
import TesseraTestSupport

/// The real `tessera` binary, started as a child process, driven over loopback HTTP.
@Suite("tessera binary end to end", .serialized)
struct ServeEndToEndTests {
    @Test("serve starts on a free port, answers /health and the JWKS, and exits 0 on SIGTERM; keys survive a restart")
    func serveLifecycle() async throws {
        let state = makeTemporaryDirectory() + "/state"
        let server = try ServerProcess(stateDirectory: state)
        try await server.waitUntilListening()
        let client = try TesseraHTTPClient(baseURL: server.baseURL)
        let health = try await client.health()
        #expect(health == .init(status: "ok", version: TesseraVersion.current))
        let jwks = try await client.jwks()
        #expect(jwks.keys.count == 1)
        #expect(server.stderr.text.contains("tessera iam bootstrap --server \(server.baseURL)"))
        #expect(server.stderr.text.contains("open \(server.baseURL)/console"), "the printed next step names the console")
        #expect(try await server.stop() == 0)
        #expect(server.stderr.text.contains("tessera: stopped"))
        #expect(fileMode(state) == 0o700)
        #expect(fileMode(state + "/tessera.sqlite") == 0o600)

        let restarted = try ServerProcess(stateDirectory: state)
        try await restarted.waitUntilListening()
        let again = try await TesseraHTTPClient(baseURL: restarted.baseURL).jwks()
        #expect(again.keys.map(\.kid) == jwks.keys.map(\.kid))
        #expect(try await restarted.stop(signal: SIGINT) == 0)
    }

    @Test("a connection that never sends a request does not keep the server alive after SIGTERM: it exits 0 after the drain limit")
    func silentConnectionAtShutdown() async throws {
        let server = try ServerProcess(stateDirectory: makeTemporaryDirectory() + "/state")
        try await server.waitUntilListening()
        let socket = try connectLoopback(server.port, receiveTimeoutSeconds: nil)
        defer { close(socket) }
        // Wait until the server holds that connection, not a fixed time: it accepts connections
        // in the order they were made, so once it has answered a later one it has accepted this.
        #expect(try await TesseraHTTPClient(baseURL: server.baseURL).health().status == "ok")
        // Before the drain limit this waited forever (until SIGKILL).
        #expect(try await server.stop(timeout: .seconds(20)) == 0)
        #expect(server.stderr.text.contains("drain limit reached"))
    }

    @Test("an open console feed does not hold a stop up: it is told the server is stopping and the drain completes")
    func openFeedAtShutdown() async throws {
        let server = try ServerProcess(stateDirectory: makeTemporaryDirectory() + "/state")
        try await server.waitUntilListening()
        let bootstrap = try runTessera(["iam", "bootstrap", "--server", server.baseURL])
        let admin = bootstrap.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let socket = try connectLoopback(server.port, receiveTimeoutSeconds: nil)
        defer { close(socket) }
        let request = "GET /api/v1/console/decisions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(admin)\r\n\r\n"
        _ = request.withCString { write(socket, $0, strlen($0)) }
        var received = ""
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !received.contains(": connected") {
            let n = read(socket, &buffer, buffer.count)
            guard n > 0 else { break }
            received += String(decoding: buffer[0..<n], as: UTF8.self)
        }
        #expect(received.contains("text/event-stream"), "\(received)")
        #expect(try await server.stop(timeout: .seconds(20)) == 0)
        // The feed ended itself: the drain finished without hitting its limit.
        #expect(!server.stderr.text.contains("drain limit reached"), "\(server.stderr.text)")
        while true {
            let n = read(socket, &buffer, buffer.count)
            guard n > 0 else { break }
            received += String(decoding: buffer[0..<n], as: UTF8.self)
        }
        #expect(received.contains("event: end"), "the browser is told why the stream ended")
    }

    @Test("key rotate on a running server's store is published within the refresh period")
    func rotateWhileServing() async throws {
        let state = makeTemporaryDirectory() + "/state"
        let server = try ServerProcess(stateDirectory: state, environment: ["TESSERA_KEY_REFRESH_SECONDS": "1"])
        try await server.waitUntilListening()
        let client = try TesseraHTTPClient(baseURL: server.baseURL)
        let before = try await client.jwks().keys.compactMap(\.kid)
        let rotate = try runTessera(["key", "rotate", "--state-dir", state])
        #expect(rotate.status == 0, "\(rotate.stderr)")
        let newKid = rotate.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let deadline = ContinuousClock.now + .seconds(10)
        var published: [String] = []
        while ContinuousClock.now < deadline {
            published = try await client.jwks().keys.compactMap(\.kid)
            if published.first == newKid { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(published == [newKid] + before)
        #expect(try await server.stop() == 0)
    }

    @Test("passport issue takes the mission inline even when it holds paths, as @file, and as a path")
    func inlineMissionWithPaths() async throws {
        let state = makeTemporaryDirectory() + "/state"
        let server = try ServerProcess(stateDirectory: state)
        try await server.waitUntilListening()
        let bootstrap = try runTessera(["iam", "bootstrap", "--server", server.baseURL])
        #expect(bootstrap.status == 0, "\(bootstrap.stderr)")
        let admin = bootstrap.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let mission = #"{"agent_id":"a","mission":"m","allowed_tools":["read_file"],"resource_scope":["/data/**"]}"#
        let folder = makeTemporaryDirectory()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let file = folder + "/mission.json"
        try mission.write(toFile: file, atomically: true, encoding: .utf8)
        for argument in [mission, " " + mission, "@" + file, file] {
            let issued = try runTessera(["passport", "issue", "--server", server.baseURL, "--token", admin, "--mission", argument])
            #expect(issued.status == 0, "--mission \(argument): \(issued.stderr)")
            #expect(issued.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
        }
        #expect(try await server.stop() == 0)
    }

    @Test("a bad flag exits 2 with usage on stderr; a bad config value names it")
    func usageErrors() throws {
        let bad = try runTessera(["serve", "--bogus"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--bogus"))
        #expect(bad.stdout.isEmpty)
        let port = try runTessera(["serve", "--state-dir", makeTemporaryDirectory()], environment: ["TESSERA_PORT": "http"])
        #expect(port.status == 2)
        #expect(port.stderr.contains("TESSERA_PORT"))
    }
}

@Suite("tessera key commands")
struct KeyCommandEndToEndTests {
    @Test("key gen writes private.jwk 0600 in a 0700 folder under umask 022 and prints the did:key")
    func keyGen() throws {
        let directory = makeTemporaryDirectory() + "/keys"
        let previous = umask(0o022)
        defer { umask(previous) }
        let result = try runTessera(["key", "gen", "--out-dir", directory])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(fileMode(directory) == 0o700)
        #expect(fileMode(directory + "/private.jwk") == 0o600)
        let did = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let publicJWK = try JSONDecoder().decode(JWK.self, from: try #require(FileManager.default.contents(atPath: directory + "/public.jwk")))
        #expect(publicJWK.d == nil)
        #expect(try Ed25519PublicKey(jwk: publicJWK).did == did)
        let privateJWK = try JSONDecoder().decode(JWK.self, from: try #require(FileManager.default.contents(atPath: directory + "/private.jwk")))
        #expect(try Ed25519KeyPair(jwk: privateJWK).publicKey.did == did)

        let thumbprint = try runTessera(["key", "thumbprint", directory + "/public.jwk"])
        #expect(thumbprint.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == publicJWK.kid)

        let again = try runTessera(["key", "gen", "--out-dir", directory])
        #expect(again.status == 1)
        #expect(again.stderr.contains("--force"))
        #expect(FileManager.default.contents(atPath: directory + "/private.jwk").map { try? JSONDecoder().decode(JWK.self, from: $0) } == privateJWK)
    }

    @Test("key gen --json prints machine-readable fields; thumbprint of a non-JWK fails with exit 1")
    func jsonAndErrors() throws {
        let directory = makeTemporaryDirectory() + "/keys"
        let result = try runTessera(["key", "gen", "--out-dir", directory, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: String])
        #expect(object["did"]?.hasPrefix("did:key:z6Mk") == true)
        #expect(object["private_key"] == directory + "/private.jwk")
        #expect(FileManager.default.createFile(atPath: directory + "/junk", contents: Data("hello".utf8)))
        let junk = try runTessera(["key", "thumbprint", directory + "/junk"])
        #expect(junk.status == 1)
        #expect(junk.stderr.contains("not a JWK"))
    }

    @Test("version and --help list every command")
    func help() throws {
        #expect(try runTessera(["version"]).stdout == TesseraVersion.current + "\n")
        let help = try runTessera(["--help"])
        for command in ["serve", "version", "key"] { #expect(help.stdout.contains(command)) }
    }
}
