import Crypto
import Foundation

/// Errors raised while reading keys. Messages name the member at fault; they never echo key material.
public enum KeyError: Error, Equatable, CustomStringConvertible {
    case unsupportedKeyType(String)
    case invalidMember(String)
    case missingMember(String)
    case publicKeyMismatch

    public var description: String {
        switch self {
        case .unsupportedKeyType(let type): "unsupported key type \(type): expected OKP/Ed25519"
        case .invalidMember(let name): "invalid JWK member \(name)"
        case .missingMember(let name): "missing JWK member \(name)"
        case .publicKeyMismatch: "the private key does not match its public key member x"
        }
    }
}
