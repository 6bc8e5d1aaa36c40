import Foundation
import NIOCore
import TesseraCore

/// One setting of `tessera serve`, declared once in ``ServerSettings/all``: its names in each
/// source, its type, its help, how a value read from a flag, a variable or the file lands in a
/// ``ServerConfiguration/Layer``, how a layer applies to a ``ServerConfiguration``, its validation
/// and its start-up summary line.
public struct ServerSetting: Sendable {
    /// The shape of a value, which decides how each source spells it.
    public enum Kind: Sendable, Equatable {
        /// A whole number within the range (flag and variable: decimal; file: a JSON number).
        case integer(ClosedRange<Int>)
        /// Text (file: a JSON string).
        case string
        /// Text that is never printed (file: a JSON string, when the setting has a file key).
        case secret
        /// `1`/`true`/`yes` or `0`/`false`/`no` (flag alone: true; file: a JSON boolean).
        case boolean
        /// Entries: a repeatable flag, a comma-separated variable, a JSON array of strings.
        case list
        /// `NAME=VALUE` entries: a repeatable flag, a comma-separated variable, a JSON object of
        /// strings.
        case map

        /// Whether the flag may repeat and the variable is split at commas.
        public var isRepeatable: Bool { self == .list || self == .map }
    }

    /// The snake_case name: the file key (when there is one), the summary key (see
    /// ``summaryKey``), and the name validation errors give.
    public let name: String

    /// The key of this setting's start-up summary line, which is also a member of the
    /// `configuration.loaded` audit event's details: the name, except where an earlier release
    /// printed another key that SIEM rules may read (``ServerSettings/summaryKeys``).
    public var summaryKey: String { ServerSettings.summaryKeys[name] ?? name }
    /// `--flag`: `--` and the name with `-` for `_`, unless the entry says otherwise.
    public let flag: String
    /// `TESSERA_` and the name in upper case.
    public let environmentVariable: String
    /// The config-file key (the name), or nil when the setting deliberately has none.
    public let fileKey: String?
    public let kind: Kind
    /// What the flag's value is called in help (`<seconds>`, `NAME=URL`).
    public let valueName: String
    /// The accepted values when the setting is one of a few words.
    public let choices: [String]
    public let help: String
    /// A valid value other than the default, as written on a command line or in a variable
    /// (entries separated by commas): shown in the docs and used by the tests.
    public let example: String
    let defaultText: String?
    /// Stores values read from text into a layer: a variable's value (split at commas for a
    /// list or map) or every occurrence of the flag; `source` (the flag or variable) names
    /// errors.
    let readText: @Sendable (_ values: [String], _ source: String, _ layer: inout ServerConfiguration.Layer) throws(ConfigurationError) -> Void
    /// Stores a config-file value into a layer; `source` (the key) names errors.
    let readJSON: @Sendable (_ value: JSONValue, _ source: String, _ layer: inout ServerConfiguration.Layer) throws(ConfigurationError) -> Void
    /// Applies the layer's value, when it has one, to a configuration.
    let apply: @Sendable (_ layer: ServerConfiguration.Layer, _ configuration: inout ServerConfiguration) throws(ConfigurationError) -> Void
    /// Refuses the configuration's value with an error naming the setting.
    let check: @Sendable (_ configuration: ServerConfiguration) throws(ConfigurationError) -> Void
    /// The start-up summary's value (secrets redacted).
    let show: @Sendable (_ configuration: ServerConfiguration) -> String

    /// The default as help prints it.
    public var defaultDescription: String { defaultText ?? show(ServerConfiguration()) }

    /// How the flag is written, as help shows it.
    public var flagUsage: String {
        switch kind {
        case .boolean: "\(flag)[=true|false]"
        case .list, .map: "\(flag) \(valueName) (repeatable)"
        default: "\(flag) \(valueName)"
        }
    }

