import Foundation
import Testing
import TesseraCore

@testable import TesseraServer

/// The settings table (``ServerSettings/all``) is the only place a setting is declared: these
/// tests fail when a setting is missing from any source (flag, `TESSERA_*` variable, file key),
/// from the start-up summary, from `serve --help` or from docs/configuration.md, or when a
/// property of the configuration has no entry.
@Suite("Configuration table: every setting in every source")
struct ConfigurationTableTests {
    typealias Layer = ServerConfiguration.Layer

    static var names: [String] { ServerSettings.all.map(\.name) }

    static func setting(_ name: String) throws -> ServerSetting {
        try #require(ServerSettings.byName[name], "no setting \(name)")
    }

    /// The example's entries (lists and maps: comma-separated).
    static func entries(_ setting: ServerSetting) -> [String] {
        setting.kind.isRepeatable ? setting.example.split(separator: ",").map(String.init) : [setting.example]
    }

    /// The example as the config file spells it.
    static func json(_ setting: ServerSetting) -> String {
        switch setting.kind {
        case .integer: return setting.example
        case .boolean: return ["1", "true", "yes"].contains(setting.example.lowercased()) ? "true" : "false"
        case .string, .secret: return CanonicalJSON.serialize(.string(setting.example))
        case .list: return CanonicalJSON.serialize(.array(entries(setting).map { JSONValue.string($0) }))
        case .map:
            var members: [String: JSONValue] = [:]
            for entry in entries(setting) {
                let equals = entry.firstIndex(of: "=")!
                members[String(entry[..<equals])] = .string(String(entry[entry.index(after: equals)...]))
            }
            return CanonicalJSON.serialize(.object(members))
        }
    }

    /// The example as command-line arguments: `--flag VALUE` (repeated per entry for a list or
    /// a map), `--flag=VALUE` for a boolean.
    static func commandLine(_ setting: ServerSetting) -> [String] {
        switch setting.kind {
        case .boolean: [setting.flag + "=" + setting.example]
        case .list, .map: entries(setting).flatMap { [setting.flag, $0] }
        default: [setting.flag, setting.example]
        }
    }

    static func resolve(flags: Layer = .init(), environment: Layer = .init(), file: Layer = .init()) throws -> ServerConfiguration {
        try ServerConfiguration.resolve(flags: flags, environment: environment, file: file)
    }

    /// The configuration with only this setting's example, set through its variable.
    static func fromEnvironment(_ setting: ServerSetting) throws -> ServerConfiguration {
        try resolve(environment: try Layer.environment([setting.environmentVariable: setting.example]))
    }

    // MARK: Each source reads each setting

    @Test("the TESSERA_* variable of every setting is read", arguments: ConfigurationTableTests.names)
    func environmentVariable(_ name: String) throws {
        let setting = try Self.setting(name)
        let layer = try Layer.environment([setting.environmentVariable: setting.example])
        #expect(layer != Layer(), "\(setting.environmentVariable) is not read")
        #expect(try Self.fromEnvironment(setting) != ServerConfiguration(), "\(setting.environmentVariable)=\(setting.example) changes nothing")
    }

