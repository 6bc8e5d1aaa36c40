import Foundation
import Testing
import TesseraTestSupport

/// `tessera receipts verify` streams a chain from a file in chunks, keeping only the chain head.
@Suite("receipts verify CLI")
struct ReceiptVerifyCLITests {
    /// Runs the CLI on a thread of its own (it blocks while the child runs).
    func tessera(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try runTessera(arguments) }) }
        }
    }

    @Test("a chain longer than one read chunk verifies; a missing, reordered or altered receipt is named; no trailing newline is fine")
    func streamedChain() async throws {
        let directory = makeTemporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let chain = directory + "/chain.ndjson", jwks = directory + "/jwks.json"
        // ~720 bytes a receipt: 2,500 receipts span two 1 MiB chunks.
        let made = try await tessera(["bench", "chain", "--receipts", "2500", "--out", chain, "--jwks", jwks])
        #expect(made.status == 0, "\(made.stderr)")
        let good = try await tessera(["receipts", "verify", chain, "--jwks", jwks, "--json"])
        #expect(good.status == 0, "\(good.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(good.stdout.utf8)) as? [String: Any]
        #expect(report?["valid"] as? Bool == true)
        #expect(report?["receipts"] as? Int == 2500, "\(good.stdout)")

        var lines = try String(contentsOfFile: chain, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 2500)
        // No trailing newline: the last line still counts.
        try lines.joined(separator: "\n").write(toFile: chain, atomically: true, encoding: .utf8)
        #expect(try await tessera(["receipts", "verify", chain, "--jwks", jwks]).stdout.contains("OK: 2500 receipts"))

        let original = lines
        lines.remove(at: 1800)
        try (lines.joined(separator: "\n") + "\n").write(toFile: chain, atomically: true, encoding: .utf8)
        let missing = try await tessera(["receipts", "verify", chain, "--jwks", jwks])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("BROKEN at receipt 1800"), "\(missing.stderr)")

        lines = original
        lines.swapAt(10, 11)
        try (lines.joined(separator: "\n") + "\n").write(toFile: chain, atomically: true, encoding: .utf8)
        #expect(try await tessera(["receipts", "verify", chain, "--jwks", jwks]).stderr.contains("BROKEN at receipt 10"))

        lines = original
        // One character of a signature changed.
        var altered = Array(lines[2499].utf8)
        altered[altered.count - 4] = altered[altered.count - 4] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        lines[2499] = String(decoding: altered, as: UTF8.self)
        try (lines.joined(separator: "\n") + "\n").write(toFile: chain, atomically: true, encoding: .utf8)
        #expect(try await tessera(["receipts", "verify", chain, "--jwks", jwks]).stderr.contains("BROKEN at receipt 2499"))
    }
}
