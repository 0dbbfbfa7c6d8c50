/// Turning scanned strings into values. `scanString` has already validated
/// escapes and UTF-8, so these never fail; the unescaped case — nearly every
/// string in a real token — is a single copy with no intermediate buffer.
extension JSONScanner {
    package func string(_ string: JSONString) -> String {
        guard string.hasEscapes else {
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[string.start..<string.end]), as: UTF8.self)
        }
        return String(decoding: unescapedBytes(string), as: UTF8.self)
    }

    /// The UTF-8 of the string's value with escapes resolved.
    package func unescapedBytes(_ string: JSONString) -> [UInt8] {
        var output = [UInt8]()
        output.reserveCapacity(string.count)
        var index = string.start
        while index < string.end {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "\\"), index + 1 < string.end else {
                output.append(byte)
                index += 1
                continue
            }
            let escaped = bytes[index + 1]
            index += 2
            switch escaped {
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = UInt32(hex4(at: index, end: string.end))
                index += 4
                if scalar & 0xFC00 == 0xD800, index + 6 <= string.end {
                    let low = UInt32(hex4(at: index + 2, end: string.end))
                    scalar = 0x10000 &+ ((scalar &- 0xD800) << 10) &+ (low &- 0xDC00)
                    index += 6
                }
                appendUTF8(scalar, to: &output)
            default:
                // '"', '\\' and '/' stand for themselves.
                output.append(escaped)
            }
        }
        return output
    }

    /// Whether the string's value equals `expected`, without allocating in the common unescaped case.
    package func string(_ string: JSONString, equals expected: UnsafeRawBufferPointer) -> Bool {
        if string.hasEscapes {
            return unescapedBytes(string).withUnsafeBytes { $0.elementsEqual(expected) }
        }
        guard string.count == expected.count else { return false }
        return UnsafeRawBufferPointer(rebasing: bytes[string.start..<string.end]).elementsEqual(expected)
    }

    package func string(_ string: JSONString, equals expected: [UInt8]) -> Bool {
        expected.withUnsafeBytes { self.string(string, equals: $0) }
    }

    private func hex4(at start: Int, end: Int) -> UInt16 {
        var value: UInt16 = 0
        var index = start
        while index < start + 4, index < end {
            value = value << 4 | UInt16(Self.hexValue(bytes[index]) ?? 0)
            index += 1
        }
        return value
    }

    private func appendUTF8(_ scalar: UInt32, to output: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            output.append(UInt8(scalar))
        case 0x80..<0x800:
            output.append(UInt8(0xC0 | scalar >> 6))
            output.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            output.append(UInt8(0xE0 | scalar >> 12))
            output.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            output.append(UInt8(0x80 | scalar & 0x3F))
        default:
            output.append(UInt8(0xF0 | scalar >> 18 & 0x07))
            output.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            output.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            output.append(UInt8(0x80 | scalar & 0x3F))
        }
    }
}
