import Foundation
import XCTest
@testable import PortcullisCore

/// The verified-token cache skips only the signature check: claims and revocation are still
/// decided per request, and a new key table starts from nothing.
final class VerifiedTokenCacheTests: XCTestCase {
    let now = 1_700_000_000.0

    private func gate(pem: String = TokenTestKeys.p256PEM) throws -> Gate {
        let keys = try KeyTable(hmacSecret: nil, publicKeyPEM: pem, jwksJSON: nil, algorithms: [.ES256])
        let verifier = TokenVerifier(keys: keys, policy: TokenPolicy(algorithms: [.ES256]))
        return Gate(publicPaths: PublicPaths(patterns: []),
                    extractor: TokenExtractor(locations: [.headers], headerName: "Authorization", headerType: "Bearer",
                                              cookieName: "c", queryParameter: "q"),
                    verifier: verifier, csrfCheck: false, failMode: .closed, revokesRawTokens: false,
                    claimHeaders: ClaimHeaderPlan([]))
    }

    /// ES256, sub alice, jti j-1, exp = now + 60. Signed once: ECDSA signatures are randomized,
    /// so signing again would give a different token.
    private lazy var token: String =
        TokenTestSigner.token(.ES256, payload: #"{"sub":"alice","jti":"j-1","exp":\#(Int(now) + 60)}"#)

    private func decide(_ gate: Gate, _ token: String, at time: Double, cache: VerifiedTokenCache) -> Gate.Decision {
        gate.decide(method: "GET", target: RequestTarget("/"), headers: GateTests.Headers(pairs: [("Authorization", "Bearer \(token)")]),
                    now: time, cache: cache)
    }

    func testRepeatedTokenIsServedFromTheCacheAndStillAskedAboutRevocation() throws {
        let g = try gate()
        let cache = VerifiedTokenCache()
        for _ in 0..<3 {
            guard case .checkRevocation(let verified, let query) = decide(g, token, at: now, cache: cache) else {
                return XCTFail("expected a verified token")
            }
            XCTAssertEqual(verified.claims.sub, "alice")
            XCTAssertEqual(query.jti, "j-1", "the revocation query is made on every request")
        }
        XCTAssertEqual(cache.count, 1)
    }

    func testExpiryIsCheckedOnCachedTokens() throws {
        let g = try gate()
        let cache = VerifiedTokenCache()
        _ = decide(g, token, at: now, cache: cache)
        guard case .deny(let denial) = decide(g, token, at: now + 61, cache: cache) else {
            return XCTFail("an expired token must be refused even when cached")
        }
        XCTAssertEqual(denial, .expired)
    }

    func testTamperedBytesAreNotACacheHit() throws {
        let g = try gate()
        let cache = VerifiedTokenCache()
        _ = decide(g, token, at: now, cache: cache)
        var parts = token.split(separator: ".").map(String.init)
        parts[1] = TokenTestSigner.b64(#"{"sub":"mallory","jti":"j-1","exp":\#(Int(now) + 60)}"#)
        guard case .deny(let denial) = decide(g, parts.joined(separator: "."), at: now, cache: cache) else {
            return XCTFail("a forged payload must not ride on a cached signature")
        }
        XCTAssertEqual(denial, .badSignature)
    }

    func testANewKeyTableStartsEmpty() throws {
        let cache = VerifiedTokenCache()
        let token = self.token
        // Rotate back and forth many times: a freed verifier's memory is often reused by the
        // next one, so an identity based on object addresses would let a stale verdict through.
        for _ in 0..<20 {
            XCTAssertNil(denial(decide(try gate(), token, at: now, cache: cache)))
            let rotated = try gate(pem: TokenTestKeys.otherP256.publicKey.pemRepresentation)
            XCTAssertEqual(denial(decide(rotated, token, at: now, cache: cache)), .badSignature,
                           "a cached verdict must not survive a key change")
        }
    }

    private func denial(_ decision: Gate.Decision) -> Denial? {
        if case .deny(let denial) = decision { return denial }
        return nil
    }

    func testCapacityIsBounded() throws {
        let g = try gate()
        let cache = VerifiedTokenCache(capacity: 8)
        for index in 0..<50 {
            let token = TokenTestSigner.token(.ES256, payload: #"{"sub":"u\#(index)","exp":\#(Int(now) + 60)}"#)
            _ = decide(g, token, at: now, cache: cache)
            XCTAssertLessThanOrEqual(cache.count, 8)
        }
    }
}
