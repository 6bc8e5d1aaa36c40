import Foundation

/// A PostgreSQL cluster of the test's own (`scripts/pg-test-cluster`), for tests that stop the
/// database: the shared cluster serves suites running in parallel and must stay up.
struct PrivatePostgresCluster: Sendable {
    let url: String
    let directory: String

    static var script: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("scripts/pg-test-cluster").path
    }

    /// Starts a fresh cluster on a free loopback port.
    static func start() throws -> PrivatePostgresCluster {
        let output = try run([])
        var exports: [String: String] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("export ") {
            let pair = line.dropFirst("export ".count).split(separator: "=", maxSplits: 1)
            if pair.count == 2 { exports[String(pair[0])] = String(pair[1]) }
        }
        guard let url = exports["TESSERA_TEST_DATABASE_URL"], let directory = exports["TESSERA_TEST_PG_DIR"] else {
            throw ProcessFailure("pg-test-cluster printed no URL: \(output)")
        }
        return PrivatePostgresCluster(url: url, directory: directory)
    }

    /// Crash-stops the server (`pg_ctl stop -m immediate`), keeping the data.
    func pause() throws { _ = try Self.run(["pause", directory]) }

    /// Starts it again on the same port and data; returns once it accepts connections.
    func resume() throws { _ = try Self.run(["resume", directory]) }

    /// Stops it and deletes its data.
    func destroy() { _ = try? Self.run(["stop", directory]) }

    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script] + arguments
        process.environment = ProcessInfo.processInfo.environment.filter { $0.key != "TESSERA_TEST_PG_PORT" }
        // A file, not a pipe: the PostgreSQL server the script starts inherits the descriptor, so
        // a pipe would never reach end-of-file.
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("pg-test-cluster-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)  // FileHandle below fails if it did not
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        try process.run()
        process.waitUntilExit()
        let data = FileManager.default.contents(atPath: outputPath) ?? Data()
        guard process.terminationStatus == 0 else { throw ProcessFailure("pg-test-cluster \(arguments) exited \(process.terminationStatus)") }
        return String(decoding: data, as: UTF8.self)
    }
}
