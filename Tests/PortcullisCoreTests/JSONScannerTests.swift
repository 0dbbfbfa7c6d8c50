import Foundation
import XCTest

@testable import PortcullisCore

final class JSONScannerTests: XCTestCase {
    /// Runs `body` on a scanner over `text`'s UTF-8.
    func scan<T>(_ text: String, _ body: (inout JSONScanner) throws(JSONSyntaxError) -> T) -> Result<T, JSONSyntaxError> {
        scan(Array(text.utf8), body)
    }

    func scan<T>(_ bytes: [UInt8], _ body: (inout JSONScanner) throws(JSONSyntaxError) -> T) -> Result<T, JSONSyntaxError> {
        bytes.withUnsafeBytes { buffer in
            Result { () throws(JSONSyntaxError) -> T in
                var scanner = JSONScanner(buffer)
                return try body(&scanner)
            }
        }
    }

    /// Whether `text` is one valid JSON value.
    func isValid(_ text: String) -> Bool { isValid(Array(text.utf8)) }

    func isValid(_ bytes: [UInt8]) -> Bool {
        (try? scan(bytes) { (scanner) throws(JSONSyntaxError) -> Void in
            try scanner.skipValue(depth: 0)
            try scanner.expectEnd()
        }.get()) != nil
    }

    func decodedString(_ json: String) -> String? {
        try? scan(json) { (scanner) throws(JSONSyntaxError) -> String in
            scanner.skipWhitespace()
            let string = try scanner.scanString()
            try scanner.expectEnd()
            return scanner.string(string)
        }.get()
    }

    func number(_ json: String) -> Double? {
        try? scan(json) { (scanner) throws(JSONSyntaxError) -> Double? in
            let number = try scanner.scanNumber()
            try scanner.expectEnd()
            return scanner.double(number)
        }.get()
    }

    func testValidDocuments() {
        for text in [
            "0", "-0", "1", "-1", "10", "1.5", "-0.25", "1e5", "1E+5", "1e-5", "12.5e10", "0.0",
            "true", "false", "null", #""""#, #""a""#, "[]", "{}", " [ ] ", "[1,[2,[3]]]",
            #"{"a":{"b":[true,false,null,"x",-1.5e3]}}"#, "\t\n\r {\"a\" : 1 } \n",
            #""\u0000""#, #""\uFFFF""#, #""\ud800\udc00""#, #""\uDBFF\uDFFF""#,
            "\"\u{7F}\"", "\"é\"", "\"😀\"", "\"\u{10FFFF}\"", "\"\u{FFFD}\"",
        ] {
            XCTAssertTrue(isValid(text), text)
        }
    }

    func testInvalidDocuments() {
        for text in [
            "", " ", "01", "-", "+1", ".5", "1.", "1e", "1e+", "--1", "0x10", "1_000", "NaN", "Infinity", "-Infinity",
            "tru", "True", "nul", "nulll", "[1,]", "[,1]", "[1 2]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{'a':1}",
            "{\"a\":1 \"b\":2}", "[", "]", "{", "}", "\"", "\"abc", "\"\\\"", #""\a""#, #""\u12G4""#, #""\U0041""#,
            #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, #""\ud800x""#, "\"\u{1}\"", "\"\n\"", "1 2", "{} {}",
        ] {
            XCTAssertFalse(isValid(text), text)
        }
    }

    func testInvalidUTF8() {
        let cases: [[UInt8]] = [
            [0x80], [0xBF], [0xC0, 0x80], [0xC1, 0xBF], [0xC2], [0xC2, 0x41], [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF],
            [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xEF, 0xBF], [0xF0, 0x80, 0x80, 0x80], [0xF0, 0x8F, 0xBF, 0xBF],
            [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xFE], [0xE2, 0x82, 0x41],
        ]
        for sequence in cases {
            XCTAssertFalse(isValid([0x22] + sequence + [0x22]), "\(sequence)")
        }
        for sequence: [UInt8] in [[0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80],
                                  [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF]] {
            XCTAssertTrue(isValid([0x22] + sequence + [0x22]), "\(sequence)")
        }
        // Outside strings, non-ASCII is never valid.
        XCTAssertFalse(isValid([0x5B, 0xC2, 0x80, 0x5D]))
    }