    @Test("the file key of every setting is accepted and read like the variable", arguments: ConfigurationTableTests.names)
    func fileKey(_ name: String) throws {
        let setting = try Self.setting(name)
        let text = #"{"\#(setting.name)": \#(Self.json(setting))}"#
        guard let key = setting.fileKey else {
            // A deliberate exception (a secret): the key is refused like any unknown key.
            #expect(throws: ConfigurationError.unknownKey(path: "c.json", key: setting.name)) {
                try Layer.file(Data(text.utf8), path: "c.json")
            }
            return
        }
        #expect(key == setting.name)
        let resolved = try Self.resolve(file: try Layer.file(Data(text.utf8), path: "c.json"))
        #expect(resolved != ServerConfiguration(), "\(text) changes nothing")
        let fromEnvironment = try Self.fromEnvironment(setting)
        #expect(resolved == fromEnvironment, "\(key) and \(setting.environmentVariable) disagree")
    }

    @Test("the flag of every setting parses, as --flag VALUE and --flag=VALUE, like the variable", arguments: ConfigurationTableTests.names)
    func flag(_ name: String) throws {
        let setting = try Self.setting(name)
        let fromEnvironment = try Self.fromEnvironment(setting)
        let resolved = try Self.resolve(flags: try Layer.flags(Self.commandLine(setting)))
        #expect(resolved != ServerConfiguration(), "\(Self.commandLine(setting)) changes nothing")
        #expect(resolved == fromEnvironment, "\(setting.flag) and \(setting.environmentVariable) disagree")
        let attached = Self.entries(setting).map { setting.flag + "=" + $0 }
        #expect(try Self.resolve(flags: try Layer.flags(attached)) == fromEnvironment)
    }

    @Test("every setting has a line in the start-up summary, showing its value", arguments: ConfigurationTableTests.names)
    func summary(_ name: String) throws {
        let setting = try Self.setting(name)
        let defaults = Dictionary(uniqueKeysWithValues: ServerConfiguration().summary)
        let changed = Dictionary(uniqueKeysWithValues: try Self.fromEnvironment(setting).summary)
        let before = try #require(defaults[setting.summaryKey], "\(setting.name) missing from the summary")
        let after = try #require(changed[setting.summaryKey])
        #expect(before != after, "the summary of \(setting.name) does not show its value")
        #expect(before == setting.defaultDescription || setting.defaultText != nil)
    }

    @Test("serve --help's text lists every setting's flag, variable, file key and default", arguments: ConfigurationTableTests.names)
    func helpText(_ name: String) throws {
        let setting = try Self.setting(name)
        // Words only: the help is wrapped.
        let help = ServerSettings.helpText.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for text in [setting.flag, setting.environmentVariable, setting.fileKey, setting.defaultDescription].compactMap({ $0 }) {
            #expect(help.contains(text), "\(text) missing from serve --help")
        }
    }

    @Test("docs/configuration.md lists every setting's flag, variable and file key", arguments: ConfigurationTableTests.names)
    func documented(_ name: String) throws {
        let setting = try Self.setting(name)
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/configuration.md")
        let text = try String(contentsOf: url, encoding: .utf8)
        for label in [setting.flag, setting.environmentVariable, setting.fileKey].compactMap({ $0 }) {
            #expect(text.contains("`\(label)`"), "`\(label)` missing from docs/configuration.md")
        }
    }

    @Test("serve --help lists every OpenTelemetry file key")
    func helpListsTelemetry() {
        for key in Telemetry.fileKeys { #expect(ServerSettings.helpText.contains(key)) }
    }

    // MARK: The table covers the configuration

    /// The labels of a value's stored properties whose printed value differs from the other's.
    static func changedLabels(_ value: Any, from reference: Any) -> Set<String> {
        let before = Dictionary(uniqueKeysWithValues: Mirror(reflecting: reference).children.map { ($0.label ?? "", String(describing: $0.value)) })
        var out: Set<String> = []
        for child in Mirror(reflecting: value).children where before[child.label ?? ""] != String(describing: child.value) {
            out.insert(child.label ?? "")
        }
        return out
    }

    static func labels(_ value: Any) -> Set<String> {
        Set(Mirror(reflecting: value).children.compactMap(\.label))
    }

    @Test("every layer property but otel is one setting's, and every configuration property but passwordIterations and otel is reached by one")
    func tableCoversTheConfiguration() throws {
        var layerLabels: Set<String> = []
        var configurationLabels: Set<String> = []
        for setting in ServerSettings.all {
            let layer = try Layer.environment([setting.environmentVariable: setting.example])
            let changed = Self.changedLabels(layer, from: Layer())
            #expect(changed.count == 1, "\(setting.name) sets \(changed.sorted())")
            #expect(layerLabels.isDisjoint(with: changed), "\(changed.sorted()) set by two settings")
            layerLabels.formUnion(changed)
            configurationLabels.formUnion(Self.changedLabels(try Self.fromEnvironment(setting), from: ServerConfiguration()))
        }
        #expect(layerLabels == Self.labels(Layer()).subtracting(["otel"]), "layer properties without a setting")
        #expect(
            configurationLabels == Self.labels(ServerConfiguration()).subtracting(["passwordIterations", "otel"]),
            "configuration properties without a setting")
    }

    @Test("names: derived from the setting's name, unique, and the exceptions are the documented ones")
    func naming() {
        let all = ServerSettings.all
        #expect(Set(all.map(\.name)).count == all.count)
        #expect(Set(all.map(\.flag)).count == all.count)
        #expect(Set(all.map(\.environmentVariable)).count == all.count)
        for setting in all {
            #expect(setting.environmentVariable == "TESSERA_" + setting.name.uppercased())
            #expect(setting.fileKey == setting.name || setting.name == "bootstrap_token")
            #expect(!setting.help.isEmpty && !setting.example.isEmpty)
        }
        #expect(all.filter { $0.fileKey == nil }.map(\.name) == ["bootstrap_token"])
        let derived = all.filter { $0.flag == "--" + $0.name.replacingOccurrences(of: "_", with: "-") }.map(\.name)
        let singular = Dictionary(uniqueKeysWithValues: all.filter { !derived.contains($0.name) }.map { ($0.name, $0.flag) })
        #expect(singular == [
            "aat_trust_anchors": "--aat-trust-anchor", "md_issuers": "--md-issuer", "md_origins": "--md-origin",
            "oauth_cimd_allow_origins": "--oauth-cimd-allow-origin", "audit_sinks": "--audit-sink", "mcp_upstreams": "--mcp-upstream",
        ])
        // Every name that worked before the table still does.
        let existing = [
            "--state-dir", "--host", "--port", "--log-level", "--bootstrap-mode", "--database-url", "--bootstrap-token", "--issuer",
            "--public-url", "--header-timeout-seconds", "--idle-timeout-seconds", "--request-timeout-seconds",
            "--websocket-idle-timeout-seconds", "--aat-pop-opt-out",
        ]
        for flag in existing + Array(singular.values) {
            #expect(ServerSettings.byFlag[flag] != nil, "\(flag) no longer parses")
        }
    }

    // MARK: Refusals name what is wrong

    @Test("an unknown file key, a value of the wrong JSON type and bad JSON are refused, naming them")
    func fileErrors() throws {
        #expect(throws: ConfigurationError.unknownKey(path: "c.json", key: "status_list_ttl")) {
            try Layer.file(Data(#"{"port": 1, "status_list_ttl": 5}"#.utf8), path: "c.json")
        }
        #expect(throws: ConfigurationError.invalid(name: "status_list_ttl_seconds", value: "expected an integer")) {
            try Layer.file(Data(#"{"status_list_ttl_seconds": "5"}"#.utf8), path: "c.json")
        }
        #expect(throws: ConfigurationError.invalid(name: "md_origins", value: "expected an array of strings")) {
            try Layer.file(Data(#"{"md_origins": "https://a.example"}"#.utf8), path: "c.json")
        }
        #expect(throws: ConfigurationError.invalid(name: "durable_commits", value: "expected true or false")) {
            try Layer.file(Data(#"{"durable_commits": "no"}"#.utf8), path: "c.json")
        }
        #expect(throws: ConfigurationError.invalid(name: "c.json", value: "expected a JSON object")) {
            try Layer.file(Data("[]".utf8), path: "c.json")
        }
        // The strict parser: a duplicate key is refused.
        #expect(throws: ConfigurationError.self) {
            try Layer.file(Data(#"{"port": 1, "port": 2}"#.utf8), path: "c.json")
        }
        // null is as if absent.
        #expect(try Layer.file(Data(#"{"port": null}"#.utf8), path: "c.json") == Layer())
    }

    @Test("a variable that does not parse is refused, naming the variable", arguments: ConfigurationTableTests.names)
    func environmentErrors(_ name: String) throws {
        let setting = try Self.setting(name)
        let bad: String
        switch setting.kind {
        case .integer, .boolean: bad = "maybe"
        case .map: bad = "nonsense"
        case .string, .secret, .list: return  // any text parses (validation names the setting)
        }
        let error = #expect(throws: ConfigurationError.self) { try Layer.environment([setting.environmentVariable: bad]) }
        guard case .invalid(let named, let value)? = error else {
            Issue.record("\(setting.environmentVariable)=\(bad): \(String(describing: error))")
            return
        }
        #expect(named == setting.environmentVariable && value.hasPrefix(bad), "\(named): \(value)")
    }

    @Test("an unknown flag, a stray argument and a missing value are refused, naming them")
    func flagErrors() throws {
        #expect(throws: ConfigurationError.unknownOption("--bogus")) { try Layer.flags(["--port", "1", "--bogus"]) }
        #expect(throws: ConfigurationError.unknownOption("--bogus")) { try Layer.flags(["--bogus=1"]) }
        #expect(throws: ConfigurationError.unknownOption("--md-origins")) { try Layer.flags(["--md-origins", "https://a.example"]) }
        #expect(throws: ConfigurationError.unknownOption("stray")) { try Layer.flags(["stray"]) }
        #expect(throws: ConfigurationError.unknownOption("-p")) { try Layer.flags(["-p", "1"]) }
        #expect(throws: ConfigurationError.unknownOption("--")) { try Layer.flags(["--"]) }
        #expect(throws: ConfigurationError.invalid(name: "--port", value: "http")) { try Layer.flags(["--port", "http"]) }
        #expect(throws: ConfigurationError.invalid(name: "--durable-commits", value: "maybe")) { try Layer.flags(["--durable-commits=maybe"]) }
        #expect(throws: ConfigurationError.invalid(name: "--mcp-upstream", value: "git (expected NAME=URL)")) {
            try Layer.flags(["--mcp-upstream", "git"])
        }
        for setting in ServerSettings.all where setting.kind != .boolean {
            #expect(throws: ConfigurationError.missingValue(option: setting.flag)) { try Layer.flags([setting.flag]) }
            #expect(throws: ConfigurationError.missingValue(option: setting.flag)) { try Layer.flags([setting.flag, "--port", "1"]) }
        }
        #expect(ConfigurationError.unknownOption("--bogus").description == "unknown option --bogus")
        #expect(ConfigurationError.missingValue(option: "--port").description == "missing value for --port")
    }

    @Test("flags: a boolean alone is true, a scalar's last occurrence wins, list and map flags accumulate")
    func flagForms() throws {
        #expect(try Layer.flags(["--aat-pop-opt-out"]).aatPopOptOut == true)
        #expect(try Layer.flags(["--aat-pop-opt-out=no"]).aatPopOptOut == false)
        #expect(try Layer.flags(["--durable-commits=false"]).durableCommits == false)
        #expect(try Layer.flags([]) == Layer())
        #expect(try Layer.flags(["--port", "1", "--port=2"]).port == 2)
        #expect(try Layer.flags(["--public-url", "-"]).publicURL == "-")
        let lists = try Layer.flags([
            "--md-origin", "https://a.example", "--md-origin=https://b.example",
            "--mcp-upstream", "a=http://127.0.0.1:1/mcp", "--mcp-upstream", "b=http://127.0.0.1:2/mcp",
        ])
        #expect(lists.mdOrigins == ["https://a.example", "https://b.example"])
        #expect(lists.mcpUpstreams == ["a": "http://127.0.0.1:1/mcp", "b": "http://127.0.0.1:2/mcp"])
    }

    // MARK: Precedence

    @Test("flag > environment > file > default, for a number, a boolean and a list")
    func precedence() throws {
        let file = try Layer.file(
            Data(#"{"status_list_ttl_seconds": 10, "durable_commits": false, "md_origins": ["https://file.example"]}"#.utf8), path: "c.json")
        let environment = try Layer.environment([
            "TESSERA_STATUS_LIST_TTL_SECONDS": "20", "TESSERA_DURABLE_COMMITS": "true", "TESSERA_MD_ORIGINS": "https://env.example",
        ])
        let flags = try Layer.flags(["--status-list-ttl-seconds", "30", "--durable-commits=false", "--md-origin", "https://flag.example"])
        let all = try Self.resolve(flags: flags, environment: environment, file: file)
        #expect(all.statusListTTLSeconds == 30 && all.durableCommits == false && all.mdOrigins == ["https://flag.example"])
        let noFlags = try Self.resolve(environment: environment, file: file)
        #expect(noFlags.statusListTTLSeconds == 20 && noFlags.durableCommits == true && noFlags.mdOrigins == ["https://env.example"])
        let fileOnly = try Self.resolve(file: file)
        #expect(fileOnly.statusListTTLSeconds == 10 && fileOnly.durableCommits == false && fileOnly.mdOrigins == ["https://file.example"])
        let none = try Self.resolve()
        #expect(none.statusListTTLSeconds == 60 && none.durableCommits == true && none.mdOrigins == [])
        // A flag of one setting leaves the others to the lower layers.
        let mixed = try Self.resolve(flags: try Layer.flags(["--port", "9200"]), environment: environment, file: file)
        #expect(mixed.port == 9200 && mixed.statusListTTLSeconds == 20)
    }

    @Test("validation comes from the table: ranges name the setting")
    func validation() throws {
        #expect(throws: ConfigurationError.invalid(name: "status_list_ttl_seconds", value: "3601")) {
            try Self.resolve(flags: try Layer.flags(["--status-list-ttl-seconds", "3601"]))
        }
        #expect(throws: ConfigurationError.invalid(name: "max_connections", value: "15")) {
            try Self.resolve(environment: try Layer.environment(["TESSERA_MAX_CONNECTIONS": "15"]))
        }
        #expect(throws: ConfigurationError.invalid(name: "key_grace_seconds", value: "59")) {
            try Self.resolve(file: try Layer.file(Data(#"{"key_grace_seconds": 59}"#.utf8), path: "c.json"))
        }
        #expect(throws: ConfigurationError.invalid(name: "idle_timeout_seconds", value: "0 (expected 1-3600 seconds)")) {
            try Self.resolve(flags: try Layer.flags(["--idle-timeout-seconds=0"]))
        }
        #expect(throws: ConfigurationError.invalid(name: "log_level", value: "loud")) {
            try Self.resolve(flags: try Layer.flags(["--log-level", "loud"]))
        }
        #expect(throws: ConfigurationError.invalid(name: "bootstrap_mode", value: "open")) {
            try Self.resolve(flags: try Layer.flags(["--bootstrap-mode", "open"]))
        }
        let error = #expect(throws: ConfigurationError.self) {
            try Self.resolve(flags: try Layer.flags(["--bootstrap-mode", "token", "--bootstrap-token", "short"]))
        }
        guard case .invalid(let name, let value)? = error else {
            Issue.record("a short bootstrap token: \(String(describing: error))")
            return
        }
        #expect(name == "bootstrap_token" && !value.contains("short"), "\(name): \(value)")
    }

    @Test("the summary holds no secret")
    func summarySecrets() throws {
        let configuration = try Self.resolve(environment: try Layer.environment([
            "TESSERA_DATABASE_URL": "postgres://tessera:hunter2@db.example:5432/tessera",
            "TESSERA_BOOTSTRAP_TOKEN": "tsk_hunter2hunter2hunter2hunter2",
            "TESSERA_MCP_UPSTREAMS": "git=https://user:hunter2@git.example/mcp",
            "TESSERA_PUBLIC_URL": "https://user:hunter2@tessera.example",
        ]))
        let summary = Dictionary(uniqueKeysWithValues: configuration.summary)
        for (key, value) in summary { #expect(!value.contains("hunter2"), "\(key)=\(value)") }
        #expect(summary["bootstrap_token"] == "(set)")
        // Printed under the key earlier releases used (SIEM rules read `store`).
        #expect(summary["store"]?.contains("db.example") == true && summary["store"]?.contains("***") == true)
        #expect(ServerConfiguration().summary.first { $0.0 == "bootstrap_token" }?.1 == "(none)")
        #expect(ServerConfiguration().summary.first { $0.0 == "store" }?.1 == "sqlite (state_dir)")
    }

    // MARK: The binary

    @Test("tessera serve --help lists every flag and variable; an unknown flag or a missing value exits 2 naming it")
    func binary() async throws {
        let help = try await SecurityRound3BindingTests.runTessera(["serve", "--help"])
        #expect(help.status == 0, "\(help)")
        for setting in ServerSettings.all {
            #expect(help.stdout.contains(setting.flag), "\(setting.flag) missing from serve --help")
            #expect(help.stdout.contains(setting.environmentVariable), "\(setting.environmentVariable) missing from serve --help")
        }
        let unknown = try await SecurityRound3BindingTests.runTessera(["serve", "--status-list-ttl", "5"])
        #expect(unknown.status == 2 && unknown.stderr.contains("unknown option --status-list-ttl"), "\(unknown)")
        let missing = try await SecurityRound3BindingTests.runTessera(["serve", "--status-list-ttl-seconds"])
        #expect(missing.status == 2 && missing.stderr.contains("missing value for --status-list-ttl-seconds"), "\(missing)")
        let bad = try await SecurityRound3BindingTests.runTessera(["serve", "--status-list-ttl-seconds=soon"])
        #expect(bad.status == 2 && bad.stderr.contains("--status-list-ttl-seconds"), "\(bad)")
    }
}
