import Crypto
import Foundation

/// A compact JWS that Tessera did not sign (AATs, their proofs, mission declarations, status
/// lists from other issuers): split, size-checked and decoded once, verified against a key the
/// caller chose. Unlike ``JWSVerifier`` (our own tokens: EdDSA, our `kid`s, our `typ`s) it takes
/// EdDSA or ES256 and no `kid`/`typ` rules — those belong to each profile.
///
/// The payload is parsed only after the signature verified (draft-01 §7 3b/4b/7b); before that
/// only ``unverifiedJTI`` may look inside (§7 2c, the cycle check).
public struct ForeignJWS: Sendable {
    public let token: String
    public let header: [String: JSONValue]
    public let algorithm: String
    /// `BASE64URL(header) "." BASE64URL(payload)`: what was signed, and what `par_hash` hashes.
    let input: ArraySlice<UInt8>
    let payloadBytes: [UInt8]
    let signature: [UInt8]
    /// The payload parsed once (nil: not a JSON object). Only ``unverifiedJTI`` reads it before
    /// ``verify(with:)``; everything else goes through ``claims()`` after it.
    let parsed: [String: JSONValue]?

    public var signingInput: Substring {
        Substring(String(decoding: input, as: UTF8.self))
    }

    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case malformed(String)
        case tooLarge(Int)
        case algorithm(String)
        case signature
        public var description: String {
            switch self {
            case .malformed(let what): "malformed JWS: \(what)"
            case .tooLarge(let limit): "token larger than \(limit) bytes"
            case .algorithm(let alg): "algorithm \(alg) is not accepted"
            case .signature: "signature does not verify"
            }
        }
    }

    /// JSON nesting read from a foreign payload: room for draft-01's 32 levels of constraints
    /// (two JSON levels each) and the claims around them; deeper is refused unread.
    public static let maximumDepth = 80

    public static let acceptedAlgorithms: Set<String> = ["EdDSA", "ES256"]

    public init(_ token: String, maximumBytes: Int) throws(Failure) {
        guard token.utf8.count <= maximumBytes else { throw .tooLarge(maximumBytes) }
        // Split on the bytes: splitting a String walks grapheme clusters, which would cost more
        // than the rest of the parsing together.
        let bytes = Array(token.utf8)
        var dots: [Int] = []
        for (i, byte) in bytes.enumerated() where byte == UInt8(ascii: ".") {
            dots.append(i)
            if dots.count > 2 { break }
        }
        guard dots.count == 2, dots[0] > 0 else { throw .malformed("not three segments") }
        guard let headerBytes = Base64URL.decode(bytes: bytes[..<dots[0]]), let header = try? StrictJSON.object(headerBytes, maximumDepth: 4) else {
            throw .malformed("header is not a base64url JSON object")
        }
        guard case .string(let alg)? = header["alg"] else { throw .malformed("header has no alg") }
        guard Self.acceptedAlgorithms.contains(alg) else { throw .algorithm(alg) }
        // No extension this verifier does not understand may be marked critical (RFC 7515 §4.1.11).
        guard header["crit"] == nil else { throw .malformed("crit header is not supported") }
        guard dots[1] > dots[0] + 1, dots[1] < bytes.count - 1 else { throw .malformed("empty payload or signature") }
        guard let payload = Base64URL.decode(bytes: bytes[(dots[0] + 1)..<dots[1]]) else { throw .malformed("payload is not base64url") }
        guard let signature = Base64URL.decode(bytes: bytes[(dots[1] + 1)...]), signature.count == 64 else {
            throw .malformed("signature is not 64 bytes of base64url")
        }
        self.token = token
        self.header = header
        self.algorithm = alg
        self.input = bytes[..<dots[1]]
        self.payloadBytes = payload
        self.signature = signature
        self.parsed = try? StrictJSON.object(payload, maximumDepth: Self.maximumDepth)
    }

    /// Checks the signature with `key`, whose type must be the one `alg` names.
    public func verify(with key: ForeignPublicKey) throws(Failure) {
        guard key.algorithm == algorithm else { throw .algorithm(algorithm) }
        guard key.isValidSignature(signature, for: input) else { throw .signature }
    }

    /// The payload as a JSON object (strict parser: duplicate keys refused). Call after ``verify(with:)``.
    public func claims() throws(Failure) -> [String: JSONValue] {
        guard let object = parsed else {
            throw .malformed("payload is not a JSON object (or repeats a member)")
        }
        return object
    }

    /// One member of the payload before any signature check: only to choose which key to try
    /// (a declaration's `iss`), never to decide anything.
    public func unverified(_ name: String) -> JSONValue? { parsed?[name] }

    /// The raw payload bytes (e.g. to check a producer's canonical form).
    public var payload: [UInt8] { payloadBytes }

    /// `jti` read before any signature check, for cycle detection only (draft-01 §7 step 2c).
    public var unverifiedJTI: String? {
        guard case .string(let jti)? = parsed?["jti"] else { return nil }
        return jti
    }

    /// base64url(SHA-256(ASCII signing input)), unpadded: the child's `par_hash` (draft-01 §4.6).
    public var signingInputHash: String { Base64URL.encode(SHA256.hash(data: input)) }
}
