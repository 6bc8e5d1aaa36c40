import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TesseraCore

@testable import TesseraServer

@Suite("OpenAPI document")
struct OpenAPITests {
    static var repositoryCopy: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/openapi.json")
    }

    static func document() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as? [String: Any])
    }

    /// `METHOD /path/:param` for every operation of the document.
    static func documentedRoutes() throws -> Set<String> {
        let paths = try #require(try document()["paths"] as? [String: [String: Any]])
        var out = Set<String>()
        for (path, item) in paths {
            let routerPath = Self.normalised(path)
            for method in item.keys where ["get", "post", "put", "patch", "delete"].contains(method) {
                out.insert("\(method.uppercased()) \(routerPath)")
            }
        }
        return out
    }

    /// `/a/{x}/b` and `/a/:y/b` alike become `/a/:/b`: parameter names may differ (the document
    /// says `{did}` where the router's segment serves ids and DIDs alike).
    static func normalised(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(":") || $0.hasPrefix("{") ? ":" : String($0) }.joined(separator: "/")
    }

    @Test("every route the router declares is in the document, and the document describes no route that does not exist")
    func routesMatch() async throws {
        // With an MCP upstream configured, so the gateway's routes are declared too.
        let environment = try await makeEnvironment { $0.mcpUpstreams = ["demo": "http://127.0.0.1:9/mcp"] }
        let (_, declarations) = try buildRouter(environment)
        let declared = Set(declarations.map { "\($0.method.rawValue) \(Self.normalised($0.path))" })
        let documented = try Self.documentedRoutes()
        #expect(declared.subtracting(documented).sorted() == [], "routes missing from the document")
        #expect(documented.subtracting(declared).sorted() == [], "documented routes the server does not have")
        // A route that needs a credential says so in the document.
        let paths = try #require(try Self.document()["paths"] as? [String: [String: [String: Any]]])
        let byShape = Dictionary(uniqueKeysWithValues: paths.map { (Self.normalised($0.key), $0.value) })
        for declaration in declarations where declaration.access != .anonymous {
            let operation = try #require(byShape[Self.normalised(declaration.path)]?[declaration.method.rawValue.lowercased()], "\(declaration.path)")
            let security = try #require(operation["security"] as? [[String: Any]], "\(declaration.path)")
            #expect(!security.isEmpty && !security.contains { $0.isEmpty }, "\(declaration.method) \(declaration.path) needs a credential")
        }
    }

    @Test("the document is OpenAPI 3.1, the repository's copy is the served one, and GET /openapi.json serves it anonymously")
    func served() async throws {
        let document = try Self.document()
        #expect(document["openapi"] as? String == "3.1.0")
        #expect((document["info"] as? [String: Any])?["version"] as? String == TesseraVersion.current)
        let copy = try String(contentsOf: Self.repositoryCopy, encoding: .utf8)
        #expect(copy == OpenAPIDocument.json, "docs/openapi.json differs from the served document: run python3 scripts/openapi/generate.py")
        let app = try buildApplication(try await makeEnvironment())
        try await app.test(.router) { client in
            try await client.execute(uri: "/openapi.json", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                #expect(String(buffer: response.body) == OpenAPIDocument.json)
            }
        }
    }

    @Test("the IAM body is a oneOf on operation covering every operation the server accepts")
    func iamOperations() throws {
        let schemas = try #require((try Self.document()["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let request = try #require(schemas["IAMRequest"] as? [String: Any])
        let mapping = try #require((request["discriminator"] as? [String: Any])?["mapping"] as? [String: String])
        #expect(Set(mapping.keys) == Set(IAMService.operations.keys))
    }
}
