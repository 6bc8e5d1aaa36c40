/// A setting of `tessera serve` that cannot be used; every case names the setting, the flag, the
/// environment variable, the file or the key at fault.
public enum ConfigurationError: Error, Equatable, CustomStringConvertible {
    case invalid(name: String, value: String)
    case unknownKey(path: String, key: String)
    case unreadable(path: String, reason: String)
    /// A command-line argument that is no flag of ``ServerSettings/all``.
    case unknownOption(String)
    /// A flag that takes a value, given none.
    case missingValue(option: String)

    public var description: String {
        switch self {
        case .invalid(let name, let value): "invalid value for \(name): \(value)"
        case .unknownKey(let path, let key): "\(path): unknown key \(key)"
        case .unreadable(let path, let reason): "\(path): \(reason)"
        case .unknownOption(let name): "unknown option \(name)"
        case .missingValue(let option): "missing value for \(option)"
        }
    }
}
