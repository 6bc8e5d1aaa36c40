import Crypto
import CryptoExtras
import Foundation

/// PBKDF2-HMAC-SHA-256 password hashes, stored with their parameters:
/// `pbkdf2-sha256$<iterations>$<salt b64url>$<hash b64url>`, so the cost can be raised later
/// and old hashes rehashed at the next successful login.
///
/// CPU-bound (hundreds of milliseconds): callers run it off the event loop.
public struct PasswordHasher: Sendable {
    public let iterations: Int
    public static let standardIterations = 600_000
    static let scheme = "pbkdf2-sha256"
    static let saltBytes = 16
    static let hashBytes = 32

    public init(iterations: Int = PasswordHasher.standardIterations) {
        self.iterations = iterations
    }

    public func hash(_ password: String) throws -> String {
        var salt = [UInt8](repeating: 0, count: Self.saltBytes)
        var generator = SystemRandomNumberGenerator()
        for i in salt.indices { salt[i] = UInt8.random(in: .min ... .max, using: &generator) }
        let derived = try Self.derive(password, salt: salt, iterations: iterations)
        return "\(Self.scheme)$\(iterations)$\(Base64URL.encode(salt))$\(Base64URL.encode(derived))"
    }

    /// Whether `password` matches `encoded`. A malformed hash is a mismatch, after doing the same
    /// work as a real check so that no path is faster than the others.
    public func verify(_ password: String, against encoded: String) -> Bool {
        let parts = encoded.split(separator: "$").map(String.init)
        guard parts.count == 4, parts[0] == Self.scheme, let rounds = Int(parts[1]), rounds >= 1,
            rounds <= 10_000_000, let salt = Base64URL.decode(parts[2]), let expected = Base64URL.decode(parts[3]),
            expected.count == Self.hashBytes
        else {
            _ = try? Self.derive(password, salt: [UInt8](repeating: 0, count: Self.saltBytes), iterations: iterations)
            return false
        }
        guard let derived = try? Self.derive(password, salt: salt, iterations: rounds) else { return false }
        return ConstantTime.equals(derived, expected)
    }

    /// Whether a stored hash uses weaker parameters than this hasher (rehash on login).
    public func needsRehash(_ encoded: String) -> Bool {
        let parts = encoded.split(separator: "$")
        guard parts.count == 4, parts[0] == Self.scheme, let rounds = Int(parts[1]) else { return true }
        return rounds < iterations
    }

    /// A well-formed hash of a random password: verifying an unknown user against it costs
    /// exactly what a real user's check costs.
    public func decoy() -> String {
        (try? hash(UUID().uuidString)) ?? "\(Self.scheme)$\(iterations)$AAAAAAAAAAAAAAAAAAAAAA$" + String(repeating: "A", count: 43)
    }

    static func derive(_ password: String, salt: [UInt8], iterations: Int) throws -> [UInt8] {
        let key = try KDF.Insecure.PBKDF2.deriveKey(
            from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: hashBytes,
            unsafeUncheckedRounds: iterations)
        return key.withUnsafeBytes { Array($0) }
    }
}

