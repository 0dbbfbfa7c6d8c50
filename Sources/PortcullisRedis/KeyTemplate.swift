/// `revocation.jti_key` and friends, split once around their placeholder.
struct KeyTemplate: Sendable {
    let prefix: String
    let suffix: String

    /// nil for an empty template (a disabled key kind).
    init?(_ template: String, placeholder: String) {
        guard !template.isEmpty, let range = template.range(of: placeholder) else { return nil }
        prefix = String(template[..<range.lowerBound])
        suffix = String(template[range.upperBound...])
    }

    func key(_ value: some StringProtocol) -> String { prefix + value + suffix }

    /// The value inside a key of this template, or nil when the key is not one.
    func value(in key: String) -> String? {
        guard key.hasPrefix(prefix), key.hasSuffix(suffix), key.count >= prefix.count + suffix.count else { return nil }
        return String(key.dropFirst(prefix.count).dropLast(suffix.count))
    }

    /// A SCAN MATCH pattern for every key of this template (glob characters escaped).
    var scanPattern: String { Self.escapeGlob(prefix) + "*" + Self.escapeGlob(suffix) }

    private static func escapeGlob(_ text: String) -> String {
        var out = ""
        for character in text {
            if "*?[]\\".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }
}
