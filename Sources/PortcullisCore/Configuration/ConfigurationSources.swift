import Yams

/// Turns the YAML file and the environment into raw settings by key path. Only shape is checked
/// here (known keys, sections that are mappings); values are typed later by the key table.
struct ConfigurationSources {
    let keys: [ConfigurationKey]
    private(set) var settings: [String: ConfigSetting] = [:]
    private(set) var problems: [ConfigurationProblem] = []

    init(keys: [ConfigurationKey]) {
        self.keys = keys
    }

    mutating func readYAML(_ text: String) {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            problems.append(ConfigurationProblem(key: "config", value: nil, reason: "invalid YAML: \(summary(of: error))"))
            return
        }
        guard let root else { return }
        var converter = ConfigNodeConverter()
        guard let document = converter.convert(root) else {
            problems.append(ConfigurationProblem(
                key: "config", value: nil,
                reason: "the YAML expands to more than \(ConfigNodeConverter.nodeBudget) values (aliases nested too deep?)"))
            return
        }
        switch document {
        case .null:
            return
        case .mapping(let sections):
            for (section, value) in sections { readSection(section, value) }
        case let other:
            problems.append(ConfigurationProblem(
                key: "config", value: nil,
                reason: "expected a mapping of sections (\(ConfigurationKey.sectionNames.joined(separator: ", "))), got \(other.kindName)"))
        }
    }

    private mutating func readSection(_ section: String, _ value: ConfigNode) {
        guard ConfigurationKey.sectionNames.contains(section) else {
            problems.append(unknownKey(section))
            return
        }
        if ConfigurationKey.topLevelKeys.contains(section) {
            if case .null = value { return }
            settings[section] = ConfigSetting(value: value, source: .file)
            return
        }
        switch value {
        case .null:
            return
        case .mapping(let entries):
            for (name, entry) in entries {
                let path = "\(section).\(name)"
                guard keys.contains(where: { $0.path == path }) else {
                    problems.append(unknownKey(path))
                    continue
                }
                // A key left empty (`issuer:`) keeps its default, as if it were not written.
                if case .null = entry { continue }
                settings[path] = ConfigSetting(value: entry, source: .file)
            }
        default:
            // The value is not shown: a section typed as a scalar may well be a misplaced secret.
            problems.append(ConfigurationProblem(
                key: section, value: nil, reason: "expected a mapping of \(section).* keys, got \(value.kindName)"))
        }
    }

    /// Applied after the file so that the environment wins. Sorted so that the problem list is the
    /// same on every run, whatever order the OS hands the variables over in.
    mutating func readEnvironment(_ environment: [String: String]) {
        let keysByVariable = Dictionary(keys.map { ($0.environmentName, $0) }, uniquingKeysWith: { first, _ in first })
        for (variable, value) in environment.sorted(by: { $0.key < $1.key }) where variable.hasPrefix("PORTCULLIS_") {
            if variable == ConfigurationLoader.configPathVariable { continue }
            guard let key = keysByVariable[variable] else {
                let suggestion = ConfigKeySuggestion.closest(to: variable, among: keys.map(\.environmentName))
                problems.append(ConfigurationProblem(
                    key: variable, value: nil,
                    reason: "unknown environment variable" + (suggestion.map { "; did you mean \($0)?" } ?? "")))
                continue
            }
            settings[key.path] = ConfigSetting(value: .scalar(value), source: .environment(variable: variable))
        }
    }

    /// The value is left out on purpose: a misspelt `secret` key still holds a secret.
    private func unknownKey(_ path: String) -> ConfigurationProblem {
        let reason: String
        if let flat = keys.first(where: { $0.path == path }) {
            // `proxy.listen: …` written at the top level: a real key, in the wrong shape.
            reason = "unknown key; write it nested, as \(flat.name) under \(flat.section)"
        } else if let suggestion = ConfigKeySuggestion.forUnknownKey(path, keys: keys) {
            reason = "unknown key; did you mean \(suggestion)?"
        } else {
            reason = "unknown key"
        }
        return ConfigurationProblem(key: path, value: nil, reason: reason)
    }

    /// One line, without Yams's multi-line snippet, so the one-problem-per-line layout holds.
    private func summary(of error: any Error) -> String {
        guard let yamlError = error as? YamlError else { return String(describing: error) }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let during = context.map { "\($0.text): " } ?? ""
            return "line \(mark.line), column \(mark.column): \(during)\(problem)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            return "line \(context.mark.line): duplicate key " + duplicates.map { "\"\($0)\"" }.joined(separator: ", ")
        default:
            return String(describing: yamlError).split(separator: "\n").first.map(String.init) ?? "unreadable"
        }
    }
}

/// Converts Yams nodes, within a budget: aliases let a few lines name an exponential number of
/// nodes ("billion laughs"), which Yams shares but a plain conversion would expand.
struct ConfigNodeConverter {
    static let nodeBudget = 100_000
    private var remaining = nodeBudget

    /// nil once the budget is spent.
    mutating func convert(_ node: Node) -> ConfigNode? {
        remaining -= 1
        guard remaining >= 0 else { return nil }
        switch node {
        case .scalar(let scalar):
            // Only a plain `~`, `null` or empty scalar is null; a quoted "null" is the string.
            let isNull = scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
            return isNull ? .null : .scalar(scalar.string)
        case .sequence(let sequence):
            var items: [ConfigNode] = []
            for item in sequence {
                guard let converted = convert(item) else { return nil }
                items.append(converted)
            }
            return .sequence(items)
        case .mapping(let mapping):
            var pairs: [(key: String, value: ConfigNode)] = []
            for pair in mapping {
                guard let key = convert(pair.key), let value = convert(pair.value) else { return nil }
                if case .scalar(let name) = key { pairs.append((name, value)) } else { pairs.append((key.display, value)) }
            }
            return .mapping(pairs)
        case .alias:
            // The composer resolves aliases to the node they name, so this is never reached with a value.
            return .null
        }
    }
}