    /// The help sentence, the accepted values and the default.
    public var fullHelp: String {
        var text = help
        if !choices.isEmpty {
            text += " One of: \(choices.joined(separator: ", "))."
        } else if case .integer(let range) = kind {
            text += range.upperBound == Int.max ? " At least \(range.lowerBound)." : " \(range.lowerBound)-\(range.upperBound)."
        }
        return text + " Default: \(defaultDescription)."
    }
}

/// A property of a layer or of a configuration, as two closures (key paths are not `Sendable`).
struct SettingField<Root, Value>: Sendable {
    let get: @Sendable (Root) -> Value
    let set: @Sendable (inout Root, Value) -> Void

    init(_ get: @escaping @Sendable (Root) -> Value, _ set: @escaping @Sendable (inout Root, Value) -> Void) {
        self.get = get
        self.set = set
    }
}

/// How a value is read from text (flag occurrences or a variable's entries) and from JSON.
struct SettingCodec<Value: Sendable>: Sendable {
    let text: @Sendable (_ values: [String], _ source: String) throws(ConfigurationError) -> Value
    let json: @Sendable (_ value: JSONValue, _ source: String) throws(ConfigurationError) -> Value
}

enum SettingCodecs {
    static let integer = SettingCodec<Int>(
        text: { values, source throws(ConfigurationError) -> Int in
            let text = values.last ?? ""
            guard let number = Int(text) else { throw .invalid(name: source, value: text) }
            return number
        },
        json: { value, source throws(ConfigurationError) -> Int in
            guard case .number(let number) = value, let integer = number.int else {
                throw .invalid(name: source, value: "expected an integer")
            }
            return integer
        })

    static let string = SettingCodec<String>(
        text: { values, _ in values.last ?? "" },
        json: { value, source throws(ConfigurationError) -> String in
            guard case .string(let text) = value else { throw .invalid(name: source, value: "expected a string") }
            return text
        })

    static let boolean = SettingCodec<Bool>(
        text: { values, source throws(ConfigurationError) -> Bool in
            let text = values.last ?? ""
            switch text.lowercased() {
            case "1", "true", "yes": return true
            case "0", "false", "no": return false
            default: throw .invalid(name: source, value: text)
            }
        },
        json: { value, source throws(ConfigurationError) -> Bool in
            guard case .bool(let flag) = value else { throw .invalid(name: source, value: "expected true or false") }
            return flag
        })

    static let list = SettingCodec<[String]>(
        text: { values, _ in values },
        json: { value, source throws(ConfigurationError) -> [String] in
            guard case .array(let items) = value else { throw .invalid(name: source, value: "expected an array of strings") }
            var out: [String] = []
            for item in items {
                guard case .string(let text) = item else { throw .invalid(name: source, value: "expected an array of strings") }
                out.append(text)
            }
            return out
        })

    /// A `NAME=VALUE` map whose text entries are read by `parse`.
    static func map(
        _ parse: @escaping @Sendable (_ entries: [String], _ source: String) throws(ConfigurationError) -> [String: String]
    ) -> SettingCodec<[String: String]> {
        SettingCodec<[String: String]>(
            text: { values, source throws(ConfigurationError) -> [String: String] in try parse(values, source) },
            json: { value, source throws(ConfigurationError) -> [String: String] in
                guard case .object(let members) = value else { throw .invalid(name: source, value: "expected an object of strings") }
                var out: [String: String] = [:]
                for (key, member) in members {
                    guard case .string(let text) = member else { throw .invalid(name: source, value: "expected an object of strings") }
                    out[key] = text
                }
                return out
            })
    }
}

// MARK: - Building entries

extension ServerSetting {
    typealias Layer = ServerConfiguration.Layer

