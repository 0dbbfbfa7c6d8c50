/// String scanning: the hottest loop of the parser, and the one that enforces
/// escapes, surrogate pairing and UTF-8 well-formedness.
extension JSONScanner {
    /// Steps over a string (positioned at its opening quote), validating
    /// escapes, surrogate pairing and UTF-8, and returns its escaped content.
    package mutating func scanString() throws(JSONSyntaxError) -> JSONString {
        // Locals rather than `self.index`: the loop is the parser's hottest, and
        // going through `self` makes the compiler reload the buffer every byte.
        let count = bytes.count
        guard let base = bytes.baseAddress, index < count, base.load(fromByteOffset: index, as: UInt8.self) == UInt8(ascii: "\"") else {
            throw JSONSyntaxError("expected a string", at: index)
        }
        let start = index + 1
        var position = start
        var hasEscapes = false
        while true {
            if count - position >= 8 {
                // Eight bytes at a time: jump straight to the first one that needs a look.
                let mask = Self.attentionMask(UInt64(littleEndian: base.loadUnaligned(fromByteOffset: position, as: UInt64.self)))
                if mask == 0 {
                    position += 8
                    continue
                }
                position += mask.trailingZeroBitCount >> 3
            } else if position >= count {
                throw JSONSyntaxError("unterminated string", at: start - 1)
            }
            let byte = base.load(fromByteOffset: position, as: UInt8.self)
            if byte == UInt8(ascii: "\"") {
                index = position + 1
                return JSONString(start: start, end: position, hasEscapes: hasEscapes)
            } else if byte == UInt8(ascii: "\\") {
                hasEscapes = true
                index = position
                try scanEscape()
                position = index
            } else if byte < 0x20 {
                throw JSONSyntaxError("control character in string", at: position)
            } else if byte < 0x80 {
                position += 1
            } else {
                index = position
                try scanUTF8Sequence()
                position = index
            }
        }
    }

    /// For eight bytes loaded little-endian, a mask whose lowest set bit lies
    /// in the first byte that is a quote, a backslash, a control character or
    /// non-ASCII; zero when there is none. (The SWAR has-zero-byte and
    /// has-less-than tests: borrows can set bits above the first match, never below.)
    @inline(__always)
    private static func attentionMask(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let hasQuote = (quote &- ones) & ~quote
        let hasBackslash = (backslash &- ones) & ~backslash
        let hasControl = (word &- ones &* 0x20) & ~word
        return (hasQuote | hasBackslash | hasControl | word) & highBits
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
