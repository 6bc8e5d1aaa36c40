import NIOCore
import TesseraResources

/// Tessera's OpenAPI 3.1 document, served at `GET /openapi.json`.
///
/// One source: scripts/openapi/generate.py writes it to Sources/TesseraResources/openapi.json
/// (compiled into the binary) and to docs/openapi.json, the same bytes; a test holds both to the
/// router's declarations.
enum OpenAPIDocument {
    /// The document's bytes, read once from the binary.
    static let buffer: ByteBuffer = {
        var length = 0
        let start = tessera_openapi_json(&length)
        return ByteBuffer(bytes: UnsafeBufferPointer(start: start, count: length))
    }()

    static var json: String { String(buffer: buffer) }
}
