import CZlib

/// A Token Status List (IETF draft-ietf-oauth-status-list §4): one status of `bits` bits per
/// referenced token, packed into bytes **from the least significant bit up** — index 0 is bit 0
/// of byte 0, index 1 is bit 1 (with `bits` 1) — then DEFLATE-compressed in the ZLIB format and
/// base64url-encoded as `lst`.
///
/// Why the bit order is spelled out everywhere: implementations in the field pack from the most
/// significant bit, which decodes the draft's own example (`0xB9 0xA3`) to the wrong statuses.
/// The tests decode the draft's vectors, and an independent Python decoder reads our lists.
public struct StatusList: Sendable, Equatable {
    /// 1, 2, 4 or 8.
    public let bits: Int
    public private(set) var bytes: [UInt8]

    /// The largest list a verifier inflates (16 MiB): a compressed list is tiny, so a hostile one
    /// could otherwise expand without bound.
    public static let maximumBytes = 16 * 1024 * 1024

    public enum Failure: Error, Equatable {
        case invalidBits
        case indexOutOfRange
        case valueTooLarge
        case notCompressed
        case tooLarge
    }

    /// An all-VALID list with room for `count` statuses.
    public init(bits: Int, count: Int) throws(Failure) {
        guard [1, 2, 4, 8].contains(bits) else { throw .invalidBits }
        self.bits = bits
        self.bytes = [UInt8](repeating: 0, count: (max(count, 1) * bits + 7) / 8)
    }

    public init(bits: Int, bytes: [UInt8]) throws(Failure) {
        guard [1, 2, 4, 8].contains(bits) else { throw .invalidBits }
        self.bits = bits
        self.bytes = bytes
    }

    /// How many statuses the byte array holds.
    public var capacity: Int { bytes.count * 8 / bits }

    public func status(at index: Int) throws(Failure) -> UInt8 {
        guard index >= 0, index < capacity else { throw .indexOutOfRange }
        let perByte = 8 / bits
        let byte = bytes[index / perByte]
        let shift = (index % perByte) * bits
        return (byte >> UInt8(shift)) & UInt8((1 << bits) - 1)
    }

    public mutating func set(_ value: UInt8, at index: Int) throws(Failure) {
        guard index >= 0, index < capacity else { throw .indexOutOfRange }
        guard Int(value) < (1 << bits) else { throw .valueTooLarge }
        let perByte = 8 / bits
        let shift = UInt8((index % perByte) * bits)
        let mask = UInt8((1 << bits) - 1) << shift
        bytes[index / perByte] = (bytes[index / perByte] & ~mask) | (value << shift)
    }

    /// `lst`: ZLIB (best compression), base64url without padding.
    public var lst: String { Base64URL.encode(Self.deflate(bytes)) }

    /// Reads `lst`, refusing anything that is not one complete ZLIB stream or that inflates past
    /// ``maximumBytes``.
    public init(bits: Int, lst: String) throws(Failure) {
        guard let compressed = Base64URL.decode(lst) else { throw .notCompressed }
        try self.init(bits: bits, bytes: try Self.inflate(compressed, limit: Self.maximumBytes))
    }

    static func deflate(_ input: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        guard deflateInit_(&stream, Z_BEST_COMPRESSION, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            preconditionFailure("zlib deflateInit failed")
        }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))))
        var input = input
        let written: Int = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = UInt32(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = UInt32(outBuffer.count)
                let result = CZlib.deflate(&stream, Z_FINISH)
                precondition(result == Z_STREAM_END, "zlib deflate did not finish within deflateBound")
                return outBuffer.count - Int(stream.avail_out)
            }
        }
        return Array(output.prefix(written))
    }

    static func inflate(_ input: [UInt8], limit: Int) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        guard inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { throw .notCompressed }
        defer { inflateEnd(&stream) }
        var input = input
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var status: Int32 = Z_OK
        var consumedAll = false
        input.withUnsafeMutableBufferPointer { inBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = UInt32(inBuffer.count)
            repeat {
                let produced: Int = chunk.withUnsafeMutableBufferPointer { outBuffer in
                    stream.next_out = outBuffer.baseAddress
                    stream.avail_out = UInt32(outBuffer.count)
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return outBuffer.count - Int(stream.avail_out)
                }
                output.append(contentsOf: chunk.prefix(produced))
            } while status == Z_OK && output.count <= limit && (stream.avail_in > 0 || stream.avail_out == 0)
            consumedAll = stream.avail_in == 0
        }
        guard output.count <= limit else { throw .tooLarge }
        // One complete stream and nothing after it.
        guard status == Z_STREAM_END, consumedAll else { throw .notCompressed }
        return output
    }
}

/// Status values (draft §7.1): the ones Tessera writes.
public enum TokenStatus: UInt8, Sendable {
    case valid = 0
    /// Revoked: permanent.
    case invalid = 1
    /// Temporarily invalid: Tessera uses it for badges of a disabled agent, cleared when the
    /// agent is enabled again.
    case suspended = 2
}

/// The `status` claim of a referenced token (draft §6.2): where its status lives.
public struct StatusClaim: Codable, Sendable, Equatable, Hashable {
    public struct Reference: Codable, Sendable, Equatable, Hashable {
        public var idx: Int
        public var uri: String
        public init(idx: Int, uri: String) {
            self.idx = idx
            self.uri = uri
        }
    }
    public var status_list: Reference

    public init(idx: Int, uri: String) { self.status_list = Reference(idx: idx, uri: uri) }

    /// Reads `status` from a strict claims object: nil when absent, an error when malformed.
    static func strict(_ object: [String: JSONValue]) throws(JWSError) -> StatusClaim? {
        guard let status = try object.optionalObject("status") else { return nil }
        guard let list = try status.optionalObject("status_list"), case .number(let idx)? = list["idx"],
            let index = idx.int, index >= 0, case .string(let uri)? = list["uri"], !uri.isEmpty
        else { throw .malformed("claims: status.status_list") }
        return StatusClaim(idx: index, uri: uri)
    }
}

