/// Unpadded base64url (RFC 7515 §2) with one accepted spelling per byte string.
///
/// JWS forbids padding, and a verifier that also accepted padded or
/// non-canonical spellings would let one signed token travel under many
/// different strings — which defeats revocation by raw token and caching by
/// token text. So the decoder refuses `=`, refuses a length that no byte
/// string encodes to (`count % 4 == 1`), and refuses a last character whose
/// unused low bits are not zero.
package enum Base64URL {
    /// Per input position, the sextet already shifted into place in a 24-bit
    /// group; bytes outside the alphabet map to `invalid`, a bit no valid
    /// group uses, so one test after OR-ing four lookups rejects a group.
    private static let invalid: UInt32 = 1 << 24
    private static let decodeTables: [UInt32] = {
        var tables = [UInt32](repeating: invalid, count: 4 * 256)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        for (value, character) in alphabet.enumerated() {
            for position in 0..<4 {
                tables[position * 256 + Int(character)] = UInt32(value) << (18 - 6 * position)
            }
        }
        return tables
    }()

    private static let encodeTable: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// The decoded size of `encodedCount` characters, or nil when no byte string has that length.
    package static func decodedCount(encodedCount: Int) -> Int? {
        switch encodedCount % 4 {
        case 0: return encodedCount / 4 * 3
        case 2: return encodedCount / 4 * 3 + 1
        case 3: return encodedCount / 4 * 3 + 2
        default: return nil
        }
    }

    /// Decodes `source` into the start of `destination`, which must hold
    /// `decodedCount(encodedCount: source.count)` bytes. Returns the number of
    /// bytes written, or nil when `source` is not canonical unpadded base64url.
    package static func decode(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int? {
        guard let outputCount = decodedCount(encodedCount: source.count), destination.count >= outputCount else {
            return nil
        }
        return decodeTables.withUnsafeBufferPointer { table -> Int? in
            var input = 0
            var output = 0
            func group(_ offset: Int, _ count: Int) -> UInt32 {
                var value: UInt32 = 0
                for position in 0..<count {
                    value |= table[position &* 256 &+ Int(source[offset &+ position])]
                }
                return value
            }
            while source.count - input >= 4 {
                let value = group(input, 4)
                guard value & invalid == 0 else { return nil }
                destination[output] = UInt8(truncatingIfNeeded: value >> 16)
                destination[output + 1] = UInt8(truncatingIfNeeded: value >> 8)
                destination[output + 2] = UInt8(truncatingIfNeeded: value)
                input += 4
                output += 3
            }
            switch source.count - input {
            case 0:
                break
            case 2:
                // Two characters carry 12 bits for one byte; the low 4 must be zero to be canonical.
                let value = group(input, 2)
                guard value & invalid == 0, value & 0xFFFF == 0 else { return nil }
                destination[output] = UInt8(truncatingIfNeeded: value >> 16)
                output += 1
            case 3:
                // Three characters carry 18 bits for two bytes; the low 2 must be zero.
                let value = group(input, 3)
                guard value & invalid == 0, value & 0xFF == 0 else { return nil }
                destination[output] = UInt8(truncatingIfNeeded: value >> 16)
                destination[output + 1] = UInt8(truncatingIfNeeded: value >> 8)
                output += 2
            default:
                return nil
            }
            return output
        }
    }

    /// Decodes into a new array; for key material loaded at start, not for the request path.
    package static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var text = String(text)
        return text.withUTF8 { source -> [UInt8]? in
            guard let count = decodedCount(encodedCount: source.count) else { return nil }
            var result = [UInt8](repeating: 0, count: count)
            let written = result.withUnsafeMutableBytes { decode(UnsafeRawBufferPointer(source), into: $0) }
            return written == nil ? nil : result
        }
    }

    /// Encodes without padding.
    package static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let input = Array(bytes)
        var output = [UInt8]()
        output.reserveCapacity((input.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= input.count {
            let value = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            output.append(encodeTable[Int(value >> 18 & 0x3F)])
            output.append(encodeTable[Int(value >> 12 & 0x3F)])
            output.append(encodeTable[Int(value >> 6 & 0x3F)])
            output.append(encodeTable[Int(value & 0x3F)])
            index += 3
        }
        switch input.count - index {
        case 1:
            let value = UInt32(input[index]) << 16
            output.append(encodeTable[Int(value >> 18 & 0x3F)])
            output.append(encodeTable[Int(value >> 12 & 0x3F)])
        case 2:
            let value = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8
            output.append(encodeTable[Int(value >> 18 & 0x3F)])
            output.append(encodeTable[Int(value >> 12 & 0x3F)])
            output.append(encodeTable[Int(value >> 6 & 0x3F)])
        default:
            break
        }
        return String(decoding: output, as: UTF8.self)
    }
}