    /// The one place an entry's behaviour is assembled: the names are derived from `name`
    /// unless given, and every closure goes through the typed layer property.
    static func make<Value: Sendable>(
        _ name: String, kind: Kind, flag: String?, fileKey: Bool, valueName: String, choices: [String] = [], help: String,
        example: String, defaultText: String?, codec: SettingCodec<Value>, layer: SettingField<Layer, Value?>,
        apply: @escaping @Sendable (_ value: Value, _ configuration: inout ServerConfiguration) throws(ConfigurationError) -> Void,
        check: @escaping @Sendable (_ configuration: ServerConfiguration) throws(ConfigurationError) -> Void,
        show: @escaping @Sendable (_ configuration: ServerConfiguration) -> String
    ) -> ServerSetting {
        ServerSetting(
            name: name,
            flag: flag ?? "--" + name.replacingOccurrences(of: "_", with: "-"),
            environmentVariable: "TESSERA_" + name.uppercased(),
            fileKey: fileKey ? name : nil,
            kind: kind, valueName: valueName, choices: choices, help: help, example: example, defaultText: defaultText,
            readText: { values, source, target throws(ConfigurationError) in
                let value = try codec.text(values, source)
                layer.set(&target, value)
            },
            readJSON: { json, source, target throws(ConfigurationError) in
                let value = try codec.json(json, source)
                layer.set(&target, value)
            },
            apply: { given, configuration throws(ConfigurationError) in
                guard let value = layer.get(given) else { return }
                try apply(value, &configuration)
            },
            check: check,
            show: show)
    }

    /// A whole number within `range`, refused outside it as `invalid value for NAME: N`.
    static func integer(
        _ name: String, range: ClosedRange<Int>, valueName: String = "<seconds>", help: String, example: String,
        layer: SettingField<Layer, Int?>, value: SettingField<ServerConfiguration, Int>
    ) -> ServerSetting {
        make(
            name, kind: .integer(range), flag: nil, fileKey: true, valueName: valueName, help: help, example: example, defaultText: nil,
            codec: SettingCodecs.integer, layer: layer,
            apply: { number, configuration in value.set(&configuration, number) },
            check: { configuration throws(ConfigurationError) in
                let number = value.get(configuration)
                guard range.contains(number) else { throw .invalid(name: name, value: String(number)) }
            },
            show: { String(value.get($0)) })
    }

    /// A connection deadline: whole seconds within ``ServerConfiguration/connectionTimeoutRange``,
    /// checked before it becomes a `TimeAmount` (`.seconds` of a huge value would overflow).
    static func timeout(
        _ name: String, help: String, example: String,
        layer: SettingField<Layer, Int?>, value: SettingField<ServerConfiguration, TimeAmount>
    ) -> ServerSetting {
        let range = ServerConfiguration.connectionTimeoutRange
        return make(
            name, kind: .integer(range), flag: nil, fileKey: true, valueName: "<seconds>", help: help, example: example, defaultText: nil,
            codec: SettingCodecs.integer, layer: layer,
            apply: { seconds, configuration throws(ConfigurationError) in
                let amount = try ServerConfiguration.timeout(seconds, name)
                value.set(&configuration, amount)
            },
            check: { configuration throws(ConfigurationError) in
                // Whole seconds within the range (also for a configuration built in code).
                let amount = value.get(configuration)
                let bounds = Int64(range.lowerBound)...Int64(range.upperBound)
                guard amount.nanoseconds % 1_000_000_000 == 0, bounds.contains(ServerConfiguration.seconds(amount)) else {
                    throw ServerConfiguration.timeoutError(name, "\(Double(amount.nanoseconds) / 1e9)")
                }
            },
            show: { String(ServerConfiguration.seconds(value.get($0))) })
    }

    /// Text with a default. `choices`, when given, are the only accepted values.
    static func string(
        _ name: String, flag: String? = nil, valueName: String, choices: [String] = [], help: String, example: String,
        defaultText: String? = nil, layer: SettingField<Layer, String?>, value: SettingField<ServerConfiguration, String>,
        check: @escaping @Sendable (_ value: String) throws(ConfigurationError) -> Void = { _ in }
    ) -> ServerSetting {
        make(
            name, kind: .string, flag: flag, fileKey: true, valueName: valueName, choices: choices, help: help, example: example,
            defaultText: defaultText, codec: SettingCodecs.string, layer: layer,
            apply: { text, configuration in value.set(&configuration, text) },
            check: { configuration throws(ConfigurationError) in
                let text = value.get(configuration)
                if !choices.isEmpty, !choices.contains(text) { throw .invalid(name: name, value: text) }
                try check(text)
            },
            show: { value.get($0) })
    }

