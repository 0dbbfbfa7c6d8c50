extension Configuration {
    /// The effective configuration as YAML, every key (snake_case names as in INTERFACE §2), secrets
    /// (jwt.secret, admin.token, redis password) replaced by "<redacted>"; *_file keys shown as paths.
    /// Without secrets, `ConfigurationLoader.load(yaml:)` reads it back to an equal value.
    public func renderedYAML() -> String {
        var lines = ["# Effective Portcullis configuration; secrets are shown as <redacted>."]
        var section = ""
        for key in ConfigurationKey.all {
            if ConfigurationKey.topLevelKeys.contains(key.path) {
                section = ""
                lines += ConfigYAMLWriter.lines(name: key.path, value: key.render(self), indent: "")
                continue
            }
            if key.section != section {
                section = key.section
                lines.append("\(section):")
            }
            lines += ConfigYAMLWriter.lines(name: key.name, value: key.render(self), indent: "  ")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

enum ConfigYAMLWriter {
    /// The shortest exact spelling: `30d` rather than `2592000s`, decimal seconds only when no unit
    /// fits, so that the output reads like what an operator writes and loads back unchanged.
    static func durationText(_ duration: Duration) -> String {
        if duration < .zero { return "-" + durationText(.zero - duration) }
        let (seconds, attoseconds) = duration.components
        let attosecondsPerMillisecond: Int64 = 1_000_000_000_000_000
        if attoseconds % attosecondsPerMillisecond == 0 {
            let (milliseconds, overflow) = seconds.multipliedReportingOverflow(by: 1000)
            let (total, carry) = milliseconds.addingReportingOverflow(attoseconds / attosecondsPerMillisecond)
            if !overflow && !carry {
                if total == 0 { return "0s" }
                for (suffix, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] where total % size == 0 {
                    return "\(total / size)\(suffix)"
                }
                return "\(total)ms"
            }
        }
        var fraction = String(attoseconds)
        fraction = String(repeating: "0", count: max(0, 18 - fraction.count)) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(seconds).\(fraction)"
    }

    static func lines(name: String, value: RenderedConfigValue, indent: String) -> [String] {
        switch value {
        case .annotated(let inner, let comment):
            var lines = self.lines(name: name, value: inner, indent: indent)
            lines[0] += "  # \(comment)"
            return lines
        case .list(let items):
            if items.isEmpty { return ["\(indent)\(name): []"] }
            return ["\(indent)\(name):"] + items.map { "\(indent)  - \(inline($0))" }
        case .pairs(let pairs):
            if pairs.isEmpty { return ["\(indent)\(name): {}"] }
            return ["\(indent)\(name):"] + pairs.map { "\(indent)  \(quoted($0.key)): \(quoted($0.value))" }
        case .plain, .string, .null:
            return ["\(indent)\(name): \(inline(value))"]
        }
    }

    private static func inline(_ value: RenderedConfigValue) -> String {
        switch value {
        case .plain(let text): text
        case .string(let text): quoted(text)
        case .null: "null"
        case .annotated(let inner, _): inline(inner)
        case .list(let items): "[" + items.map(inline).joined(separator: ", ") + "]"
        case .pairs(let pairs): "{" + pairs.map { "\(quoted($0.key)): \(quoted($0.value))" }.joined(separator: ", ") + "}"
        }
    }

    /// A YAML double-quoted scalar. Every character YAML would fold, strip or treat as a line break
    /// is escaped, so any string survives the trip.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{85}": out += "\\N"
            case "\u{2028}": out += "\\L"
            case "\u{2029}": out += "\\P"
            case "\u{FEFF}": out += "\\uFEFF"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
