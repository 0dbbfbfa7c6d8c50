import XCTest

@testable import PortcullisCore

final class PackedNameTests: XCTestCase {
    func testConstantsMatchTheirNames() {
        let constants: [(String, UInt64)] = [
            ("alg", PackedName.alg), ("kid", PackedName.kid), ("typ", PackedName.typ), ("crit", PackedName.crit),
            ("jti", PackedName.jti), ("sub", PackedName.sub), ("iss", PackedName.iss), ("aud", PackedName.aud),
            ("exp", PackedName.exp), ("nbf", PackedName.nbf), ("iat", PackedName.iat), ("type", PackedName.type),
            ("csrf", PackedName.csrf), ("fresh", PackedName.fresh),
        ]
        for (name, constant) in constants {
            XCTAssertEqual(PackedName.pack(name), constant, name)
        }
    }

    func testLengthKeepsNamesWithLeadingNULsApart() {
        XCTAssertNotEqual(PackedName.pack("\u{0}exp"), PackedName.pack("exp"))
        XCTAssertNotEqual(PackedName.pack(""), PackedName.pack("\u{0}"))
        XCTAssertNil(PackedName.pack("eightchr"))
        XCTAssertNotNil(PackedName.pack("sevench"))
    }

    func testEveryAlgorithmNameIsRecognised() {
        for algorithm in JWTAlgorithm.allCases {
            var name = algorithm.rawValue
            XCTAssertEqual(name.withUTF8 { JWTAlgorithm(jwsName: UnsafeRawBufferPointer($0)) }, algorithm)
        }
        for other in ["none", "hs256", "HS25", "HS2566", "ES256K", "Ed25519", ""] {
            var name = other
            XCTAssertNil(name.withUTF8 { JWTAlgorithm(jwsName: UnsafeRawBufferPointer($0)) }, other)
        }
    }
}
