/// Why a compact JWS was refused. Callers map every case to one uniform wire error; the case
/// itself is for logs, tests and the CLI's diagnostics.
public enum JWSError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooLarge(limit: Int)
    case malformed(String)
    case unsupportedAlgorithm(String)
    case missingKeyID
    case unknownKeyID(String)
    case wrongType(String?)
    case signatureInvalid
    case expired
    case notYetValid
    case issuedInFuture
    case missingClaim(String)
    case issuerUntrusted(String?)
    case audienceMismatch
    case signingFailed(String)

    public var description: String {
        switch self {
        case .tooLarge(let limit): "token larger than \(limit) bytes"
        case .malformed(let why): "malformed token: \(why)"
        case .unsupportedAlgorithm(let alg): "algorithm \(alg) is not accepted (only EdDSA)"
        case .missingKeyID: "header has no kid"
        case .unknownKeyID(let kid): "unknown kid \(kid)"
        case .wrongType(let typ): "unexpected typ \(typ ?? "(none)")"
        case .signatureInvalid: "signature invalid"
        case .expired: "token expired"
        case .notYetValid: "token not yet valid"
        case .issuedInFuture: "token issued in the future"
        case .missingClaim(let name): "missing claim \(name)"
        case .issuerUntrusted(let iss): "issuer \(iss ?? "(none)") is not trusted"
        case .audienceMismatch: "audience mismatch"
        case .signingFailed(let why): "signing failed: \(why)"
        }
    }
}
