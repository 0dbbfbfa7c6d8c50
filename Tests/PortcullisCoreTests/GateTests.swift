import Foundation
import XCTest
@testable import PortcullisCore

/// The decision core with no sockets: locations, CSRF, public paths, verdicts.
final class GateTests: XCTestCase {
    struct Headers: RequestHeaders {
        var pairs: [(String, String)]
        func firstValue(_ name: String) -> String? { pairs.first { $0.0.lowercased() == name.lowercased() }?.1 }
        func allValues(_ name: String) -> [String] { pairs.filter { $0.0.lowercased() == name.lowercased() }.map(\.1) }
    }

    static let secret = "gate-test-secret-0123456789abcdef0123"
    let now = 1_700_000_000.0

    private func gate(_ environment: [String: String] = [:]) throws -> Gate {
        let yaml = """
            proxy: {upstream: "http://127.0.0.1:9"}
            jwt: {secret: "\(Self.secret)"}
            """
        return try Gate(configuration: try ConfigurationLoader.load(yaml: yaml, environment: environment))
    }

    private func token(csrf: String? = nil, type: String = "access") -> String {
        let minter = try! TokenMinter(algorithm: .HS256, secret: Array(Self.secret.utf8))
        return minter.mint(.init(subject: "alice", ttlSeconds: 600, type: type, jti: "j1",
                                 extraClaims: csrf.map { [("csrf", $0)] } ?? []),
                           issuer: nil, audience: [], now: now)
    }

    private func decide(_ gate: Gate, method: String = "GET", uri: String = "/", _ headers: [(String, String)]) -> Gate.Decision {
        gate.decide(method: method, target: RequestTarget(uri), headers: Headers(pairs: headers), now: now)
    }

    private func denial(_ decision: Gate.Decision) -> Denial? {
        if case .deny(let denial) = decision { return denial }
        return nil
    }

    func testHeaderTokenWithSchemeCaseInsensitive() throws {
        let g = try gate()
        guard case .checkRevocation(let verified, let query) = decide(g, [("authorization", "bearer  \(token())")]) else {
            return XCTFail("expected a verified token")
        }
        XCTAssertEqual(verified.claims.sub, "alice")
        XCTAssertEqual(query.jti, "j1")
        XCTAssertEqual(query.subject, "alice")
        XCTAssertEqual(query.issuedAt, now)
        XCTAssertNil(query.rawToken, "raw tokens are only looked up with revocation.token_key")
    }

    func testLocationsInOrder() throws {
        let g = try gate(["PORTCULLIS_JWT_LOCATIONS": "query,cookies,headers"])
        XCTAssertNil(denial(decide(g, uri: "/x?a=1&token=\(token())", [])))
        XCTAssertNil(denial(decide(g, [("Cookie", "theme=dark; access_token_cookie=\(token()); x=y")])))
        XCTAssertNil(denial(decide(g, [("Authorization", "Bearer \(token())")])))
        XCTAssertEqual(denial(decide(g, uri: "/x?tokens=\(token())", [("Cookie", "other=1")])), .missingToken)
        // The first location that has a token decides, even if a later one holds a valid one.
        XCTAssertEqual(denial(decide(g, uri: "/?token=garbage", [("Authorization", "Bearer \(token())")])), .malformedToken)
    }

