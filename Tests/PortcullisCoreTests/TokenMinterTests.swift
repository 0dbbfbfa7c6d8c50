import Crypto
import Foundation
import XCTest
import _CryptoExtras
@testable import PortcullisCore

/// `portcullis mint` signs what the gate accepts, for every algorithm.
final class TokenMinterTests: XCTestCase {
    private func ed25519PKCS8PEM(_ key: Curve25519.Signing.PrivateKey) -> String {
        let der = Data([0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
            + key.rawRepresentation
        return "-----BEGIN PRIVATE KEY-----\n\(der.base64EncodedString())\n-----END PRIVATE KEY-----\n"
    }

    private func privatePEM(_ algorithm: JWTAlgorithm) -> String {
        switch algorithm {
        case .ES256: TokenTestKeys.p256.pemRepresentation
        case .ES384: TokenTestKeys.p384.pemRepresentation
        case .ES512: TokenTestKeys.p521.pemRepresentation
        case .EdDSA: ed25519PKCS8PEM(TokenTestKeys.ed25519)
        default: TokenTestKeys.rsa.pemRepresentation
        }
    }

    func testMintedTokensVerifyForEveryAlgorithm() throws {
        for algorithm in JWTAlgorithm.allCases {
            let minter = algorithm.rawValue.hasPrefix("HS")
                ? try TokenMinter(algorithm: algorithm, secret: TokenTestKeys.secret)
                : try TokenMinter(algorithm: algorithm, privateKeyPEM: privatePEM(algorithm))
            let token = minter.mint(.init(subject: "alice", ttlSeconds: 60, type: "refresh", fresh: true, jti: "j-\(algorithm)",
                                          extraClaims: [("role", "admin")]),
                                    issuer: "https://issuer.example", audience: ["api"], now: tokenTestNow)
            let verifier = try makeTokenVerifier([algorithm], policy: TokenPolicy(
                issuer: "https://issuer.example", audience: ["api"], requiredType: .refresh, capturedClaims: ["role"]))
            let verified = try verifier.verify(Substring(token), now: tokenTestNow + 1)
            XCTAssertEqual(verified.algorithm, algorithm)
            XCTAssertEqual(verified.claims.sub, "alice")
            XCTAssertEqual(verified.claims.jti, "j-\(algorithm)")
            XCTAssertEqual(verified.claims.fresh, true)
            XCTAssertEqual(verified.claims.exp, tokenTestNow + 60)
            XCTAssertEqual(verified.claims.captured, ["admin"])
        }
    }

    func testWrongKeyKindsAreClearErrors() {
        XCTAssertThrowsError(try TokenMinter(algorithm: .RS256, secret: TokenTestKeys.secret))
        XCTAssertThrowsError(try TokenMinter(algorithm: .HS256, privateKeyPEM: TokenTestKeys.rsa.pemRepresentation))
        XCTAssertThrowsError(try TokenMinter(algorithm: .ES256, privateKeyPEM: TokenTestKeys.rsa.pemRepresentation)) { error in
            XCTAssertTrue("\(error)".contains("P-256"), "\(error)")
        }
        XCTAssertThrowsError(try TokenMinter(algorithm: .EdDSA, privateKeyPEM: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"))
    }
}
