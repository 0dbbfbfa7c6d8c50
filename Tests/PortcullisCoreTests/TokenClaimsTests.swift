import Foundation
import XCTest

@testable import PortcullisCore

/// Payload parsing and the claim checks that follow a verified signature.
final class TokenClaimsTests: XCTestCase {
    // MARK: Times (PyJWT rules, `tokenTestNow` = 1700000000)

    func testExpiry() throws {
        let verifier = try makeTokenVerifier([.HS256])
        // exp 1699999999: one second ago.
        assertTokenRejected(TokenTestSigner.token(.HS256, payload: #"{"exp":1699999999}"#), by: verifier, as: .expired)
        // exp 1700000000 == now: PyJWT's `exp <= now` already counts as expired.
        assertTokenRejected(TokenTestSigner.token(.HS256, payload: #"{"exp":1700000000}"#), by: verifier, as: .expired)
        // exp 1700000001: one second left.
        XCTAssertNotNil(assertTokenAccepted(TokenTestSigner.token(.HS256, payload: #"{"exp":1700000001}"#), by: verifier))
        // No exp at all: allowed.
        XCTAssertNotNil(assertTokenAccepted(TokenTestSigner.token(.HS256, payload: #"{"sub":"forever"}"#), by: verifier))
    }

    func testLeeway() throws {
        let verifier = try makeTokenVerifier([.HS256], policy: TokenPolicy(leewaySeconds: 30))
        // exp 1699999971: expired 29 s ago, inside 30 s of leeway.
        XCTAssertNotNil(assertTokenAccepted(TokenTestSigner.token(.HS256, payload: #"{"exp":1699999971}"#), by: verifier))
        // exp 1699999970: expired exactly 30 s ago, `exp <= now - leeway`.
        assertTokenRejected(TokenTestSigner.token(.HS256, payload: #"{"exp":1699999970}"#), by: verifier, as: .expired)
        // nbf 1700000030: valid in 30 s, inside the leeway.
        XCTAssertNotNil(assertTokenAccepted(TokenTestSigner.token(.HS256, payload: #"{"nbf":1700000030}"#), by: verifier))
        // nbf 1700000031: one second beyond the leeway.
        assertTokenRejected(TokenTestSigner.token(.HS256, payload: #"{"nbf":1700000031}"#), by: verifier, as: .notYetValid)
        // iat 1700000030 inside, 1700000031 beyond.
        XCTAssertNotNil(assertTokenAccepted(TokenTestSigner.token(.HS256, payload: #"{"iat":1700000030}"#), by: verifier))
        assertTokenRejected(TokenTestSigner.token(.HS256, payload: #"{"iat":1700000031}"#), by: verifier, as: .issuedInFuture)
    }

    func testNotBeforeAndIssuedAt() throws {
        let verifier = try makeTokenVerifier([.HS256])
        // nbf 1700000001: valid from one second from now.
        assertTokenRejected(TokenTestSigner.token(.HS256, payload: #"{"nbf":1700000001,"exp":1700003600}"#), by: verifier, as: .notYetValid)
        // nbf 1700000000 == now: valid (`nbf > now` fails only strictly).
        XCTAssertNotNil(assertTokenAccepted(TokenTestSigner.token(.HS256, payload: #"{"nbf":1700000000}"#), by: verifier))
        // iat 1700000100: issued 100 s in the future.
        assertTokenRejected(TokenTestSigner.token(.HS256, payload: #"{"iat":1700000100}"#), by: verifier, as: .issuedInFuture)
        // exp past and nbf future together: exp is checked first.
        assertTokenRejected(TokenTestSigner.token(.HS256, payload: #"{"exp":1,"nbf":1800000000}"#), by: verifier, as: .expired)
        // nbf and iat both in the future: nbf is checked first.
        assertTokenRejected(TokenTestSigner.token(.HS256, payload: #"{"iat":1800000000,"nbf":1800000000}"#), by: verifier, as: .notYetValid)
    }

    func testFloatTimesAreTruncatedLikePyJWT() throws {
        let verifier = try makeTokenVerifier([.HS256])
        // AuthX-style float times: iat 1699999999.5, exp 1700000900.25.
        let authx = TokenTestSigner.token(.HS256, payload: #"{"iat":1699999999.5,"exp":1700000900.25}"#)
        let claims = assertTokenAccepted(authx, by: verifier)?.claims
        XCTAssertEqual(claims?.iat, 1_699_999_999.5)
        XCTAssertEqual(claims?.exp, 1_700_000_900.25)
        // exp 1700000000.9 at now 1700000000.5: int(exp) = 1700000000 <= now, so expired as in PyJWT.
        assertTokenRejected(TokenTestSigner.token(.HS256, payload: #"{"exp":1700000000.9}"#), by: verifier, at: 1_700_000_000.5, as: .expired)
        // iat 1700000000.9 at now 1700000000.5 (issuer's clock a hair ahead): int(iat) is not in the future.
        XCTAssertNotNil(assertTokenAccepted(TokenTestSigner.token(.HS256, payload: #"{"iat":1700000000.9}"#), by: verifier, at: 1_700_000_000.5))
        // Exponent and negative forms: exp 1.7000036e9, nbf -1.5E+2.
        let exponent = TokenTestSigner.token(.HS256, payload: #"{"exp":1.7000036e9,"nbf":-1.5E+2}"#)
        let parsed = assertTokenAccepted(exponent, by: verifier)?.claims
        XCTAssertEqual(parsed?.exp, 1_700_003_600)
        XCTAssertEqual(parsed?.nbf, -150)
    }

    // MARK: Issuer, audience, type

    func testIssuer() throws {
        let verifier = try makeTokenVerifier([.HS256], policy: TokenPolicy(issuer: "https://auth.example"))
        // iss "https://auth.example".
        XCTAssertNotNil(assertTokenAccepted(TokenTestSigner.token(.HS256, payload: #"{"iss":"https://auth.example"}"#), by: verifier))
        // iss "https://evil.example".
        assertTokenRejected(TokenTestSigner.token(.HS256, payload: #"{"iss":"https://evil.example"}"#), by: verifier, as: .wrongIssuer)
        // iss escaped "https:\/\/auth.example" is the same string.
        XCTAssertNotNil(assertTokenAccepted(TokenTestSigner.token(.HS256, payload: #"{"iss":"https:\/\/auth.example"}"#), by: verifier))
        // No iss.
        assertTokenRejected(TokenTestSigner.token(.HS256, payload: #"{"sub":"x"}"#), by: verifier, as: .wrongIssuer)
    }

    func testAudience() throws {
        let verifier = try makeTokenVerifier([.HS256], policy: TokenPolicy(audience: ["api", "admin"]))
        // aud "api" (string form).
        XCTAssertEqual(assertTokenAccepted(TokenTestSigner.token(.HS256, payload: #"{"aud":"api"}"#), by: verifier)?.claims.aud, ["api"])
        // aud ["other","admin"] (array form, second matches).
        let array = TokenTestSigner.token(.HS256, payload: #"{"aud":["other","admin"]}"#)
        XCTAssertEqual(assertTokenAccepted(array, by: verifier)?.claims.aud, ["other", "admin"])
        // aud "web".
        assertTokenRejected(TokenTestSigner.token(.HS256, payload: #"{"aud":"web"}"#), by: verifier, as: .wrongAudience)
        // aud [] (empty array).
        assertTokenRejected(TokenTestSigner.token(.HS256, payload: #"{"aud":[]}"#), by: verifier, as: .wrongAudience)
        // No aud.
        assertTokenRejected(TokenTestSigner.token(.HS256, payload: #"{"sub":"x"}"#), by: verifier, as: .wrongAudience)
        // Without a configured audience any aud passes: aud "anything".
        let open = try makeTokenVerifier([.HS256])
        XCTAssertNotNil(assertTokenAccepted(TokenTestSigner.token(.HS256, payload: #"{"aud":"anything"}"#), by: open))
    }

    func testTokenType() throws {
        // type "refresh" where an access token is required.
        let refresh = TokenTestSigner.token(.HS256, payload: #"{"type":"refresh"}"#)
        // type "access" where a refresh token is required.
        let access = TokenTestSigner.token(.HS256, payload: #"{"type":"access"}"#)
        // No type claim (not an AuthX token).
        let untyped = TokenTestSigner.token(.HS256, payload: #"{"sub":"x"}"#)
        // type "id", neither kind.
        let other = TokenTestSigner.token(.HS256, payload: #"{"type":"id"}"#)

        let needsAccess = try makeTokenVerifier([.HS256], policy: TokenPolicy(requiredType: .access))
        assertTokenRejected(refresh, by: needsAccess, as: .accessTokenRequired)
        assertTokenRejected(other, by: needsAccess, as: .accessTokenRequired)
        XCTAssertNotNil(assertTokenAccepted(access, by: needsAccess))
        XCTAssertNotNil(assertTokenAccepted(untyped, by: needsAccess))

        let needsRefresh = try makeTokenVerifier([.HS256], policy: TokenPolicy(requiredType: .refresh))
        assertTokenRejected(access, by: needsRefresh, as: .refreshTokenRequired)
        XCTAssertNotNil(assertTokenAccepted(refresh, by: needsRefresh))
        XCTAssertNotNil(assertTokenAccepted(untyped, by: needsRefresh))

        let any = try makeTokenVerifier([.HS256], policy: TokenPolicy(requiredType: .any))
        for token in [refresh, access, untyped, other] {
            XCTAssertNotNil(assertTokenAccepted(token, by: any))
        }
    }

    func testCheckOrderAfterSignature() throws {
        let verifier = try makeTokenVerifier([.HS256], policy: TokenPolicy(issuer: "me", audience: ["api"], requiredType: .access))
        // Wrong iss, wrong aud and type refresh together: iss is reported first.
        let all = TokenTestSigner.token(.HS256, payload: #"{"iss":"you","aud":"web","type":"refresh"}"#)
        assertTokenRejected(all, by: verifier, as: .wrongIssuer)
        // Right iss, wrong aud, type refresh: aud next.
        let audAndType = TokenTestSigner.token(.HS256, payload: #"{"iss":"me","aud":"web","type":"refresh"}"#)
        assertTokenRejected(audAndType, by: verifier, as: .wrongAudience)
        // Only the type is wrong.
        let typeOnly = TokenTestSigner.token(.HS256, payload: #"{"iss":"me","aud":"api","type":"refresh"}"#)
        assertTokenRejected(typeOnly, by: verifier, as: .accessTokenRequired)
        // Future iat beats a wrong issuer.
        let iatFirst = TokenTestSigner.token(.HS256, payload: #"{"iss":"you","iat":1800000000}"#)
        assertTokenRejected(iatFirst, by: verifier, as: .issuedInFuture)
    }

    // MARK: Payload parsing

    func testAuthXClaimsAreRead() throws {
        // AuthX access token claims: sub, jti, type, fresh true, csrf, float iat/exp, plus an extra claim.
        let token = TokenTestSigner.token(.HS256, payload: """
            {"role":"editor","sub":"42","jti":"9f0c","type":"access","fresh":true,\
            "csrf":"c5rf","iat":1699999990.25,"exp":1700000890.75}
            """)
        let claims = assertTokenAccepted(token, by: try makeTokenVerifier([.HS256]))?.claims
        XCTAssertEqual(claims, TokenClaims(
            jti: "9f0c", sub: "42", exp: 1_700_000_890.75, iat: 1_699_999_990.25, type: "access", csrf: "c5rf", fresh: true
        ))
    }

    func testEscapesAndUnicodeInClaims() throws {
        let verifier = try makeTokenVerifier([.HS256])
        // sub written with every escape: quote, backslash, slash, \b \f \n \r \t, \u00e9 (é), and the
        // surrogate pair \ud83d\ude00 (😀); jti written as raw UTF-8 "Zoë 🦀".
        let token = TokenTestSigner.token(.HS256, payload: #"{"sub":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00","jti":"Zoë 🦀"}"#)
        let claims = assertTokenAccepted(token, by: verifier)?.claims
        XCTAssertEqual(claims?.sub, "a\"b\\c/d\u{8}\u{c}\n\r\té😀")
        XCTAssertEqual(claims?.jti, "Zoë 🦀")
        // Member name written with escapes: "\u0073ub" is "sub".
        let escapedName = TokenTestSigner.token(.HS256, payload: #"{"\u0073ub":"named-by-escape"}"#)
        XCTAssertEqual(assertTokenAccepted(escapedName, by: verifier)?.claims.sub, "named-by-escape")
    }

    func testInvalidStringsAreMalformed() throws {
        let verifier = try makeTokenVerifier([.HS256])
        let cases: [(String, String)] = [
            (#"{"sub":"\ud83d"}"#, "lone high surrogate"),
            (#"{"sub":"\ude00"}"#, "lone low surrogate"),
            (#"{"sub":"\ud83d\u0041"}"#, "high surrogate followed by a non-surrogate escape"),
            (#"{"x":"\ud83dx"}"#, "lone surrogate in a claim we skip"),
            (#"{"sub":"\x"}"#, "unknown escape"),
            (#"{"sub":"\u12"}"#, "short \\u escape"),
            ("{\"sub\":\"tab\there\"}", "raw control character (tab) in a string"),
            (#"{"sub":"open}"#, "unterminated string"),
        ]
        for (payload, description) in cases {
            // HS256 token whose payload has a bad string: see `description`.
            let token = TokenTestSigner.token(.HS256, payload: payload)
            assertTokenRejected(token, by: verifier, as: .malformed)
            _ = description
        }
        // Payload {"sub":"<0xC3 0x28>"}: invalid UTF-8 (a lead byte without its continuation).
        var bytes = Array(#"{"sub":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        let input = TokenTestSigner.b64(#"{"alg":"HS256"}"#) + "." + Base64URL.encode(bytes)
        assertTokenRejected(input + "." + Base64URL.encode(TokenTestSigner.signature(.HS256, Data(input.utf8))), by: verifier, as: .malformed)
        // Payload with an overlong encoding of "/" (0xC0 0xAF).
        bytes = Array(#"{"sub":""#.utf8) + [0xC0, 0xAF] + Array(#""}"#.utf8)
        let overlong = TokenTestSigner.b64(#"{"alg":"HS256"}"#) + "." + Base64URL.encode(bytes)
        assertTokenRejected(overlong + "." + Base64URL.encode(TokenTestSigner.signature(.HS256, Data(overlong.utf8))), by: verifier, as: .malformed)
    }

    func testWrongTypesForRegisteredClaimsAreMalformed() throws {
        let verifier = try makeTokenVerifier([.HS256])
        for payload in [
            #"{"exp":"1700003600"}"#,   // exp as a string
            #"{"nbf":true}"#,           // nbf as a boolean
            #"{"iat":null}"#,           // iat null
            #"{"exp":[1700003600]}"#,   // exp in an array
            #"{"aud":42}"#,             // aud as a number
            #"{"aud":["api",42]}"#,     // aud array with a number
            #"{"aud":null}"#,           // aud null
            #"{"sub":12345}"#,          // sub as a number
            #"{"jti":{"id":1}}"#,       // jti as an object
            #"{"iss":["a"]}"#,          // iss as an array
            #"{"type":1}"#,             // type as a number
            #"{"csrf":false}"#,         // csrf as a boolean
            #"{"fresh":"true"}"#,       // fresh as a string
            #"{"fresh":1}"#,            // fresh as a number
            #"{"exp":1e400}"#,          // exp overflowing to infinity
        ] {
            // HS256 token with the payload above.
            assertTokenRejected(TokenTestSigner.token(.HS256, payload: payload), by: verifier, as: .malformed)
        }
    }

    func testPayloadStructureIsStrict() throws {
        let verifier = try makeTokenVerifier([.HS256])
        for payload in [
            #"{"sub":"a","sub":"b"}"#,               // duplicate registered claim
            #"{"x":1,"y":2,"x":3}"#,                 // duplicate unknown claim
            #"{"sub":"a","\u0073ub":"b"}"#,          // duplicate once escaped
            #"{"sub":"a"} x"#,                       // trailing garbage
            #"{"sub":"a"}{}"#,                       // two objects
            #"["sub"]"#,                             // not an object
            #""sub""#,                               // a bare string
            #"{"sub":"a",}"#,                        // trailing comma
            #"{"n":01}"#,                            // leading zero
            #"{"n":1.}"#,                            // bare decimal point
            #"{"n":+1}"#,                            // leading plus
            #"{"n":.5}"#,                            // missing integer part
            #"{"n":tru}"#,                           // truncated literal
            #"{"n":NaN}"#,                           // not JSON
            #"{"a":[1,2,]}"#,                        // trailing comma in a skipped array
            #"{"a":{"b":1,}}"#,                      // trailing comma in a skipped object
        ] {
            // HS256 token with the payload above.
            assertTokenRejected(TokenTestSigner.token(.HS256, payload: payload), by: verifier, as: .malformed)
        }
        // Whitespace everywhere, nested unknown claims of every kind, and numbers in every form are fine.
        let busy = " \n{ \"sub\" : \"a\" ,\t\"x\":{\"y\":[1,-0.5e-3,true,false,null,{\"z\":\"\"}],\"w\":{}} , \"n\":-0 }\r\n"
        XCTAssertEqual(assertTokenAccepted(TokenTestSigner.token(.HS256, payload: busy), by: verifier)?.claims.sub, "a")
        // {"sub":"a","x":{"b":1,"b":2}}: duplicates inside a nested object are not examined, since
        // nothing nested is ever read (a captured object is nil).
        let nested = TokenTestSigner.token(.HS256, payload: #"{"sub":"a","x":{"b":1,"b":2}}"#)
        XCTAssertNotNil(assertTokenAccepted(nested, by: verifier))
    }

    func testNestingLimit() throws {
        let verifier = try makeTokenVerifier([.HS256])
        // Payload whose claim "deep" nests arrays so that the document is 64 containers deep: accepted.
        let ok = #"{"sub":"a","deep":"# + String(repeating: "[", count: 63) + String(repeating: "]", count: 63) + "}"
        XCTAssertNotNil(assertTokenAccepted(TokenTestSigner.token(.HS256, payload: ok), by: verifier))
        // One level more (65 containers, mixing objects and arrays): malformed.
        let tooDeep = #"{"sub":"a","deep":"# + String(repeating: #"{"a":["#, count: 32) + "0"
            + String(repeating: "]}", count: 32) + "}"
        assertTokenRejected(TokenTestSigner.token(.HS256, payload: tooDeep), by: verifier, as: .malformed)
        // 10 000 levels: refused quickly, without exhausting the stack.
        let hostile = #"{"deep":"# + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}"
        assertTokenRejected(TokenTestSigner.token(.HS256, payload: hostile), by: verifier, as: .malformed)
    }

    func testCapturedClaims() throws {
        let policy = TokenPolicy(capturedClaims: ["role", "org_id", "admin", "nothing", "obj", "list", "missing", "sub", "exp", "role"])
        let verifier = try makeTokenVerifier([.HS256], policy: policy)
        // role "editor" (string), org_id 1234.50 (number text kept as written), admin true, nothing null,
        // obj {"a":1}, list ["x"], sub "alice", exp 1700003600; "missing" is absent; "role" is listed twice.
        let token = TokenTestSigner.token(.HS256, payload: """
            {"role":"ed\\u0069tor","org_id":1234.50,"admin":true,"nothing":null,"obj":{"a":1},"list":["x"],\
            "sub":"alice","exp":1700003600,"other":"ignored"}
            """)
        let claims = assertTokenAccepted(token, by: verifier)?.claims
        XCTAssertEqual(claims?.captured, ["editor", "1234.50", "true", nil, nil, nil, nil, "alice", "1700003600", "editor"])
        XCTAssertEqual(claims?.sub, "alice")
        XCTAssertEqual(claims?.exp, 1_700_003_600)
        // With nothing captured, `captured` is empty.
        let plain = try makeTokenVerifier([.HS256])
        XCTAssertEqual(assertTokenAccepted(token, by: plain)?.claims.captured, [])
    }
}
