import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TesseraCore

/// A thin JSON-over-HTTP client for a Tessera server: the base of the SDK, the keeper and the
/// CLI's client commands. Responses are bounded (1 MiB) like requests are on the server.
public struct TesseraHTTPClient: Sendable {
    public let baseURL: String
    public let token: String?
    let http: HTTPClient
    let timeout: TimeAmount

    public static let maxResponseBytes = 1 << 20

    public init(baseURL: String, token: String? = nil, http: HTTPClient = .shared, timeout: Duration = .seconds(10)) throws(ClientError) {
        guard let url = URL(string: baseURL), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw .invalidURL(baseURL)
        }
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
        self.http = http
        self.timeout = .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
    }

    public struct Health: Codable, Sendable, Equatable {
        public var status: String
        public var version: String

        public init(status: String, version: String) {
            self.status = status
            self.version = version
        }
    }

    public func health() async throws(ClientError) -> Health {
        try await send(.GET, "/health", body: Optional<[String: String]>.none, as: Health.self)
    }

    public func jwks() async throws(ClientError) -> JWKSet {
        try await send(.GET, "/.well-known/jwks.json", body: Optional<[String: String]>.none, as: JWKSet.self)
    }

    /// Sends `body` as JSON (if any) and decodes a 2xx answer as `Response`.
    public func send<Body: Encodable, Response: Decodable>(
        _ method: HTTPMethod, _ path: String, body: Body?, as: Response.Type
    ) async throws(ClientError) -> Response {
        let (status, bytes) = try await raw(method, path, body: body)
        guard (200..<300).contains(status) else {
            throw .server(status: status, body: String(decoding: bytes, as: UTF8.self))
        }
        do {
            return try StrictJSON.decode(Response.self, from: Data(bytes))
        } catch {
            throw .invalidResponse(String(describing: error))
        }
    }

    /// The status and body of any request, for callers that interpret errors themselves.
    public func raw<Body: Encodable>(
        _ method: HTTPMethod, _ path: String, body: Body?, headers: [(String, String)] = [], authenticate: Bool = true
    ) async throws(ClientError) -> (Int, [UInt8]) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if authenticate, let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            do {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
            } catch {
                throw .invalidResponse("cannot encode the request: \(error)")
            }
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: timeout)
        } catch {
            throw .transport(String(describing: error))
        }
        do {
            let buffer = try await response.body.collect(upTo: Self.maxResponseBytes)
            return (Int(response.status.code), Array(buffer.readableBytesView))
        } catch is NIOTooManyBytesError {
            throw .tooLarge(limit: Self.maxResponseBytes)
        } catch {
            throw .transport(String(describing: error))
        }
    }
}
