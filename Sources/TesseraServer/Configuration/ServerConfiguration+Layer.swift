import Foundation
import TesseraCore

extension ServerConfiguration {
    /// One layer of settings, every member optional; later layers override earlier ones.
    ///
    /// The three sources are read by the table (``ServerSettings/all``): ``flags(_:)``,
    /// ``environment(_:)`` and ``file(_:path:)`` know no setting by name.
    public struct Layer: Sendable, Equatable {
        public var host: String?
        public var port: Int?
        public var stateDirectory: String?
        public var logLevel: String?
        public var keyGraceSeconds: Int?
        public var keyRefreshSeconds: Int?
        public var durableCommits: Bool?
        public var bootstrapMode: String?
        public var databaseURL: String?
        public var bootstrapToken: String?
        public var issuer: String?
        public var authCacheSeconds: Int?
        public var loginTTLSeconds: Int?
        public var badgeMinimumLifetimeSeconds: Int?
        public var maxConnections: Int?
        public var headerTimeoutSeconds: Int?
        public var idleTimeoutSeconds: Int?
        public var requestTimeoutSeconds: Int?
        public var webSocketIdleTimeoutSeconds: Int?
        public var mcpUpstreams: [String: String]?
        public var publicURL: String?
        public var statusListTTLSeconds: Int?
        public var aatTrustAnchors: [String: String]?
        public var mdIssuers: [String: String]?
        public var mdOrigins: [String]?
        public var oauthCIMDAllowOrigins: [String]?
        public var aatPopOptOut: Bool?
        /// The specs as written; parsed (and refused with an error naming `audit_sinks`) by
        /// ``ServerConfiguration/resolve(flags:environment:file:)``.
        public var auditSinks: [String]?
        /// Not a setting of the table: the file's `otel_*` keys, collected by ``file(_:path:)``.
        public var otel: [String: String]?

        public init(
            host: String? = nil, port: Int? = nil, stateDirectory: String? = nil, logLevel: String? = nil,
            keyGraceSeconds: Int? = nil, keyRefreshSeconds: Int? = nil, durableCommits: Bool? = nil,
            bootstrapMode: String? = nil, bootstrapToken: String? = nil, issuer: String? = nil, databaseURL: String? = nil
        ) {
            self.databaseURL = databaseURL
            self.bootstrapMode = bootstrapMode
            self.bootstrapToken = bootstrapToken
            self.issuer = issuer
            self.host = host
            self.port = port
            self.stateDirectory = stateDirectory
            self.logLevel = logLevel
            self.keyGraceSeconds = keyGraceSeconds
            self.keyRefreshSeconds = keyRefreshSeconds
            self.durableCommits = durableCommits
        }

        /// The `TESSERA_*` variables of the table; a value that does not parse is an error naming
        /// the variable. Lists and maps are split at every `,` (nothing trimmed, empty entries
        /// dropped).
        public static func environment(_ env: [String: String]) throws(ConfigurationError) -> Layer {
            var layer = Layer()
            for setting in ServerSettings.all {
                guard let value = env[setting.environmentVariable] else { continue }
                let values = setting.kind.isRepeatable ? value.split(separator: ",").map(String.init) : [value]
                try setting.readText(values, setting.environmentVariable, &layer)
            }
            return layer
        }

        /// A JSON config file with snake_case keys (the table's file keys, and the `otel_*`
        /// keys); unknown keys are an error, not ignored. Read with ``StrictJSON`` (duplicate
        /// keys, trailing data and the like are refused). A `null` member is as if absent.
        public static func file(_ data: Data, path: String) throws(ConfigurationError) -> Layer {
            let parsed: JSONValue
            do {
                parsed = try StrictJSON.parse(data)
            } catch {
                throw .invalid(name: path, value: String(describing: error))
            }
            guard case .object(let members) = parsed else {
                throw .invalid(name: path, value: "expected a JSON object")
            }
            let otelKeys = Set(Telemetry.fileKeys)
            let keys = members.keys.sorted()
            if let unknown = keys.first(where: { ServerSettings.byFileKey[$0] == nil && !otelKeys.contains($0) }) {
                throw .unknownKey(path: path, key: unknown)
            }
            var layer = Layer()
            // The otel_* keys are strings, passed on as the standard variables.
            var otel: [String: String] = [:]
            for key in keys {
                guard let value = members[key] else { continue }
                if otelKeys.contains(key) {
                    guard case .string(let text) = value else { throw .invalid(name: key, value: "expected a string") }
                    otel[key] = text
                } else if value != .null, let setting = ServerSettings.byFileKey[key] {
                    try setting.readJSON(value, key, &layer)
                }
            }
            layer.otel = otel.isEmpty ? nil : otel
            return layer
        }

        /// The command line's settings: `--flag VALUE` or `--flag=VALUE` for each flag of the
        /// table; a boolean flag alone means true (`--flag=false` for false); a list or map flag
        /// may repeat and accumulates, another flag's last occurrence wins. An argument that is
        /// no flag of the table, or a flag without its value, is an error naming it.
        public static func flags(_ arguments: [String]) throws(ConfigurationError) -> Layer {
            var given: [String: [String]] = [:]
            var index = arguments.startIndex
            while index < arguments.endIndex {
                let argument = arguments[index]
                index += 1
                guard argument.hasPrefix("--"), argument.count > 2 else { throw .unknownOption(argument) }
                let flag: String
                let attached: String?
                if let equals = argument.firstIndex(of: "=") {
                    flag = String(argument[..<equals])
                    attached = String(argument[argument.index(after: equals)...])
                } else {
                    flag = argument
                    attached = nil
                }
                guard let setting = ServerSettings.byFlag[flag] else { throw .unknownOption(flag) }
                let value: String
                if let attached {
                    value = attached
                } else if setting.kind == .boolean {
                    value = "true"
                } else if index < arguments.endIndex, !arguments[index].hasPrefix("--") {
                    value = arguments[index]
                    index += 1
                } else {
                    throw .missingValue(option: flag)
                }
                given[setting.name, default: []].append(value)
            }
            var layer = Layer()
            for setting in ServerSettings.all {
                guard let values = given[setting.name] else { continue }
                try setting.readText(values, setting.flag, &layer)
            }
            return layer
        }
    }
}
