/// Exactly representable powers of ten: the bound of the exact fast path below.
private let exactPowersOfTen: [Double] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
]

extension JSONScanner {
    /// The value of a number scanned by `scanNumber`.
    ///
    /// Times arrive as `1700000000` or, from AuthX, `1700000000.123456`.
    /// Both have a significand below 2^53 and a decimal exponent within ±22,
    /// where one IEEE multiplication or division is correctly rounded
    /// (Clinger's fast path), so the common case needs no string and no
    /// `strtod` (whose decimal point follows the C locale). Anything else
    /// goes through the standard library's parser.
    package func double(_ range: Range<Int>) -> Double? {
        let end = min(range.upperBound, bytes.count)
        var index = range.lowerBound
        guard index < end else { return nil }
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }

        // `scanNumber` has validated the grammar, so these loops only need to
        // know where each part stops. Significant digits beyond 19 could
        // overflow the significand; such numbers take the slow path.
        var significand: UInt64 = 0
        var digits = 0
        var fractionDigits = 0
        while index < end, case let digit = bytes[index] &- UInt8(ascii: "0"), digit < 10 {
            significand = significand &* 10 &+ UInt64(digit)
            if significand != 0 { digits += 1 }
            index += 1
        }
        if index < end, bytes[index] == UInt8(ascii: ".") {
            index += 1
            while index < end, case let digit = bytes[index] &- UInt8(ascii: "0"), digit < 10 {
                significand = significand &* 10 &+ UInt64(digit)
                if significand != 0 { digits += 1 }
                fractionDigits += 1
                index += 1
            }
        }
        var exponent = 0
        var fastPath = digits <= 19
        if index < end {
            // Only an exponent can follow.
            fastPath = fastPath && parseExponent(from: index + 1, to: end, into: &exponent)
        }

        let decimalExponent = exponent - fractionDigits
        if fastPath, significand <= 1 << 53, decimalExponent >= -22, decimalExponent <= 22 {
            let magnitude = decimalExponent < 0
                ? Double(significand) / exactPowersOfTen[-decimalExponent]
                : Double(significand) * exactPowersOfTen[decimalExponent]
            return negative ? -magnitude : magnitude
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range.lowerBound..<end]), as: UTF8.self)
        return Double(text)
    }

    /// Reads a signed exponent; false when it has too many digits for the fast path.
    private func parseExponent(from start: Int, to end: Int, into exponent: inout Int) -> Bool {
        var index = start
        var negative = false
        if index < end, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        var value = 0
        var digits = 0
        while index < end {
            value = value * 10 + Int(bytes[index] &- UInt8(ascii: "0"))
            digits += 1
            if digits > 4 { return false }
            index += 1
        }
        exponent = negative ? -value : value
        return true
    }
}
