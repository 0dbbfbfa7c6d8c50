/// Why a single value was refused; the loader adds the key and the value.
struct InvalidConfigValue: Error, Equatable {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

enum ConfigValueParsers {
    /// NIO's `TimeAmount` holds Int64 nanoseconds (about 292 years); staying far below keeps every
    /// conversion downstream free of overflow.
    static let longestDuration: Duration = .seconds(36_500 * 86_400)

    private static let durationUnits: [(suffix: String, nanoseconds: Int64)] = [
        ("ms", 1_000_000), ("s", 1_000_000_000), ("m", 60_000_000_000),
        ("h", 3_600_000_000_000), ("d", 86_400_000_000_000), ("", 1_000_000_000),
    ]
    private static let durationHint = "expected a duration such as 250ms, 30s, 15m, 2h, 30d or a number of seconds"

    /// `250ms`, `30s`, `15m`, `2h`, `30d`, or bare seconds (`1.5`). Decimal digits are read exactly
    /// rather than through Double so that `0.1` means 100ms, not 99.999…ms.
    static func duration(_ text: String) throws(InvalidConfigValue) -> Duration {
        let trimmed = trimmed(text)
        if trimmed.hasPrefix("-") { throw InvalidConfigValue("must not be negative") }
        guard let unit = durationUnits.first(where: { !$0.suffix.isEmpty && trimmed.hasSuffix($0.suffix) })
            ?? durationUnits.last
        else { throw InvalidConfigValue(durationHint) }
        let number = trimmed.dropLast(unit.suffix.count)
        let parts = number.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = parts[0]
        let fraction = parts.count == 2 ? parts[1] : ""
        guard whole.allSatisfy(ConfigValueParsers.isDigit), fraction.allSatisfy(ConfigValueParsers.isDigit),
              !(whole.isEmpty && fraction.isEmpty), !(parts.count == 2 && fraction.isEmpty)
        else { throw InvalidConfigValue(durationHint) }

        let significantWhole = whole.drop { $0 == "0" }
        guard significantWhole.count <= 12, let wholeValue = Int64(whole.isEmpty ? "0" : String(whole)) else {
            throw InvalidConfigValue("must be at most 36500d")
        }
        // Nanosecond precision is all the data plane can use; further digits are dropped.
        let fractionDigits = fraction.prefix(9)
        let fractionValue = Int(fractionDigits.isEmpty ? "0" : String(fractionDigits)) ?? 0
        var scale = 1
        for _ in 0..<fractionDigits.count { scale *= 10 }

        let unitDuration = Duration.nanoseconds(unit.nanoseconds)
        let result = unitDuration * Int(wholeValue) + unitDuration * fractionValue / scale
        guard result <= longestDuration else { throw InvalidConfigValue("must be at most 36500d") }
        return result
    }

    static func integer(_ text: String, in range: ClosedRange<Int>) throws(InvalidConfigValue) -> Int {
        guard let value = Int(trimmed(text)) else { throw InvalidConfigValue("expected an integer") }
        guard range.contains(value) else {
            throw InvalidConfigValue("must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return value
    }

    static func boolean(_ text: String) throws(InvalidConfigValue) -> Bool {
        switch trimmed(text).lowercased() {
        case "true", "yes", "1": return true
        case "false", "no", "0": return false
        default: throw InvalidConfigValue("expected a boolean: true/false, yes/no or 1/0")
        }
    }

    /// Case-insensitive, so `hs256` and `REDIS` are accepted; the canonical spelling is what is stored.
    static func choice<T: CaseIterable & RawRepresentable>(_ text: String, of type: T.Type) throws(InvalidConfigValue) -> T
        where T.RawValue == String {
        let wanted = trimmed(text).lowercased()
        guard let match = T.allCases.first(where: { $0.rawValue.lowercased() == wanted }) else {
            throw InvalidConfigValue("expected one of: " + T.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return match
    }

    static func choice(_ text: String, among names: [String]) throws(InvalidConfigValue) -> String {
        let wanted = trimmed(text).lowercased()
        guard names.contains(wanted) else {
            throw InvalidConfigValue("expected one of: " + names.joined(separator: ", "))
        }
        return wanted
    }

    /// RFC 9110 `token`: what a header name (and a cookie name, RFC 6265) may be made of.
    static func isHTTPToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "A")...UInt8(ascii: "Z"):
                return true
            default:
                return "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
        }
    }

    static func httpToken(_ text: String) throws(InvalidConfigValue) -> String {
        guard isHTTPToken(text) else {
            throw InvalidConfigValue(text.isEmpty ? "must not be empty" : "must be an HTTP token (letters, digits and !#$%&'*+-.^_`|~)")
        }
        return text
    }

    /// A public-path pattern: exact, or with one trailing `*` meaning "any rest".
    static func pathPattern(_ text: String) throws(InvalidConfigValue) -> String {
        guard text.hasPrefix("/") else { throw InvalidConfigValue("must start with \"/\"") }
        if let star = text.firstIndex(of: "*"), star != text.index(before: text.endIndex) {
            throw InvalidConfigValue("\"*\" is allowed only as the last character")
        }
        return text
    }

    /// Redis key templates are useless without their placeholder: every token would share one key.
    static func keyTemplate(_ text: String, placeholder: String) throws(InvalidConfigValue) -> String {
        guard text.contains(placeholder) else { throw InvalidConfigValue("must contain \(placeholder)") }
        return text
    }
}

extension ConfigValueParsers {
    static func isDigit(_ character: Character) -> Bool {
        character.isASCII && character.isNumber
    }

    /// Surrounding whitespace is never meaningful outside secrets, and `KEY= value` is a common slip.
    static func trimmed(_ text: some StringProtocol) -> String {
        let text = String(text)
        guard let first = text.unicodeScalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = text.unicodeScalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(text[first...last])
    }
}
