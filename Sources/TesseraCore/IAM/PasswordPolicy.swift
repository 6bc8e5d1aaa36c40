import Crypto
import CryptoExtras
import Foundation

/// Minimum password rules: length, not the username. Refused with `weak-password`.
public enum PasswordPolicy {
    public static let minimumLength = 8
    public static let maximumLength = 1024

    /// A reason the password is refused, or nil when it is acceptable.
    public static func problem(with password: String, username: String?) -> String? {
        if password.count < minimumLength { return "password must be at least \(minimumLength) characters" }
        if password.utf8.count > maximumLength { return "password must be at most \(maximumLength) bytes" }
        if let username, password.lowercased() == username.lowercased() { return "password must differ from the username" }
        return nil
    }
}