    /// Text without a default (nil until set). `secret` text is never printed as is: `show`
    /// says how it appears.
    static func optionalString(
        _ name: String, secret: Bool = false, fileKey: Bool = true, valueName: String, choices: [String] = [], help: String,
        example: String, defaultText: String? = nil, layer: SettingField<Layer, String?>, value: SettingField<ServerConfiguration, String?>,
        check: @escaping @Sendable (_ configuration: ServerConfiguration) throws(ConfigurationError) -> Void = { _ in },
        show: (@Sendable (_ value: String?) -> String)? = nil
    ) -> ServerSetting {
        let display: @Sendable (_ value: String?) -> String
        if let show { display = show } else { display = { text in text ?? "(none)" } }
        return make(
            name, kind: secret ? .secret : .string, flag: nil, fileKey: fileKey, valueName: valueName, choices: choices, help: help,
            example: example, defaultText: defaultText, codec: SettingCodecs.string, layer: layer,
            apply: { text, configuration in value.set(&configuration, text) },
            check: { configuration throws(ConfigurationError) in
                if !choices.isEmpty, let text = value.get(configuration), !choices.contains(text) {
                    throw .invalid(name: name, value: text)
                }
                try check(configuration)
            },
            show: { display(value.get($0)) })
    }

    static func boolean(
        _ name: String, help: String, example: String,
        layer: SettingField<Layer, Bool?>, value: SettingField<ServerConfiguration, Bool>
    ) -> ServerSetting {
        make(
            name, kind: .boolean, flag: nil, fileKey: true, valueName: "", help: help, example: example, defaultText: nil,
            codec: SettingCodecs.boolean, layer: layer,
            apply: { flag, configuration in value.set(&configuration, flag) },
            check: { _ in },
            show: { String(value.get($0)) })
    }

    /// Entries; the flag is usually the singular (`--md-origin` for `md_origins`).
    static func list(
        _ name: String, flag: String, valueName: String, help: String, example: String,
        layer: SettingField<Layer, [String]?>,
        apply: @escaping @Sendable (_ value: [String], _ configuration: inout ServerConfiguration) throws(ConfigurationError) -> Void,
        check: @escaping @Sendable (_ configuration: ServerConfiguration) throws(ConfigurationError) -> Void = { _ in },
        show: @escaping @Sendable (_ configuration: ServerConfiguration) -> String
    ) -> ServerSetting {
        make(
            name, kind: .list, flag: flag, fileKey: true, valueName: valueName, help: help, example: example, defaultText: nil,
            codec: SettingCodecs.list, layer: layer, apply: apply, check: check, show: show)
    }

    /// `NAME=VALUE` entries read by `parse`; the flag is usually the singular.
    static func map(
        _ name: String, flag: String, valueName: String, help: String, example: String,
        parse: @escaping @Sendable (_ entries: [String], _ source: String) throws(ConfigurationError) -> [String: String],
        layer: SettingField<Layer, [String: String]?>, value: SettingField<ServerConfiguration, [String: String]>,
        check: @escaping @Sendable (_ configuration: ServerConfiguration) throws(ConfigurationError) -> Void = { _ in },
        show entry: @escaping @Sendable (_ value: String) -> String = { $0 }
    ) -> ServerSetting {
        make(
            name, kind: .map, flag: flag, fileKey: true, valueName: valueName, help: help, example: example, defaultText: nil,
            codec: SettingCodecs.map(parse), layer: layer,
            apply: { entries, configuration in value.set(&configuration, entries) },
            check: check,
            show: { configuration in
                let entries = value.get(configuration)
                return entries.isEmpty ? "(none)" : entries.keys.sorted().map { "\($0)=\(entry(entries[$0] ?? ""))" }.joined(separator: ",")
            })
    }

    /// How a list shows in the summary: its entries joined with commas, or `(none)`.
    static func joined(_ entries: [String]) -> String {
        entries.isEmpty ? "(none)" : entries.joined(separator: ",")
    }
}
