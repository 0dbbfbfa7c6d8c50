/// A route's `scopes` and `scopes_mode`, with AuthX 1.7.1's matching (`_internal/_scopes.py`):
/// a required scope is met by the same scope, or by a granted `ns:*` when it equals `ns` or starts
/// with `ns:`. A token without a `scopes` list grants nothing.
///
/// The refusal's texts are built here once, at start or reload; only the list of scopes the token
/// provided is formatted per refusal, and never on the pass path.
public struct ScopeRequirement: Sendable, Equatable {
    public let required: [String]
    public let mode: ScopesMode
    /// `Bearer error="insufficient_scope", scope="a b"` (RFC 6750 §3), the same in both error formats.
    public let wwwAuthenticate: String
    /// `Missing required scopes: ['a', 'b']. Provided: ` as AuthX writes it.
    private let messagePrefix: String

    /// nil for an empty list: a route without scopes checks none.
    public init?(_ required: [String], mode: ScopesMode) {
        guard !required.isEmpty else { return nil }
        self.required = required
        self.mode = mode
        self.wwwAuthenticate = #"Bearer error="insufficient_scope", scope="\#(required.joined(separator: " "))""#
        self.messagePrefix = "Missing required scopes: \(PythonRepr.list(required)). Provided: "
    }

    public func isSatisfied(by provided: [String]?) -> Bool {
        guard let provided else { return false }
        switch mode {
        case .all: return required.allSatisfy { Self.isGranted($0, by: provided) }
        case .any: return required.contains { Self.isGranted($0, by: provided) }
        }
    }

    /// AuthX's `match_scope`, for one required scope against every granted one.
    static func isGranted(_ required: String, by provided: [String]) -> Bool {
        provided.contains { granted in
            if granted == required { return true }
            guard granted.hasSuffix(":*") else { return false }
            // "users:*" covers "users" and everything under "users:".
            let namespace = granted.dropLast(2)
            return required == namespace || required.hasPrefix(granted.dropLast())
        }
    }

    /// The 403 for a token whose `scopes` were `provided`. AuthX lists every required scope, not
    /// only the missing ones, and `[]` when the token has no list.
    public func refusal(provided: [String]?) -> ScopeRefusal {
        ScopeRefusal(message: messagePrefix + PythonRepr.list(provided ?? []), wwwAuthenticate: wwwAuthenticate)
    }
}

/// A 403 `InsufficientScopeError`: the one denial whose message depends on the token.
public struct ScopeRefusal: Sendable, Equatable {
    public let message: String
    public let wwwAuthenticate: String
    public var denial: Denial { .insufficientScope }
}

/// Python's `repr()` of a list of `str`, which AuthX puts in its scope message.
enum PythonRepr {
    static func list(_ items: [String]) -> String {
        "[" + items.map(string).joined(separator: ", ") + "]"
    }

    /// CPython's `unicode_repr`: single quotes unless the text holds `'` and no `"`; `\\`, the
    /// quote, `\t`, `\n`, `\r` escaped; other non-printable characters as `\x`, `\u` or `\U`.
    static func string(_ text: String) -> String {
        let quote: Unicode.Scalar = text.unicodeScalars.contains("'") && !text.unicodeScalars.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for scalar in text.unicodeScalars {
            switch scalar {
            case quote, "\\":
                out += "\\"
                out.unicodeScalars.append(scalar)
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\x" + hex(scalar.value, digits: 2)
                } else if scalar.value < 0x7F || isPrintable(scalar) {
                    out.unicodeScalars.append(scalar)
                } else if scalar.value <= 0xFF {
                    out += "\\x" + hex(scalar.value, digits: 2)
                } else if scalar.value <= 0xFFFF {
                    out += "\\u" + hex(scalar.value, digits: 4)
                } else {
                    out += "\\U" + hex(scalar.value, digits: 8)
                }
            }
        }
        out.unicodeScalars.append(quote)
        return out
    }

    /// `str.isprintable()` for one character: not in Cc, Cf, Cs, Co, Cn, Zl, Zp or Zs (space aside).
    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