    func testDepthLimit() {
        let limit = JSONScanner.maximumDepth
        XCTAssertTrue(isValid(String(repeating: "[", count: limit) + String(repeating: "]", count: limit)))
        XCTAssertFalse(isValid(String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)))
        XCTAssertFalse(isValid(String(repeating: "{\"a\":", count: limit + 1) + "1" + String(repeating: "}", count: limit + 1)))
    }

    func testStringDecoding() {
        XCTAssertEqual(decodedString(#""plain""#), "plain")
        XCTAssertEqual(decodedString(#""\"\\\/\b\f\n\r\t""#), "\"\\/\u{8}\u{C}\n\r\t")
        XCTAssertEqual(decodedString(#""\u0041\u00e9\u20AC\ud83d\ude00""#), "Aé€😀")
        XCTAssertEqual(decodedString(#""a\u0000b""#), "a\u{0}b")
        XCTAssertEqual(decodedString("\"Zoë 🦀\""), "Zoë 🦀")
    }

    func testStringDecodingAgreesWithFoundation() throws {
        var generator = SeededRandom(seed: 7)
        let pool: [Unicode.Scalar] = ["a", "Z", "0", " ", "\"", "\\", "/", "\u{0}", "\u{1F}", "\n", "\t", "\u{7F}", "é", "€", "\u{FFFF}",
                                      "😀", "\u{10FFFF}", "\u{D7FF}", "\u{E000}"]
        for _ in 0..<500 {
            var string = ""
            for _ in 0..<Int.random(in: 0...12, using: &generator) {
                string.unicodeScalars.append(pool.randomElement(using: &generator) ?? "a")
            }
            let encoded = String(decoding: try JSONEncoder().encode([string]), as: UTF8.self)
            // Strip the array brackets JSONEncoder needs for a top-level fragment.
            let json = String(encoded.dropFirst().dropLast())
            XCTAssertEqual(decodedString(json), string, json)
            // And every UTF-16 unit spelled as a four-hex-digit \u escape.
            let escaped = "\"" + string.utf16.map { String(format: "\\u%04x", $0) }.joined() + "\""
            XCTAssertEqual(decodedString(escaped), string, escaped)
        }
    }

    func testNumbers() {
        XCTAssertEqual(number("0"), 0)
        XCTAssertEqual(number("-0")?.sign, .minus)
        XCTAssertEqual(number("1700000000"), 1_700_000_000)
        XCTAssertEqual(number("1700000000.123456"), 1_700_000_000.123456)
        XCTAssertEqual(number("1.7e9"), 1_700_000_000)
        XCTAssertEqual(number("17E+8"), 1_700_000_000)
        XCTAssertEqual(number("-2.5e-3"), -0.0025)
        XCTAssertEqual(number("0.000001"), 0.000001)
        XCTAssertEqual(number("123456789012345678901234567890"), Double("123456789012345678901234567890"))
        XCTAssertEqual(number("1e400"), .infinity)
        XCTAssertEqual(number("1e-400"), 0)
        XCTAssertEqual(number("9007199254740993"), 9007199254740992)
    }

    func testNumberConversionIsCorrectlyRounded() {
        var generator = SeededRandom(seed: 11)
        for _ in 0..<5000 {
            let integer = String(UInt64.random(in: 0...9_999_999_999, using: &generator))
            let fraction = String(UInt64.random(in: 0...999_999_999, using: &generator))
            let exponent = Int.random(in: -30...30, using: &generator)
            for text in ["\(integer).\(fraction)", "-\(integer)", "\(integer)e\(exponent)", "0.\(fraction)E\(exponent)"] {
                XCTAssertEqual(number(text), Double(text), text)
            }
        }
    }

    func testMemberNameSetFindsDuplicatesAcrossSpellings() {
        func check(_ names: [String]) -> Bool {
            let text = "{" + names.map { "\"\($0)\":0" }.joined(separator: ",") + "}"
            return (try? scan(text) { (scanner) throws(JSONSyntaxError) -> Void in
                try withUnsafeTemporaryAllocation(of: MemberNameSet.Entry.self, capacity: MemberNameSet.inlineCapacity) { (storage) throws(JSONSyntaxError) -> Void in
                    var set = MemberNameSet(storage: storage)
                    try scanner.beginObject()
                    var isFirst = true
                    while let name = try scanner.nextMember(isFirst: &isFirst) {
                        try set.insert(name, in: scanner)
                        try scanner.skipValue(depth: 1)
                    }
                }
            }.get()) != nil
        }
        XCTAssertTrue(check(["a", "b", "ab", "ba", ""]))
        XCTAssertFalse(check(["a", "b", "a"]))
        XCTAssertFalse(check(["", ""]))
        XCTAssertFalse(check(["é", #"\u00e9"#]))
        XCTAssertFalse(check([#"\u00E9"#, #"\u00e9"#]))
        XCTAssertFalse(check([#"\/"#, "/"]))
        XCTAssertTrue(check(["é", #"\u00e8"#]))
        // Past the inline storage: duplicates between the stack part and the heap part, and within the heap part.
        let many = (0..<40).map { "member-name-\($0)" }
        XCTAssertTrue(check(many))
        XCTAssertFalse(check(many + ["member-name-3"]))
        XCTAssertFalse(check(many + ["member-name-33"]))
        XCTAssertFalse(check(many.map { String($0.suffix(2)) } + ["-7"]))
    }

    func testInlineStorageStaysUnderTheStackAllocationThreshold() {
        XCTAssertLessThanOrEqual(MemoryLayout<MemberNameSet.Entry>.stride * MemberNameSet.inlineCapacity, 1024)
    }

    func testJSONValueTree() throws {
        let value = try JSONValue.parse(#"{"keys":[{"kty":"RSA","n":1.5,"ok":true,"no":null}]}"#)
        XCTAssertEqual(value, .object(["keys": .array([.object(["kty": .string("RSA"), "n": .number("1.5"), "ok": .bool(true), "no": .null])])]))
        XCTAssertThrowsError(try JSONValue.parse(#"{"a":1,"a":2}"#))
        XCTAssertThrowsError(try JSONValue.parse(String(repeating: "[", count: 100) + String(repeating: "]", count: 100)))
    }
}
