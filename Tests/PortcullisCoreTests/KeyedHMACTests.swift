import Foundation
import Crypto
import XCTest

@testable import PortcullisCore

/// `KeyedHMAC` is RFC 2104 assembled from swift-crypto's SHA-2; it must agree with swift-crypto's `HMAC`.
final class KeyedHMACTests: XCTestCase {
    func check<H: HashFunction & Sendable>(_: H.Type, file: StaticString = #filePath, line: UInt = #line) {
        var generator = SeededRandom(seed: 17)
        // Keys shorter than, equal to and longer than the block (64 bytes for SHA-256, 128 for SHA-384/512).
        for keyLength in [0, 1, 31, 32, 48, 63, 64, 65, 127, 128, 129, 300] {
            let key = (0..<keyLength).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let keyed = KeyedHMAC<H>(secret: key)
            for messageLength in [0, 1, 55, 56, 64, 200, 1000] {
                let message = (0..<messageLength).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let expected = Array(HMAC<H>.authenticationCode(for: message, using: SymmetricKey(data: key)))
                let actual = message.withUnsafeBytes { Array(keyed.authenticationCode(for: $0)) }
                XCTAssertEqual(actual, expected, "key \(keyLength) message \(messageLength)", file: file, line: line)
                message.withUnsafeBytes { input in
                    expected.withUnsafeBytes { XCTAssertTrue(keyed.isValid($0, for: input), file: file, line: line) }
                    var wrong = expected
                    wrong[wrong.count - 1] ^= 1
                    wrong.withUnsafeBytes { XCTAssertFalse(keyed.isValid($0, for: input), file: file, line: line) }
                    expected.dropLast().withUnsafeBytes { XCTAssertFalse(keyed.isValid($0, for: input), file: file, line: line) }
                }
            }
        }
    }

    func testAgreesWithSwiftCrypto() {
        check(SHA256.self)
        check(SHA384.self)
        check(SHA512.self)
    }

    func testRFC4231Case2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
        let keyed = KeyedHMAC<SHA256>(secret: Array("Jefe".utf8))
        let code = Array("what do ya want for nothing?".utf8).withUnsafeBytes { Array(keyed.authenticationCode(for: $0)) }
        XCTAssertEqual(code.map { String(format: "%02x", $0) }.joined(),
                       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }
}
