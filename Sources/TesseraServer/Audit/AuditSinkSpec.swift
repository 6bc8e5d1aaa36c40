import Foundation

/// One configured audit sink, parsed from the one grammar that flags (`--audit-sink`), the
/// environment (`TESSERA_AUDIT_SINKS`) and the config file (`audit_sinks`) share: a URL whose
/// scheme names the sink and whose query holds its options (docs/audit.md).
///
/// One grammar, not a flag per option, because an operator combines sinks freely (two files with
/// different workspace filters, a webhook that fails closed beside a syslog that drops) and each
/// combination must read the same wherever it is written.
public struct AuditSinkSpec: Sendable, Equatable, CustomStringConvertible {
    public enum Transport: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case tls(host: String, port: Int, caFile: String?)
        /// A datagram socket, as `/dev/log` is.
        case unix(path: String)
    }

    public enum Kind: Sendable, Equatable {
        case file(path: String, maxBytes: Int, keep: Int)
        case syslog(Transport)
        case webhook(url: String, batch: Int, tokenVariable: String?)
        case otlp
    }

    /// What a sink does when it cannot take an event.
    public enum FailureMode: String, Sendable, Equatable {
        /// Drop the event and count it (`tessera_audit_events_total{result="dropped"}`).
        case drop
        /// Stop permitting: `/evaluate` answers 503 `audit_unavailable` until the sink recovers.
        case failClosed = "fail_closed"
    }

    public var kind: Kind
    public var onFailure: FailureMode = .drop
    /// Workspaces whose events this sink receives; empty = every event.
    public var workspaces: Set<String> = []

    /// The sink's short name, the `sink` label of its metrics.
    public var name: String {
        switch kind {
        case .file: "file"
        case .syslog: "syslog"
        case .webhook: "webhook"
        case .otlp: "otlp"
        }
    }

    /// For the start-up summary: where events go, without any secret (a webhook URL's user
    /// information and query are dropped; its token is only ever named by variable).
    public var description: String {
        var text: String
        switch kind {
        case .file(let path, let maxBytes, let keep): text = "file:\(path) (rotate at \(maxBytes) bytes, keep \(keep))"
        case .syslog(.tcp(let host, let port)): text = "syslog+tcp://\(host):\(port)"
        case .syslog(.tls(let host, let port, _)): text = "syslog+tls://\(host):\(port)"
        case .syslog(.unix(let path)): text = "syslog+unix://\(path)"
        case .webhook(let url, _, _):
            var components = URLComponents(string: url)
            components?.user = nil
            components?.password = nil
            components?.query = nil
            text = "webhook+\(components?.string ?? "(url)")"
        case .otlp: text = "otlp"
        }
        text += " on_failure=\(onFailure.rawValue)"
        if !workspaces.isEmpty { text += " workspace=\(workspaces.sorted().joined(separator: ","))" }
        return text
    }

    /// Levenshtein distance (names are short: at most a few dozen characters).
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.prefix(64)), b = Array(b.prefix(64))
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }

    public static let defaultMaxBytes = 64 * 1024 * 1024
    public static let defaultKeep = 5
    public static let defaultBatch = 100

    /// Parses one SPEC; every error names `setting` and what is wrong.
    public static func parse(_ spec: String, setting: String) throws(ConfigurationError) -> AuditSinkSpec {
        // The spec is not repeated in errors: it may hold a receiver's query secrets.
        func invalid(_ why: String) -> ConfigurationError { .invalid(name: setting, value: why) }
        // `otlp` and `otlp?workspace=…` have no authority; read them as `otlp://?…`.
        let text = spec == "otlp" || spec.hasPrefix("otlp?") ? "otlp://" + spec.dropFirst(4) : spec
        guard spec.count <= 2048, let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw invalid("expected file://PATH, syslog+tcp://HOST:PORT, syslog+tls://HOST:PORT, syslog+unix://PATH, webhook+https://URL or otlp")
        }
        var options = Options(setting: setting)
        for item in components.queryItems ?? [] {
            guard let value = item.value, !value.isEmpty else { throw invalid("option \(item.name) has no value") }
            options.values[item.name, default: []].append(value)
        }
        var result = try sink(scheme, components, options: &options)
        if let mode = options.take("on_failure") {
            guard let parsed = FailureMode(rawValue: mode) else { throw invalid("on_failure must be drop or fail_closed") }
            result.onFailure = parsed
        }
        result.workspaces = Set(options.values.removeValue(forKey: "workspace") ?? [])
        if let unknown = options.values.keys.sorted().first { throw invalid("unknown option \(unknown)") }
        if case .otlp = result.kind, result.onFailure == .failClosed {
            throw invalid("the otlp sink cannot fail closed: its exporter drops on its own schedule, unseen")
        }
        return result
    }

    /// A spec's query options, each taken at most once: whatever is left at the end is unknown.
    private struct Options {
        let setting: String
        var values: [String: [String]] = [:]

        /// An error naming the setting (never the spec, which may hold a receiver's query secrets).
        func invalid(_ why: String) -> ConfigurationError { .invalid(name: setting, value: why) }

        mutating func take(_ name: String) -> String? { values.removeValue(forKey: name)?.last }

        mutating func number(_ name: String, default value: Int, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
            guard let text = take(name) else { return value }
            guard let number = Int(text), range.contains(number) else { throw invalid("\(name) must be \(range.lowerBound)-\(range.upperBound)") }
            return number
        }
    }

    /// The sink `scheme` names, read from the rest of the URL and the options it takes.
    private static func sink(_ scheme: String, _ components: URLComponents, options: inout Options) throws(ConfigurationError) -> AuditSinkSpec {
        switch scheme {
        case "file":
            let path = components.path
            guard path.hasPrefix("/"), components.host.map({ $0.isEmpty }) ?? true, path.count > 1, !path.hasSuffix("/") else {
                throw options.invalid("a file sink needs an absolute file path: file:///var/log/tessera/audit.ndjson")
            }
            let maxBytes = try options.number("max_bytes", default: defaultMaxBytes, range: 1024...(1 << 40))
            let keep = try options.number("keep", default: defaultKeep, range: 1...1000)
            return AuditSinkSpec(kind: .file(path: path, maxBytes: maxBytes, keep: keep))
        case "syslog+tcp", "syslog+tls":
            guard let host = components.host, !host.isEmpty, let port = components.port, (1...65535).contains(port) else {
                throw options.invalid("syslog over TCP needs HOST:PORT")
            }
            let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
            if scheme == "syslog+tcp" {
                return AuditSinkSpec(kind: .syslog(.tcp(host: bare, port: port)))
            } else {
                return AuditSinkSpec(kind: .syslog(.tls(host: bare, port: port, caFile: options.take("ca"))))
            }
        case "syslog+unix":
            let path = components.path
            guard path.hasPrefix("/"), components.host.map({ $0.isEmpty }) ?? true else { throw options.invalid("syslog+unix needs an absolute socket path") }
            return AuditSinkSpec(kind: .syslog(.unix(path: path)))
        case "webhook+https", "webhook+http":
            return try webhook(scheme, components, options: &options)
        case "otlp":
            guard components.host.map({ $0.isEmpty }) ?? true, components.path.isEmpty else { throw options.invalid("write otlp, with options only") }
            return AuditSinkSpec(kind: .otlp)
        default:
            throw options.invalid("unknown sink \(scheme); expected file, syslog+tcp, syslog+tls, syslog+unix, webhook+https, webhook+http or otlp")
        }
    }

    /// A webhook sink: the receiver's URL keeps the query items that are not options of ours,
    /// refusing credentials in it and anything that looks like a misspelt option.
    private static func webhook(_ scheme: String, _ components: URLComponents, options: inout Options) throws(ConfigurationError) -> AuditSinkSpec {
        var target = components
        target.scheme = String(scheme.dropFirst("webhook+".count))
        guard let host = target.host, !host.isEmpty else { throw options.invalid("a webhook needs a host") }
        guard target.user == nil, target.password == nil else {
            throw options.invalid("put no credentials in the URL: name an environment variable with token_env=VAR")
        }
        let batch = try options.number("batch", default: defaultBatch, range: 1...1000)
        let variable = options.take("token_env")
        if let variable, variable.isEmpty || !variable.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
            throw options.invalid("token_env must name an environment variable")
        }
        // The remaining query items (other than the common options below) belong to the
        // receiver's URL; the common ones are ours.
        let ours: Set<String> = ["on_failure", "workspace", "batch", "token_env"]
        let theirs = (components.queryItems ?? []).filter { !ours.contains($0.name) }
        // A misspelt option of ours must not pass silently to the receiver (a tenant filter
        // or a fail-closed switch that is not in force).
        for item in theirs {
            let name = item.name.lowercased()
            if ours.contains(where: { Self.distance(name, $0) <= 2 }) || name.contains("workspace") || name.hasPrefix("on_")
                || name.contains("token") || name.contains("batch")
            {
                throw options.invalid("\(item.name) looks like a misspelt option (on_failure, workspace, batch, token_env)")
            }
        }
        if variable != nil, target.scheme == "http", !["127.0.0.1", "::1", "[::1]", "localhost"].contains(host.lowercased()) {
            throw options.invalid("token_env sends a bearer token: use webhook+https (http only to a loopback address)")
        }
        target.queryItems = theirs.isEmpty ? nil : theirs
        for item in theirs { options.values.removeValue(forKey: item.name) }
        guard let url = target.string else { throw options.invalid("unparseable URL") }
        return AuditSinkSpec(kind: .webhook(url: url, batch: batch, tokenVariable: variable))
    }
}
