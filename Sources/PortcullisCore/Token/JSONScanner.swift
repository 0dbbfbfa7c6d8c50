/// Why a JSON text was refused; `offset` counts bytes into the decoded segment, never token text.
package struct JSONSyntaxError: Error, Sendable, Equatable {
    package var reason: String
    package var offset: Int

    package init(_ reason: String, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }
}

/// A string's bytes between its quotes, still escaped; decoding is left to
/// the caller so strings nobody keeps are never allocated.
package struct JSONString: Sendable {
    package var start: Int
    package var end: Int
    package var hasEscapes: Bool

    package var count: Int { end - start }
}

/// A pull scanner over RFC 8259 JSON in a borrowed buffer.
///
/// The verifier needs a handful of members out of small objects on every
/// request, so instead of building a tree this walks the text once, hands
/// out positions, and lets the caller decide what to materialise. It is
/// strict where lenient parsers differ (trailing commas, control characters
/// in strings, invalid UTF-8, lone surrogates, leading zeros), because two
/// parsers that disagree on one token are a classic way to smuggle claims.
package struct JSONScanner {
    /// Deeper documents are refused rather than walked, so hostile nesting costs nothing.
    package static let maximumDepth = 64

    package let bytes: UnsafeRawBufferPointer
    package private(set) var index: Int

    package init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.index = 0
    }

    // MARK: Structure

    package mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// The next significant byte, after whitespace; nil at the end.
    package mutating func peek() -> UInt8? {
        skipWhitespace()
        return index < bytes.count ? bytes[index] : nil
    }

    package mutating func beginObject() throws(JSONSyntaxError) {
        guard peek() == UInt8(ascii: "{") else { throw JSONSyntaxError("expected an object", at: index) }
        index += 1
    }

    /// Steps to the next member of the object being read and returns its
    /// name, positioned at the value; returns nil after consuming the
    /// closing brace. `isFirst` tracks whether a comma is due.
    package mutating func nextMember(isFirst: inout Bool) throws(JSONSyntaxError) -> JSONString? {
        guard let byte = peek() else { throw JSONSyntaxError("unterminated object", at: index) }
        if byte == UInt8(ascii: "}") {
            index += 1
            return nil
        }
        if isFirst {
            isFirst = false
        } else {
            guard byte == UInt8(ascii: ",") else { throw JSONSyntaxError("expected ',' or '}' in object", at: index) }
            index += 1
        }
        guard peek() == UInt8(ascii: "\"") else { throw JSONSyntaxError("expected a member name", at: index) }
        let name = try scanString()
        guard peek() == UInt8(ascii: ":") else { throw JSONSyntaxError("expected ':' after member name", at: index) }
        index += 1
        skipWhitespace()
        return name
    }

    package mutating func beginArray() throws(JSONSyntaxError) {
        guard peek() == UInt8(ascii: "[") else { throw JSONSyntaxError("expected an array", at: index) }
        index += 1
    }

    /// Steps to the next element, returning false after consuming the closing bracket.
    package mutating func nextElement(isFirst: inout Bool) throws(JSONSyntaxError) -> Bool {
        guard let byte = peek() else { throw JSONSyntaxError("unterminated array", at: index) }
        if byte == UInt8(ascii: "]") {
            index += 1
            return false
        }
        if isFirst {
            isFirst = false
        } else {
            guard byte == UInt8(ascii: ",") else { throw JSONSyntaxError("expected ',' or ']' in array", at: index) }
            index += 1
            skipWhitespace()
        }
        return true
    }

    /// Only whitespace may follow the top-level value.
    package mutating func expectEnd() throws(JSONSyntaxError) {
        skipWhitespace()
        guard index == bytes.count else { throw JSONSyntaxError("unexpected data after the JSON value", at: index) }
    }

    /// Validates and steps over one value of any kind. `depth` is the
    /// nesting of the container holding it (1 for a top-level object's member).
    package mutating func skipValue(depth: Int) throws(JSONSyntaxError) {
        guard let byte = peek() else { throw JSONSyntaxError("expected a value", at: index) }
        switch byte {
        case UInt8(ascii: "\""):
            _ = try scanString()
        case UInt8(ascii: "{"):
            guard depth < Self.maximumDepth else { throw JSONSyntaxError("nesting deeper than \(Self.maximumDepth)", at: index) }
            index += 1
            var isFirst = true
            while try nextMember(isFirst: &isFirst) != nil {
                try skipValue(depth: depth + 1)
            }
        case UInt8(ascii: "["):
            guard depth < Self.maximumDepth else { throw JSONSyntaxError("nesting deeper than \(Self.maximumDepth)", at: index) }
            index += 1
            var isFirst = true
            while try nextElement(isFirst: &isFirst) {
                try skipValue(depth: depth + 1)
            }
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            _ = try scanBool()
        case UInt8(ascii: "n"):
            try scanNull()
        default:
            _ = try scanNumber()
        }
    }

    // MARK: Literals

    package mutating func scanBool() throws(JSONSyntaxError) -> Bool {
        if matchLiteral("true") { return true }
        if matchLiteral("false") { return false }
        throw JSONSyntaxError("invalid literal", at: index)
    }

    package mutating func scanNull() throws(JSONSyntaxError) {
        guard matchLiteral("null") else { throw JSONSyntaxError("invalid literal", at: index) }
    }

    private mutating func matchLiteral(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        let start = literal.utf8Start
        for offset in 0..<count where bytes[index + offset] != start[offset] {
            return false
        }
        index += count
        return true
    }

    // MARK: Numbers

    /// Steps over a number and returns the range of its text. Grammar per
    /// RFC 8259 §6: no leading zeros, no leading '+', no bare '.', no hex.
    package mutating func scanNumber() throws(JSONSyntaxError) -> Range<Int> {
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw JSONSyntaxError("invalid value", at: start) }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            skipDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw JSONSyntaxError("digit expected after '.'", at: index) }
            skipDigits()
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw JSONSyntaxError("digit expected in exponent", at: index) }
            skipDigits()
        }
        return start..<index
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10
    }

    private mutating func skipDigits() {
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }

    // MARK: Strings

    /// Steps over a string (positioned at its opening quote), validating
    /// escapes, surrogate pairing and UTF-8, and returns its escaped content.
    package mutating func scanString() throws(JSONSyntaxError) -> JSONString {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
            throw JSONSyntaxError("expected a string", at: index)
        }
        index += 1
        let start = index
        var hasEscapes = false
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let string = JSONString(start: start, end: index, hasEscapes: hasEscapes)
                index += 1
                return string
            } else if byte == UInt8(ascii: "\\") {
                hasEscapes = true
                try scanEscape()
            } else if byte < 0x20 {
                throw JSONSyntaxError("control character in string", at: index)
            } else if byte < 0x80 {
                index += 1
            } else {
                try scanUTF8Sequence()
            }
        }
        throw JSONSyntaxError("unterminated string", at: start - 1)
    }

    /// At a backslash: accepts one escape; a high surrogate must be followed
    /// by an escaped low one, and a low surrogate may not stand alone.
    private mutating func scanEscape() throws(JSONSyntaxError) {
        let escapeStart = index
        index += 1
        guard index < bytes.count else { throw JSONSyntaxError("unterminated escape", at: escapeStart) }
        switch bytes[index] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
             UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            index += 1
        case UInt8(ascii: "u"):
            index += 1
            let unit = try scanHex4(escapeStart: escapeStart)
            if unit & 0xFC00 == 0xD800 {
                guard bytes.count - index >= 2, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw JSONSyntaxError("unpaired surrogate escape", at: escapeStart)
                }
                index += 2
                let low = try scanHex4(escapeStart: escapeStart)
                guard low & 0xFC00 == 0xDC00 else { throw JSONSyntaxError("unpaired surrogate escape", at: escapeStart) }
            } else if unit & 0xFC00 == 0xDC00 {
                throw JSONSyntaxError("unpaired surrogate escape", at: escapeStart)
            }
        default:
            throw JSONSyntaxError("invalid escape", at: escapeStart)
        }
    }

    private mutating func scanHex4(escapeStart: Int) throws(JSONSyntaxError) -> UInt16 {
        guard bytes.count - index >= 4 else { throw JSONSyntaxError("truncated \\u escape", at: escapeStart) }
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard let digit = Self.hexValue(bytes[index]) else { throw JSONSyntaxError("invalid \\u escape", at: escapeStart) }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    package static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// At a byte >= 0x80: accepts exactly one well-formed UTF-8 scalar
    /// (RFC 3629 table: no overlongs, no surrogates, nothing past U+10FFFF).
    private mutating func scanUTF8Sequence() throws(JSONSyntaxError) {
        let lead = bytes[index]
        let continuationCount: Int
        var secondLow: UInt8 = 0x80
        var secondHigh: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: continuationCount = 1
        case 0xE0: continuationCount = 2; secondLow = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: continuationCount = 2
        case 0xED: continuationCount = 2; secondHigh = 0x9F
        case 0xF0: continuationCount = 3; secondLow = 0x90
        case 0xF1...0xF3: continuationCount = 3
        case 0xF4: continuationCount = 3; secondHigh = 0x8F
        default: throw JSONSyntaxError("invalid UTF-8", at: index)
        }
        guard bytes.count - index > continuationCount else { throw JSONSyntaxError("invalid UTF-8", at: index) }
        let second = bytes[index + 1]
        guard second >= secondLow, second <= secondHigh else { throw JSONSyntaxError("invalid UTF-8", at: index) }
        var offset = 2
        while offset <= continuationCount {
            guard bytes[index + offset] & 0xC0 == 0x80 else { throw JSONSyntaxError("invalid UTF-8", at: index) }
            offset += 1
        }
        index += continuationCount + 1
    }
}
