#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte classes of RFC 9110/9112 used by both head parsers, as one 256-entry table so that a
/// per-byte check is a load and a mask.
enum HTTPBytes {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let sp: UInt8 = 0x20
    static let htab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A

    private static let tokenBit: UInt8 = 1
    private static let fieldValueBit: UInt8 = 2
    private static let targetBit: UInt8 = 4

    private static let table: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 256)
        // tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
        for byte in Array("!#$%&'*+-.^_`|~".utf8) { table[Int(byte)] |= tokenBit }
        for byte in UInt8(ascii: "0")...UInt8(ascii: "9") { table[Int(byte)] |= tokenBit }
        for byte in UInt8(ascii: "a")...UInt8(ascii: "z") { table[Int(byte)] |= tokenBit }
        for byte in UInt8(ascii: "A")...UInt8(ascii: "Z") { table[Int(byte)] |= tokenBit }
        // field-vchar = VCHAR / obs-text, plus SP and HTAB inside a value.
        for byte in 0x21...0x7E { table[byte] |= fieldValueBit }
        for byte in 0x80...0xFF { table[byte] |= fieldValueBit }
        table[Int(sp)] |= fieldValueBit
        table[Int(htab)] |= fieldValueBit
        // request-target: visible ASCII only (RFC 9112 §3.2; llhttp refuses a raw byte above 0x7F
        // in a target too, so a raw UTF-8 path must arrive percent-encoded).
        for byte in 0x21...0x7E { table[byte] |= targetBit }
        return table
    }()

    @inline(__always) static func isToken(_ byte: UInt8) -> Bool { table[Int(byte)] & tokenBit != 0 }
    @inline(__always) static func isFieldValue(_ byte: UInt8) -> Bool { table[Int(byte)] & fieldValueBit != 0 }
    @inline(__always) static func isTarget(_ byte: UInt8) -> Bool { table[Int(byte)] & targetBit != 0 }

    @inline(__always) static func lower(_ byte: UInt8) -> UInt8 {
        (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
    }

    /// True when `bytes[range]` equals `lowercased` ignoring ASCII case.
    @inline(__always)
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ lowercased: StaticString) -> Bool {
        guard range.count == lowercased.utf8CodeUnitCount else { return false }
        let expected = lowercased.utf8Start
        var index = 0
        for position in range {
            if lower(bytes[position]) != expected[index] { return false }
            index += 1
        }
        return true
    }

    /// The end of the first `CRLF CRLF` at or after `from`, or nil. A bare LF anywhere in a head
    /// is refused by the parsers; here only the terminator is looked for.
    static func headEnd(in bytes: UnsafeRawBufferPointer, from: Int = 0) -> Int? {
        guard let base = bytes.baseAddress else { return nil }
        var index = max(from, 0)
        while index < bytes.count {
            guard let found = memchr(base + index, Int32(lf), bytes.count - index) else { return nil }
            let position = base.distance(to: UnsafeRawPointer(found))
            if position >= 3, bytes[position - 1] == cr, bytes[position - 2] == lf, bytes[position - 3] == cr {
                return position + 1
            }
            index = position + 1
        }
        return nil
    }

    /// Parses a non-negative decimal made only of digits, refusing overflow and empty text.
    static func decimal(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        guard !range.isEmpty, range.count <= 18 else { return nil }
        var value = 0
        for position in range {
            let digit = bytes[position] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            value = value * 10 + Int(digit)
        }
        return value
    }

    /// `range` without leading and trailing SP/HTAB.
    @inline(__always)
    static func trimmed(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, bytes[lower] == sp || bytes[lower] == htab { lower += 1 }
        while upper > lower, bytes[upper - 1] == sp || bytes[upper - 1] == htab { upper -= 1 }
        return lower..<upper
    }

    /// Calls `body` with each comma-separated element of a list-valued field (RFC 9110 §5.6.1),
    /// trimmed; empty elements are skipped.
    static func forEachListElement(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ body: (Range<Int>) -> Void) {
        var start = range.lowerBound
        var position = range.lowerBound
        while position <= range.upperBound {
            if position == range.upperBound || bytes[position] == UInt8(ascii: ",") {
                let element = trimmed(bytes, start..<position)
                if !element.isEmpty { body(element) }
                start = position + 1
            }
            position += 1
        }
    }
}
