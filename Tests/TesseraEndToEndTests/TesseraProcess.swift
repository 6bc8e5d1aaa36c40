import Foundation
import TesseraCore
import TesseraFileSystem
import Testing
import TesseraTestSupport

struct ProcessFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Collected output of a process, readable while it runs.
final class OutputBuffer: Sendable {
    private let data = SharedMutex(Data())
    func append(_ chunk: Data) { data.withLock { $0.append(chunk) } }
    var text: String { data.withLock { String(decoding: $0, as: UTF8.self) } }
}

/// Runs `tessera ARGS` to completion.
func runTessera(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try tesseraBinary())
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

/// A `tessera serve` child process on a free loopback port.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let stderr = OutputBuffer()
    let stdout = OutputBuffer()
    var port: Int = 0
    var baseURL: String { "http://127.0.0.1:\(port)" }

    init(stateDirectory: String, extraArguments: [String] = [], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: try tesseraBinary())
        process.arguments = ["serve", "--state-dir", stateDirectory, "--host", "127.0.0.1", "--port", "0", "--bootstrap-mode", "bootstrap"] + extraArguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stderr = self.stderr, stdout = self.stdout
        err.fileHandleForReading.readabilityHandler = { handle in stderr.append(handle.availableData) }
        out.fileHandleForReading.readabilityHandler = { handle in stdout.append(handle.availableData) }
        try process.run()
    }

    /// Waits for the "listening on" line (the port chosen with --port 0), within `timeout`.
    func waitUntilListening(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let range = stderr.text.range(of: #"listening on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                port = Int(stderr.text[range].split(separator: ":").last!)!
                return
            }
            guard process.isRunning else { throw ProcessFailure("server exited early: \(stderr.text)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ProcessFailure("server did not start within \(timeout): \(stderr.text)")
    }

    /// Sends `signal` and waits for the exit status, within `timeout`.
    func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(10)) async throws -> Int32 {
        kill(process.processIdentifier, signal)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                kill(process.processIdentifier, SIGKILL)
                throw ProcessFailure("server did not stop within \(timeout); its last words: \(stderr.text.suffix(3000))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
