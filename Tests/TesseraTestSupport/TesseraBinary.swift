import Foundation

/// The built `tessera` binary was not found.
public struct MissingTesseraBinary: Error, CustomStringConvertible {
    public var description: String { "tessera binary not found; run swift build first or set TESSERA_BIN" }
}

/// The built `tessera` binary: `TESSERA_BIN` if set, else the one next to this test bundle
/// (`swift build --build-tests` puts both in the same folder), else `.build/debug/tessera`.
public func tesseraBinary() throws -> String {
    if let path = ProcessInfo.processInfo.environment["TESSERA_BIN"] { return path }
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    for _ in 0..<5 {
        url.deleteLastPathComponent()
        let candidate = url.appendingPathComponent("tessera").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    let fallback = FileManager.default.currentDirectoryPath + "/.build/debug/tessera"
    guard FileManager.default.isExecutableFile(atPath: fallback) else { throw MissingTesseraBinary() }
    return fallback
}
