/// A value as the YAML file or the environment gave it, before it is given a type. Keeping this
/// untyped layer lets one set of readers serve both sources and report type mistakes as problems.
indirect enum ConfigNode {
    case null
    case scalar(String)
    case sequence([ConfigNode])
    case mapping([(key: String, value: ConfigNode)])

    /// The value roughly as written, for problem messages.
    var display: String {
        switch self {
        case .null: "null"
        case .scalar(let text): text
        case .sequence(let items): "[" + items.map(\.display).joined(separator: ", ") + "]"
        case .mapping(let pairs): "{" + pairs.map { "\($0.key): \($0.value.display)" }.joined(separator: ", ") + "}"
        }
    }

    var kindName: String {
        switch self {
        case .null: "null"
        case .scalar: "a single value"
        case .sequence: "a list"
        case .mapping: "a mapping"
        }
    }
}

enum ConfigSettingSource: Equatable {
    case file
    case environment(variable: String)
}

struct ConfigSetting {
    var value: ConfigNode
    var source: ConfigSettingSource
}

/// How a key's current value is written by `renderedYAML()`.
indirect enum RenderedConfigValue {
    /// Written as is: numbers, booleans, durations and enum names, none of which YAML misreads.
    case plain(String)
    /// Double-quoted, so no string is ever read back as a number, a boolean or null.
    case string(String)
    case null
    case list([RenderedConfigValue])
    case pairs([(key: String, value: String)])
    case annotated(RenderedConfigValue, comment: String)
}

/// One row of the key table: the single place that knows a key's name, how to read it and how to
/// write it back, so loading, environment names and rendering cannot drift apart.
struct ConfigurationKey {
    let path: String
    /// Turns a value as written into what a problem may show; secrets become `<redacted>`.
    let redact: (String) -> String
    let apply: (ConfigurationKey, ConfigSetting, inout ConfigurationLoadSession) -> Void
    let render: (Configuration) -> RenderedConfigValue

    init(_ path: String,
         redact: @escaping (String) -> String = { $0 },
         apply: @escaping (ConfigurationKey, ConfigSetting, inout ConfigurationLoadSession) -> Void,
         render: @escaping (Configuration) -> RenderedConfigValue) {
        self.path = path
        self.redact = redact
        self.apply = apply
        self.render = render
    }

    /// `PORTCULLIS_` + the path upper-cased with `.` → `_`. Derived from the path, never parsed back,
    /// because `PORTCULLIS_JWT_SECRET_FILE` would otherwise be ambiguous.
    var environmentName: String {
        "PORTCULLIS_" + String(path.uppercased().map { $0 == "." ? "_" : $0 })
    }

    var section: String { String(path.prefix { $0 != "." }) }
    var name: String { String(path.drop { $0 != "." }.dropFirst()) }

    static let redactedText = "<redacted>"

    /// Every key, in the order of INTERFACE §2 (extensions last in their section). This order is
    /// also the order problems are reported in and keys are rendered in. Computed, not stored: the
    /// rows hold closures, and a load happens once per start.
    static var all: [ConfigurationKey] {
        proxyKeys + proxyTLSKeys + jwtKeys + revocationKeys + adminKeys + adminTLSKeys + authzKeys + [errorsFormat] + logKeys
            + [routesKey]
    }

    static let sectionNames = ["proxy", "jwt", "revocation", "admin", "authz", "errors", "log", "routes"]
}

/// The state of one load: the configuration being filled in and every problem met on the way.
struct ConfigurationLoadSession {
    var configuration = Configuration()
    var problems: [ConfigurationProblem] = []
    /// Keys whose value was refused; cross-field checks skip them rather than pile a second,
    /// derived complaint onto the first.
    var failedKeys: Set<String> = []
    /// Contents of secret files, as bytes, by the `*_file` key they came from.
    var fileContents: [String: [UInt8]] = [:]
    let readFile: (String) throws -> String
    let readBytes: (String) throws -> [UInt8]

    init(readFile: @escaping (String) throws -> String, readBytes: @escaping (String) throws -> [UInt8]) {
        self.readFile = readFile
        self.readBytes = readBytes
    }

    mutating func report(_ key: ConfigurationKey, _ setting: ConfigSetting, value: String?, reason: String) {
        var reason = reason
        if case .environment(let variable) = setting.source { reason += " (set by \(variable))" }
        problems.append(ConfigurationProblem(key: key.path, value: value.map(key.redact), reason: reason))
        failedKeys.insert(key.path)
    }

    /// A problem inside a structured key (`routes[2].scopes_mode`); `failing` is the key refused.
    mutating func report(path: String, failing keyPath: String, _ setting: ConfigSetting, value: String?, reason: String) {
        var reason = reason
        if case .environment(let variable) = setting.source { reason += " (set by \(variable))" }
        problems.append(ConfigurationProblem(key: path, value: value, reason: reason))
        failedKeys.insert(keyPath)
    }

    mutating func report(_ key: ConfigurationKey, _ setting: ConfigSetting, reason: String) {
        report(key, setting, value: setting.value.display, reason: reason)
    }

    /// Reads a key whose value is a single scalar; nil after reporting a problem.
    mutating func scalar<T>(_ key: ConfigurationKey, _ setting: ConfigSetting, expected: String,
                            _ parse: (String) throws(InvalidConfigValue) -> T) -> T? {
        guard case .scalar(let text) = setting.value else {
            report(key, setting, reason: "expected \(expected), got \(setting.value.kindName)")
            return nil
        }
        do throws(InvalidConfigValue) {
            return try parse(text)
        } catch {
            report(key, setting, value: text, reason: error.reason)
            return nil
        }
    }

    /// The items of a list key. From the environment the value is split on commas; in YAML a single
    /// string is taken as a one-element list, the mistake operators make most.
    mutating func listItems(_ key: ConfigurationKey, _ setting: ConfigSetting, expected: String) -> [String]? {
        switch (setting.value, setting.source) {
        case (.scalar(let text), .environment):
            return text.split(separator: ",").map { ConfigValueParsers.trimmed($0) }.filter { !$0.isEmpty }
        case (.scalar(let text), .file):
            return [text]
        case (.sequence(let items), _):
            var texts: [String] = []
            for item in items {
                guard case .scalar(let text) = item else {
                    report(key, setting, reason: "expected \(expected), but an item is \(item.kindName)")
                    return nil
                }
                texts.append(text)
            }
            return texts
        default:
            report(key, setting, reason: "expected \(expected), got \(setting.value.kindName)")
            return nil
        }
    }
}