    /// The reason codes behind AuthX's one `JWTDecodeError`: metrics tell them apart.
    func testDecodeFailuresKeepTheirCause() throws {
        let g = try gate()
        let hs384 = TokenTestSigner.token(.HS384, payload: #"{"sub":"alice","exp":1700000600}"#, secret: Array(Self.secret.utf8))
        XCTAssertEqual(denial(decide(g, [("Authorization", "Bearer \(hs384)")])), .algorithmNotAllowed)
        XCTAssertEqual(denial(decide(g, [("Authorization", "Bearer not-a-jwt")])), .malformedToken)
        let early = TokenTestSigner.token(.HS256, payload: #"{"sub":"alice","iat":1700009999}"#, secret: Array(Self.secret.utf8))
        XCTAssertEqual(denial(decide(g, [("Authorization", "Bearer \(early)")])), .issuedInFuture)
        for denial in [Denial.algorithmNotAllowed, .malformedToken, .issuedInFuture, .notYetValid, .unknownKey] {
            XCTAssertEqual(denial.errorType, "JWTDecodeError")
            XCTAssertEqual(denial.status, 422)
        }
        XCTAssertEqual(Set(Denial.allCases.map(\.reasonCode)).count, Denial.allCases.count, "one code per cause")
    }

    func testHeadersOnlyByDefault() throws {
        let g = try gate()
        XCTAssertEqual(denial(decide(g, uri: "/?token=\(token())", [("Cookie", "access_token_cookie=\(token())")])), .missingToken)
    }

    func testCSRFForCookieTokensOnStateChangingMethods() throws {
        let g = try gate(["PORTCULLIS_JWT_LOCATIONS": "cookies"])
        let cookie = ("Cookie", "access_token_cookie=\(token(csrf: "csrf-value"))")
        XCTAssertNil(denial(decide(g, method: "GET", [cookie])), "safe methods need no CSRF header")
        XCTAssertEqual(denial(decide(g, method: "POST", [cookie])), .csrfMismatch)
        XCTAssertEqual(denial(decide(g, method: "DELETE", [cookie, ("X-CSRF-TOKEN", "wrong")])), .csrfMismatch)
        XCTAssertNil(denial(decide(g, method: "PUT", [cookie, ("X-CSRF-TOKEN", "csrf-value")])))
        let noClaim = ("Cookie", "access_token_cookie=\(token())")
        XCTAssertEqual(denial(decide(g, method: "PATCH", [noClaim, ("X-CSRF-TOKEN", "anything")])), .csrfMismatch)
        let off = try gate(["PORTCULLIS_JWT_LOCATIONS": "cookies", "PORTCULLIS_JWT_CSRF": "false"])
        XCTAssertNil(denial(decide(off, method: "POST", [cookie])))
    }

    func testTokenTypes() throws {
        XCTAssertEqual(denial(decide(try gate(), [("Authorization", "Bearer \(token(type: "refresh"))")])), .accessTokenRequired)
        let refresh = try gate(["PORTCULLIS_JWT_TOKEN_TYPE": "refresh"])
        XCTAssertEqual(denial(decide(refresh, [("Authorization", "Bearer \(token())")])), .refreshTokenRequired)
        let any = try gate(["PORTCULLIS_JWT_TOKEN_TYPE": "any"])
        XCTAssertNil(denial(decide(any, [("Authorization", "Bearer \(token(type: "refresh"))")])))
    }

    func testVerdicts() throws {
        let closed = try gate()
        XCTAssertEqual(closed.conclude(.allowed), .forward)
        XCTAssertEqual(closed.conclude(.revoked), .deny(.revoked))
        XCTAssertEqual(closed.conclude(.unavailable), .deny(.storeUnavailable))
        let open = try gate(["PORTCULLIS_REVOCATION_FAIL_MODE": "open"])
        XCTAssertEqual(open.conclude(.unavailable), .forwardFailOpen)
        XCTAssertEqual(open.conclude(.revoked), .deny(.revoked), "fail-open never admits a known revocation")
    }

    /// An open tunnel's token judged again later: today's keys, its expiry (leeway included).
    func testRecheckVerifiesAgainAtALaterTime() throws {
        let g = try gate(["PORTCULLIS_JWT_LEEWAY": "5s"])
        let raw = Substring(token())  // exp = now + 600, jti j1, sub alice
        guard case .checkRevocation(let verified, let query) = g.recheck(raw, now: now + 10) else {
            return XCTFail("a valid token passes the recheck")
        }
        XCTAssertEqual(query.jti, "j1")
        XCTAssertEqual(query.subject, "alice")
        XCTAssertEqual(g.verifier.expiryInstant(of: verified.claims), now + 605)
        XCTAssertEqual(denial(g.recheck(raw, now: now + 604)), nil)
        XCTAssertEqual(denial(g.recheck(raw, now: now + 605)), .expired, "refused from exp + leeway on")
        let rotated = try gate(["PORTCULLIS_JWT_SECRET": String(repeating: "r", count: 40)])
        XCTAssertEqual(denial(rotated.recheck(raw, now: now + 10)), .badSignature, "a key taken away refuses it")
    }

    func testPublicPathMatching() {
        let paths = PublicPaths(patterns: ["/login", "/docs/*", "/static*"])
        XCTAssertTrue(paths.matches("/login"))
        XCTAssertFalse(paths.matches("/login/"))
        XCTAssertTrue(paths.matches("/docs/a/b"))
        XCTAssertFalse(paths.matches("/docs"))
        XCTAssertTrue(paths.matches("/static.css"))
        XCTAssertFalse(paths.matches("/docs/../admin"))
        XCTAssertFalse(paths.matches("/docs/./x"))
        XCTAssertFalse(paths.matches("/docs/%2E%2E/admin"))
        XCTAssertFalse(paths.matches("/docs/a%2fb"))
        XCTAssertFalse(paths.matches("/docs\\..\\admin"))
    }

    func testDenialRenderingTable() {
        XCTAssertEqual(Denial.revoked.status, 401)
        XCTAssertEqual(Denial.revoked.wwwAuthenticate(in: .authx), #"Bearer error="invalid_token""#)
        XCTAssertEqual(Denial.missingToken.wwwAuthenticate(in: .rfc6750), "Bearer")
        XCTAssertNil(Denial.expired.wwwAuthenticate(in: .authx), "422 carries no challenge")
        XCTAssertEqual(Denial.expired.status(in: .rfc6750), 401)
        XCTAssertEqual(Denial.storeUnavailable.status(in: .rfc6750), 503)
        XCTAssertNil(Denial.upstreamTimeout.wwwAuthenticate(in: .rfc6750))
    }

    func testClaimHeaderValuesCannotBreakHeaders() {
        XCTAssertFalse(ClaimHeaderPlan.isSafeHeaderValue("a\r\nX-Evil: 1"))
        XCTAssertTrue(ClaimHeaderPlan.isSafeHeaderValue("alice@example.com"))
    }
}

extension GateTests {
    final class UnknownKeys: UnknownKeyObserver, @unchecked Sendable {
        var seen = 0
        func unknownKeyIDSeen() { seen += 1 }
    }

    /// `jwt.jwks_url` before and after its first fetch: the gate knows no `kid` until the set
    /// arrives, and tells the fetcher about every unknown one.
    func testRemoteJWKSPendingThenLoaded() throws {
        let yaml = """
            proxy: {upstream: "http://127.0.0.1:9"}
            jwt: {algorithms: [HS256], jwks_url: "https://idp.example/jwks.json"}
            """
        let configuration = try ConfigurationLoader.load(yaml: yaml, environment: [:])
        let key = Array("remote-oct-key-0123456789abcdef0123".utf8)
        let k = Data(key).base64EncodedString().replacingOccurrences(of: "=", with: "")
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        let jwks = #"{"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "k": "\#(k)"}]}"#
        let minter = try TokenMinter(algorithm: .HS256, secret: key)
        let token = minter.mint(.init(subject: "alice", ttlSeconds: 600), issuer: nil, audience: [], now: now, keyID: "k1")
        let other = minter.mint(.init(subject: "alice", ttlSeconds: 600), issuer: nil, audience: [], now: now, keyID: "k2")
        let observer = UnknownKeys()

        let pending = try Gate(configuration: configuration, unknownKeyObserver: observer)
        XCTAssertEqual(denial(decide(pending, [("Authorization", "Bearer \(token)")])), .unknownKey)
        XCTAssertEqual(observer.seen, 1)

        let loaded = try Gate(configuration: configuration, remoteJWKS: jwks, unknownKeyObserver: observer)
        XCTAssertNil(denial(decide(loaded, [("Authorization", "Bearer \(token)")])))
        XCTAssertEqual(denial(decide(loaded, [("Authorization", "Bearer \(other)")])), .unknownKey)
        XCTAssertEqual(Denial.unknownKey.errorType, "JWTDecodeError", "AuthX's answer is unchanged; only the reason code is finer")
        XCTAssertEqual(Denial.unknownKey.reasonCode, "unknown_kid")
        XCTAssertEqual(observer.seen, 2)
        XCTAssertEqual(denial(decide(loaded, [("Authorization", "Bearer garbage")])), .malformedToken)
        XCTAssertEqual(observer.seen, 2, "only an unknown kid is reported, not any malformed token")

        XCTAssertThrowsError(try Gate(configuration: configuration, remoteJWKS: #"{"keys": 5}"#)) { error in
            XCTAssertEqual((error as? ConfigurationError)?.problems.first?.key, "jwt.jwks_url")
        }
    }
}
