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
    package internal(set) var index: Int

    package init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.index = 0
    }

    @inline(__always)
    package mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// The next significant byte, after whitespace; nil at the end.
    @inline(__always)
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

    /// Steps over a number, validating the RFC 8259 §6 grammar (no leading
    /// zeros, no leading '+', no bare '.', no hex), and returns its text's
    /// range with the parts `double(_:)` needs, gathered on the way so a
    /// number is walked once.
    package mutating func scanNumber() throws(JSONSyntaxError) -> JSONNumber {
        // Locals, not `self.index`: see `scanString`.
        let start = index
        let count = bytes.count
        guard let base = bytes.baseAddress else { throw JSONSyntaxError("invalid value", at: start) }
        func byte(_ offset: Int) -> UInt8 { base.load(fromByteOffset: offset, as: UInt8.self) }
        func digit(_ offset: Int) -> UInt8? {
            guard offset < count, case let value = byte(offset) &- UInt8(ascii: "0"), value < 10 else { return nil }
            return value
        }

        var position = start
        let isNegative = position < count && byte(position) == UInt8(ascii: "-")
        if isNegative { position += 1 }
        guard let first = digit(position) else { throw JSONSyntaxError("invalid value", at: start) }
        var significand: UInt64 = 0
        var significantDigits = 0
        var fractionDigits = 0
        position += 1
        if first != 0 {
            significand = UInt64(first)
            significantDigits = 1
            while let next = digit(position) {
                significand = significand &* 10 &+ UInt64(next)
                significantDigits += 1
                position += 1
            }
        }
        if position < count, byte(position) == UInt8(ascii: ".") {
            position += 1
            guard digit(position) != nil else { throw JSONSyntaxError("digit expected after '.'", at: position) }
            while let next = digit(position) {
                significand = significand &* 10 &+ UInt64(next)
                if significand != 0 { significantDigits += 1 }
                fractionDigits += 1
                position += 1
            }
        }
        var exponent = 0
        if position < count, byte(position) | 0x20 == UInt8(ascii: "e") {
            position += 1
            var isNegativeExponent = false
            if position < count, byte(position) == UInt8(ascii: "+") || byte(position) == UInt8(ascii: "-") {
                isNegativeExponent = byte(position) == UInt8(ascii: "-")
                position += 1
            }
            guard digit(position) != nil else { throw JSONSyntaxError("digit expected in exponent", at: position) }
            while let next = digit(position) {
                // Past four digits the value is far outside the fast path; stop growing it.
                if exponent < 10_000 { exponent = exponent * 10 + Int(next) }
                position += 1
            }
            if isNegativeExponent { exponent = -exponent }
        }
        index = position
        return JSONNumber(
            range: start..<position, isNegative: isNegative, significand: significand,
            significantDigits: significantDigits, fractionDigits: fractionDigits, exponent: exponent
        )
    }
}
