/// One thing wrong with the configuration, phrased for the operator who has to fix it.
public struct ConfigurationProblem: Sendable, Equatable, CustomStringConvertible {
    /// The dotted key (`proxy.upstream`), `config` for the file as a whole, or the variable's own
    /// name for an unknown `PORTCULLIS_*` environment variable.
    public var key: String
    /// The offending value as written; secrets appear as `<redacted>`, and unknown keys carry
    /// none because a misspelt `secret` key holds a secret.
    public var value: String?
    public var reason: String

    public init(key: String, value: String?, reason: String) {
        self.key = key
        self.value = value
        self.reason = reason
    }

    /// `proxy.upstream = "ftp://x": expected an http:// or https:// URL`, or without ` = …` when
    /// there is no value.
    public var description: String {
        let key = escapingControlCharacters(key), reason = escapingControlCharacters(reason)
        guard let value else { return "\(key): \(reason)" }
        return "\(key) = \"\(escapingControlCharacters(value, quote: true))\": \(reason)"
    }
}

/// Every problem found in one load, so an operator fixes them in one round instead of one per restart.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var problems: [ConfigurationProblem]

    public init(problems: [ConfigurationProblem]) {
        self.problems = problems
    }

    /// One problem per line.
    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}

/// Keys and reasons can carry text from the file (a quoted key may hold a newline); escaping
/// control characters keeps the one-line-per-problem layout that scripts and people rely on.
private func escapingControlCharacters(_ text: String, quote: Bool = false) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"" where quote: out += "\\\""
        case "\\" where quote: out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\u{85}" || scalar == "\u{2028}" || scalar == "\u{2029}" {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out
}
