import Foundation
import MCP
import SystemPackage
import Testing
import TesseraClient
import TesseraCore
import TesseraTestSupport

/// The stdio gateway under the *Swift* MCP SDK (modelcontextprotocol/swift-sdk), as issue 27
/// asks: a Swift client lists and calls tools through `tessera gateway stdio` in front of the
/// reference server `mcp-server-time`. The upstream comes from the venv `scripts/mcp-e2e`
/// installs (`./scripts/test` runs it first); without it the test is reported skipped.
@Suite("Swift MCP SDK through the stdio gateway")
struct SwiftSDKGatewayTests {
    static let upstream = FileManager.default.currentDirectoryPath + "/.build/mcp-venv/bin/mcp-server-time"

    @Test(
        "a Swift SDK client lists only the permitted tools, calls one, and is refused the other",
        .enabled(if: FileManager.default.isExecutableFile(atPath: upstream), "needs .build/mcp-venv (run scripts/mcp-e2e --install-only)"))
    func swiftClient() async throws {
        let state = makeTemporaryDirectory()
        let server = try ServerProcess(stateDirectory: state)
        try await server.waitUntilListening()
        defer { _ = try? runTessera(["version"]) }
        let admin = try #require(try await TesseraHTTPClient(baseURL: server.baseURL).bootstrap().bootstrap_admin_api_key)
        let issued = try await TesseraHTTPClient(baseURL: server.baseURL, token: admin).issuePassport(mission: [
            "agent_id": "swift-agent", "mission": "tell the time", "allowed_tools": ["get_current_time"],
        ], ttl: 600)
        let passportFile = state + "/agent.passport"
        try Data(issued.token.utf8).write(to: URL(fileURLWithPath: passportFile))

        let toGateway = Pipe(), fromGateway = Pipe()
        let gateway = Process()
        gateway.executableURL = URL(fileURLWithPath: try tesseraBinary())
        gateway.arguments = ["gateway", "stdio", "--passport", passportFile, "--server", server.baseURL, "--", Self.upstream]
        gateway.standardInput = toGateway
        gateway.standardOutput = fromGateway
        gateway.standardError = FileHandle.nullDevice
        try gateway.run()

        let transport = StdioTransport(
            input: FileDescriptor(rawValue: fromGateway.fileHandleForReading.fileDescriptor),
            output: FileDescriptor(rawValue: toGateway.fileHandleForWriting.fileDescriptor))
        let client = Client(name: "tessera-swift-e2e", version: "1.0.0")
        _ = try await client.connect(transport: transport)
        let (tools, _) = try await client.listTools()
        #expect(tools.map(\.name) == ["get_current_time"])
        let (content, isError) = try await client.callTool(name: "get_current_time", arguments: ["timezone": "Europe/London"])
        #expect(isError != true)
        #expect("\(content)".contains("Europe/London"))
        do {
            _ = try await client.callTool(name: "convert_time", arguments: ["source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"])
            Issue.record("convert_time was not refused")
        } catch {
            #expect("\(error)".contains("denied by Tessera"), "\(error)")
        }
        await client.disconnect()
        try? toGateway.fileHandleForWriting.close()
        gateway.waitUntilExit()
        #expect(try await server.stop() == 0)
    }
}
