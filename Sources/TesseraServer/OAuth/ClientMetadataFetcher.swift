import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif
import TesseraCore

/// Fetches OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document):
/// the client_id is an `https` URL and the document at it is the client's registration.
///
/// The URL comes from whoever opens an authorization request, so this is the SSRF surface:
/// `https` only; the host's addresses are resolved first and every one must be public (no
/// loopback, private, link-local, CGNAT, multicast or unspecified range), unless the origin is
/// on the operator's allow-list (tests, an intranet); at most 5 KiB, within 2 s, no redirects;
/// answers are cached for five minutes (failures for 30 s), at most 1,024 entries.
struct ClientMetadataFetcher: Sendable {
    let allowOrigins: Set<MissionFetcher.Origin>
    let cache = TTLCache<String, CachedDocument>(ttl: 300, capacity: 1_024)
    /// Fetches in flight at once, on this node: a request past it is refused, not queued.
    let inFlight = SharedMutex(0)
    static let maximumInFlight = 16

    static let maximumBytes = 5 * 1024
    static let timeout: TimeAmount = .seconds(2)

    struct CachedDocument: Sendable {
        var registration: ClientRegistration?
        var failure: String?
        var fetchedAt: Date
    }

    init(allowOrigins: [MissionFetcher.Origin]) { self.allowOrigins = Set(allowOrigins) }

    static func isMetadataURL(_ clientID: String) -> Bool { clientID.hasPrefix("https://") || clientID.hasPrefix("http://") }

    /// The registration a metadata-document client id names, or why not.
    func registration(for clientID: String, now: Date) async -> Result<ClientRegistration, OAuthFailure> {
        if let cached = cache.value(for: clientID, now: now), cached.registration != nil || now.timeIntervalSince(cached.fetchedAt) < 30 {
            if let registration = cached.registration { return .success(registration) }
            return .failure(.invalidClient(cached.failure ?? "client metadata document unavailable"))
        }
        let admitted = inFlight.withLock { count -> Bool in
            guard count < Self.maximumInFlight else { return false }
            count += 1
            return true
        }
        guard admitted else { return .failure(.invalidClient("too many client metadata documents are being fetched; try again")) }
        defer { inFlight.withLock { $0 -= 1 } }
        // One deadline for the lookup, the connection, the headers and the body together: a
        // server trickling bytes (or a slow DNS answer) cannot hold the fetch past it.
        let result = await withTaskGroup(of: Result<ClientRegistration, OAuthFailure>?.self) { group in
            group.addTask { await fetch(clientID) }
            group.addTask {
                try? await Task.sleep(for: .seconds(2))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .failure(.invalidClient(Self.unusable))
        }
        switch result {
        case .success(let registration): cache.set(CachedDocument(registration: registration, fetchedAt: now), for: clientID, now: now)
        case .failure(let failure): cache.set(CachedDocument(failure: failure.description, fetchedAt: now), for: clientID, now: now)
        }
        return result
    }

    func fetch(_ clientID: String) async -> Result<ClientRegistration, OAuthFailure> {
        guard clientID.utf8.count <= 2048, !clientID.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value >= 0x7F }),
            let url = URLComponents(string: clientID), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased(), !host.isEmpty,
            url.user == nil, url.password == nil, url.fragment == nil, !url.path.isEmpty, url.path != "/"
        else { return .failure(.invalidClient("client_id is not a valid client metadata document URL (https, with a path, no userinfo or fragment)")) }
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        let allowListed = allowOrigins.contains(MissionFetcher.Origin(scheme: scheme, host: host, port: port))
        if !allowListed {
            guard scheme == "https", port == 443 else { return .failure(.invalidClient("a client metadata document URL must be https on port 443")) }
            guard await Self.resolvesPublicly(host: host, port: port) else {
                return .failure(.invalidClient("the client metadata document's host does not resolve to public addresses only"))
            }
        }
        var request = HTTPClientRequest(url: clientID)
        request.headers.add(name: "Accept", value: "application/json")
        do {
            let response = try await MissionFetcher.client.execute(request, timeout: Self.timeout)
            guard response.status == .ok else { return .failure(.invalidClient(Self.unusable)) }
            let body = try await response.body.collect(upTo: Self.maximumBytes)
            let object = try StrictJSON.object(body.readableBytesView)
            guard case .string(let declared)? = object["client_id"], declared == clientID else {
                return .failure(.invalidClient("the client metadata document's client_id is not its own URL"))
            }
            if object["client_secret"] != nil || object["client_secret_expires_at"] != nil {
                return .failure(.invalidClient("a client metadata document carries no secret"))
            }
            return .success(try ClientRegistration.parse(object, forMetadataDocument: true))
        } catch let failure as OAuthFailure {
            return .failure(failure)
        } catch {
            return .failure(.invalidClient(Self.unusable))
        }
    }

    /// One answer for every fetch failure (status, timeout, size, redirect, connection): the
    /// caller learns nothing about the target it named.
    static let unusable = "the client metadata document could not be fetched or read (200, ≤ 5 KiB of JSON within 2 s, no redirects)"

    /// Every address `host` resolves to is public. An IP literal is checked as is.
    static func resolvesPublicly(host: String, port: Int) async -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if let literal = IPAddress(bare) { return isPublic(literal) }
        let found: [String]? = try? await NIOThreadPool.singleton.runIfActive { Self.lookup(bare) }
        guard let found, !found.isEmpty else { return false }
        return found.allSatisfy { IPAddress($0).map(isPublic) ?? false }
    }

    /// getaddrinfo on a thread-pool thread (it blocks); the numeric addresses found.
    static func lookup(_ host: String) -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return [] }
        defer { freeaddrinfo(first) }
        var out: [String] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor, out.count < 64 {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(entry.pointee.ai_addr, entry.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                // Drop an IPv6 zone (`fe80::1%eth0`): the address is what is judged.
                out.append(String(text.prefix { $0 != "%" }))
            } else {
                out.append("")
            }
            cursor = entry.pointee.ai_next
        }
        return out
    }

    /// Ranges that are not the public internet (RFC 6890 and friends): a metadata document is
    /// never fetched from them unless allow-listed.
    static let nonPublic: [IPNetwork] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24",
        "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/128", "::1/128", "64:ff9b::/96", "100::/64", "2001:db8::/32", "fc00::/7", "fe80::/10", "ff00::/8",
    ].compactMap(IPNetwork.init)

    static func isPublic(_ address: IPAddress) -> Bool {
        !nonPublic.contains { $0.address.bytes.count == address.bytes.count && $0.contains(address) }
    }
}
