/// Case-insensitive header-name checks on UTF-8 bytes: the per-request path compares names
/// without building lower-cased copies.
enum HeaderName {
    /// True when `name` equals `lowercased` ignoring ASCII case; `lowercased` must be lower case.
    @inline(__always)
    static func equals(_ name: String, _ lowercased: String) -> Bool {
        name.utf8.count == lowercased.utf8.count && hasPrefix(name, lowercased)
    }

    /// True when `name` starts with `lowercasedPrefix` ignoring ASCII case.
    @inline(__always)
    static func hasPrefix(_ name: String, _ lowercasedPrefix: String) -> Bool {
        var name = name
        var prefix = lowercasedPrefix
        return name.withUTF8 { a in
            prefix.withUTF8 { b in
                guard a.count >= b.count else { return false }
                // `| 0x20` folds ASCII letters; `b` holds only lower-case letters, digits and `-`.
                for i in 0..<b.count where a[i] | 0x20 != b[i] && a[i] != b[i] { return false }
                return true
            }
        }
    }

    /// Comma-separated tokens of a `Connection` header value, trimmed and lower-cased.
    static func connectionTokens(_ value: String) -> [String] {
        value.split(separator: ",").compactMap { token in
            let trimmed = token.utf8.drop { $0 == 0x20 || $0 == 0x09 }
            let end = trimmed.lastIndex { $0 != 0x20 && $0 != 0x09 }
            guard let end else { return nil }
            return String(decoding: trimmed[...end], as: UTF8.self).lowercased()
        }
    }
}
