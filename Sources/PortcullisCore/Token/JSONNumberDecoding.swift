/// Exactly representable powers of ten: the bound of the exact fast path below.
private let exactPowersOfTen: [Double] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
]

/// A scanned number: where its text is, and its decimal parts.
package struct JSONNumber: Sendable {
    package var range: Range<Int>
    var isNegative = false
    /// The digits without the decimal point; exact while `significantDigits` <= 19.
    var significand: UInt64 = 0
    var significantDigits = 0
    var fractionDigits = 0
    /// The written exponent, saturating at ±10 000.
    var exponent = 0
}

extension JSONScanner {
    /// The value of a scanned number.
    ///
    /// Times arrive as `1700000000` or, from AuthX, `1700000000.123456`.
    /// Both have a significand below 2^53 and a decimal exponent within ±22,
    /// where one IEEE multiplication or division is correctly rounded
    /// (Clinger's fast path), so the common case needs no string and no
    /// `strtod` (whose decimal point follows the C locale). Anything else
    /// goes through the standard library's parser.
    package func double(_ number: JSONNumber) -> Double? {
        let decimalExponent = number.exponent - number.fractionDigits
        if number.significantDigits <= 19, number.significand <= 1 << 53, decimalExponent >= -22, decimalExponent <= 22 {
            let magnitude = decimalExponent < 0
                ? Double(number.significand) / exactPowersOfTen[-decimalExponent]
                : Double(number.significand) * exactPowersOfTen[decimalExponent]
            return number.isNegative ? -magnitude : magnitude
        }
        return Double(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[number.range]), as: UTF8.self))
    }
}
