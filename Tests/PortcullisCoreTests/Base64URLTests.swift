import Foundation
import XCTest

@testable import PortcullisCore

final class Base64URLTests: XCTestCase {
    func testRoundTripAgreesWithFoundation() {
        var generator = SeededRandom(seed: 3)
        for count in 0..<200 {
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let encoded = Base64URL.encode(bytes)
            let foundation = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
            XCTAssertEqual(encoded, foundation)
            XCTAssertEqual(Base64URL.decode(encoded), bytes)
        }
    }

    func testRefusals() {
        XCTAssertEqual(Base64URL.decode(""), [])
        XCTAssertNil(Base64URL.decode("A"), "length % 4 == 1")
        XCTAssertNil(Base64URL.decode("AAAAA"), "length % 4 == 1")
        XCTAssertNil(Base64URL.decode("QQ=="), "padding")
        XCTAssertNil(Base64URL.decode("QQ="), "padding")
        XCTAssertNil(Base64URL.decode("QR"), "non-zero unused bits (canonical is QQ)")
        XCTAssertNil(Base64URL.decode("QUF"), "non-zero unused bits (canonical is QUE)")
        XCTAssertEqual(Base64URL.decode("QQ"), [0x41])
        XCTAssertEqual(Base64URL.decode("QUE"), [0x41, 0x41])
        XCTAssertNil(Base64URL.decode("a+b/"), "standard alphabet")
        XCTAssertNil(Base64URL.decode("ab c"), "whitespace")
        XCTAssertNil(Base64URL.decode("abé"), "non-ASCII")
        XCTAssertEqual(Base64URL.decode("-_-_"), [0xFB, 0xFF, 0xBF])
    }

    func testEveryNonCanonicalTailIsRefused() {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        for (value, character) in alphabet.enumerated() {
            XCTAssertEqual(Base64URL.decode("Q" + String(character)) != nil, value & 0x0F == 0, "Q\(character)")
            XCTAssertEqual(Base64URL.decode("QU" + String(character)) != nil, value & 0x03 == 0, "QU\(character)")
        }
    }
}
