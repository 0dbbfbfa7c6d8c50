import XCTest

@testable import PortcullisCore

/// Tokens from an independent implementation (see `PyJWTFixtures`).
final class PyJWTFixtureTests: XCTestCase {
    let secret = Array(PyJWTFixtures.secret.utf8)

    func hmacVerifier(_ policy: TokenPolicy = TokenPolicy()) throws -> TokenVerifier {
        TokenVerifier(keys: try KeyTable(hmacSecret: secret, publicKeyPEM: nil, jwksJSON: nil, algorithms: [.HS256]), policy: policy)
    }

    func testAuthXShapedToken() throws {
        let verified = try hmacVerifier().verify(Substring(PyJWTFixtures.authxAccess), now: 1_700_000_100)
        XCTAssertEqual(verified.algorithm, .HS256)
        XCTAssertEqual(verified.claims, TokenClaims(
            jti: "0b5f1c9e-6a7d-4c1e-9a53-2f6a1e9b7c11", sub: "alice",
            exp: 1_700_000_900.654321, iat: 1_700_000_000.123456,
            type: "access", csrf: "7d3f0c2a-1b4e-4f5a-8c6d-9e0f1a2b3c4d", fresh: false
        ))
        // PyJWT itself would call it expired at 1700000900 (int(exp) <= now); so do we.
        assertTokenRejected(PyJWTFixtures.authxAccess, by: try hmacVerifier(), at: 1_700_000_900, as: .expired)
        XCTAssertNotNil(assertTokenAccepted(PyJWTFixtures.authxAccess, by: try hmacVerifier(), at: 1_700_000_899.99))
    }

    func testUnicodeAndAudienceToken() throws {
        let policy = TokenPolicy(issuer: "https://issuer.example", audience: ["admin"], capturedClaims: ["roles", "meta"])
        let verified = try hmacVerifier(policy).verify(Substring(PyJWTFixtures.unicodeAudience), now: tokenTestNow)
        XCTAssertEqual(verified.claims.sub, "Zoë 😀")
        XCTAssertEqual(verified.claims.aud, ["api", "admin"])
        XCTAssertEqual(verified.claims.captured, [nil, nil])
    }

    func testKidHeaderToken() throws {
        let verified = try hmacVerifier().verify(Substring(PyJWTFixtures.withKeyID), now: 1_700_000_001)
        XCTAssertEqual(verified.keyID, "k1")
        XCTAssertEqual(verified.claims.sub, "bob")
        assertTokenRejected(PyJWTFixtures.withKeyID, by: try hmacVerifier(), at: 1_699_999_999, as: .notYetValid)
    }

    func testAsymmetricTokens() throws {
        let cases: [(String, String, JWTAlgorithm)] = [
            (PyJWTFixtures.rs256, PyJWTFixtures.rsaPEM, .RS256),
            (PyJWTFixtures.ps256, PyJWTFixtures.rsaPEM, .PS256),
            (PyJWTFixtures.es256, PyJWTFixtures.p256PEM, .ES256),
            (PyJWTFixtures.es384, PyJWTFixtures.p384PEM, .ES384),
            (PyJWTFixtures.es512, PyJWTFixtures.p521PEM, .ES512),
            (PyJWTFixtures.eddsa, PyJWTFixtures.ed25519PEM, .EdDSA),
        ]
        for (token, pem, algorithm) in cases {
            let keys = try KeyTable(hmacSecret: nil, publicKeyPEM: pem, jwksJSON: nil, algorithms: [algorithm])
            let verifier = TokenVerifier(keys: keys, policy: TokenPolicy(algorithms: [algorithm]))
            let verified = assertTokenAccepted(token, by: verifier, at: 1_700_000_001)
            XCTAssertEqual(verified?.algorithm, algorithm)
            XCTAssertEqual(verified?.claims.sub, "carol", "\(algorithm)")
        }
    }

    func testGeneratedCorpus() throws {
        let keys = try KeyTable(hmacSecret: Array(PyJWTCorpus.secret.utf8), publicKeyPEM: nil, jwksJSON: nil, algorithms: [.HS256, .HS384, .HS512])
        let verifier = TokenVerifier(keys: keys, policy: TokenPolicy(algorithms: [.HS256, .HS384, .HS512], requiredType: .any))
        XCTAssertEqual(PyJWTCorpus.entries.count, 24)
        for (number, entry) in PyJWTCorpus.entries.enumerated() {
            guard let verified = assertTokenAccepted(entry.token, by: verifier, at: 1_600_000_000) else { continue }
            XCTAssertEqual(verified.algorithm, entry.algorithm, "#\(number)")
            XCTAssertEqual(verified.claims.sub, entry.sub, "#\(number)")
            XCTAssertEqual(verified.claims.jti, entry.jti, "#\(number)")
            XCTAssertEqual(verified.claims.aud, entry.aud, "#\(number)")
            XCTAssertEqual(verified.claims.exp, entry.exp, "#\(number)")
        }
    }
}
