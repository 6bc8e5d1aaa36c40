import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TesseraCore

/// The console's files, compiled into the binary from `console/` by `scripts/console/embed`
/// (``ConsoleAssetData``): no file next to the binary to lose, nothing fetched at run time, no
/// build step beyond Python. A test fails when the two differ.
enum ConsoleAssets {
    struct Asset: Sendable {
        var bytes: [UInt8]
        var contentType: String
        var etag: String
    }

    /// Decoded once; a handful of files, tens of kilobytes.
    static let files: [String: Asset] = {
        var out: [String: Asset] = [:]
        for (name, encoded) in ConsoleAssetData.base64 {
            guard let data = Data(base64Encoded: encoded) else { continue }
            let bytes = [UInt8](data)
            out[name] = Asset(
                bytes: bytes, contentType: contentType(of: name),
                etag: "\"" + CompactJWS.hex(SHA256.hash(data: bytes)).prefix(32) + "\"")
        }
        return out
    }()

    static func contentType(of name: String) -> String {
        switch name.split(separator: ".").last {
        case "html": "text/html; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        default: "application/octet-stream"
        }
    }

    /// No inline script or style, nothing from another origin, no framing, no plug-ins: an
    /// agent name that smuggles markup past the page's own escaping still cannot run.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    /// The headers every console file carries.
    static func securityHeaders() -> HTTPFields {
        var headers = HTTPFields()
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        headers[HTTPField.Name("Cross-Origin-Opener-Policy")!] = "same-origin"
        headers[HTTPField.Name("Cross-Origin-Resource-Policy")!] = "same-origin"
        headers[HTTPField.Name("Permissions-Policy")!] = "camera=(), microphone=(), geolocation=(), payment=()"
        return headers
    }

    static func response(for name: String, request: Request) throws -> Response {
        guard let asset = files[name] else { throw APIError.notFound("no such console file") }
        var headers = securityHeaders()
        headers[.eTag] = asset.etag
        // Revalidated on every load, so a new binary's console is never mixed with an old one.
        headers[.cacheControl] = "no-cache"
        if let tags = request.headers[.ifNoneMatch], tags.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == asset.etag }) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = asset.contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }
}
