import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TesseraCore

/// Fetches mission declarations and their status lists: only from the operator's allow-listed
/// origins (the SSRF defence: no URL a token names can reach anything else), HTTPS except for
/// an allow-listed loopback origin, no redirects, at most 64 KiB, within 2 s. Successful
/// answers are cached (declarations until their `exp`, status lists for the status-list TTL)
/// by the caller.
public struct MissionFetcher: Sendable {
    public struct Origin: Sendable, Hashable {
        public var scheme: String
        public var host: String
        public var port: Int

        /// `https://host[:port]`, or `http://` with a loopback host (any host with
        /// `allowingAnyHTTP`); nothing after the authority.
        public init?(_ text: String, allowingAnyHTTP: Bool = false) {
            guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased(), !host.isEmpty,
                url.user == nil, url.password == nil, url.query == nil, url.fragment == nil, url.path.isEmpty || url.path == "/"
            else { return nil }
            guard scheme == "https" || (scheme == "http" && (allowingAnyHTTP || Self.isLoopback(host))) else { return nil }
            self.scheme = scheme
            self.host = host
            self.port = url.port ?? (scheme == "https" ? 443 : 80)
        }

        static func isLoopback(_ host: String) -> Bool {
            if host == "localhost" || host == "[::1]" || host == "::1" { return true }
            guard let address = IPAddress(host), address.isIPv4 else { return false }
            return address.bytes[0] == 127
        }
    }

    public let origins: Set<Origin>
    public static let maximumBytes = 64 * 1024
    public static let timeout: TimeAmount = .seconds(2)

    public init(origins: [Origin]) { self.origins = Set(origins) }

    /// One client for these fetches: redirects are refused (a 3xx is an error, never followed).
    /// Not traced by the HTTP client itself: its spans would record caller-supplied URLs and send
    /// our `traceparent` to third-party origins.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(2), read: .seconds(2)))
        configuration.tracing.tracer = nil
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// The body at `url` as text, or a refusal naming why (`mission_origin_not_allowed`,
    /// `mission_fetch_failed`).
    public func fetch(_ url: String) async throws(MissionDeclaration.Refusal) -> String {
        guard let components = URLComponents(string: url), components.fragment == nil, components.user == nil, components.password == nil,
            let scheme = components.scheme?.lowercased(), let host = components.host?.lowercased(),
            !url.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F })
        else { throw .init("mission_fetch_failed", "not a fetchable URL: \(url)") }
        let origin = Origin(scheme: scheme, host: host, port: components.port ?? (scheme == "https" ? 443 : 80))
        guard origins.contains(origin) else {
            throw .init("mission_origin_not_allowed", "\(scheme)://\(host):\(origin.port) is not an allow-listed mission origin")
        }
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/jwt, application/statuslist+jwt, application/json")
        do {
            let response = try await Self.client.execute(request, timeout: Self.timeout)
            guard response.status == .ok else { throw MissionDeclaration.Refusal("mission_fetch_failed", "\(url) answered \(response.status.code)") }
            let body = try await response.body.collect(upTo: Self.maximumBytes)
            return String(buffer: body)
        } catch let refusal as MissionDeclaration.Refusal {
            throw refusal
        } catch {
            throw .init("mission_fetch_failed", "fetch failed for \(url)")
        }
    }
}

extension MissionFetcher.Origin {
    init(scheme: String, host: String, port: Int) {
        self.scheme = scheme
        self.host = host
        self.port = port
    }
}
