import Crypto
import Foundation
import XCTest
import _CryptoExtras

@testable import PortcullisCore

/// Algorithms, keys and signatures. Claims and compact-form rules have their own files.
final class TokenVerifierTests: XCTestCase {
    /// Payload of most tokens here: valid at `tokenTestNow` (exp one hour later).
    let validPayload = #"{"sub":"alice","jti":"j-1","iat":1699999990,"exp":1700003600}"#

    func testEveryAlgorithmVerifiesWithItsOwnKey() throws {
        for algorithm in JWTAlgorithm.allCases {
            // `algorithm`-signed token, header {"alg":<algorithm>,"typ":"JWT"}, payload `validPayload`.
            let token = TokenTestSigner.token(algorithm, payload: validPayload)
            let verifier = try makeTokenVerifier([algorithm])
            let verified = assertTokenAccepted(token, by: verifier)
            XCTAssertEqual(verified?.algorithm, algorithm)
            XCTAssertEqual(verified?.claims.sub, "alice", "\(algorithm)")
            XCTAssertEqual(verified?.claims.jti, "j-1", "\(algorithm)")
            XCTAssertEqual(verified?.claims.exp, 1_700_003_600, "\(algorithm)")
            XCTAssertNil(verified?.keyID)
        }
    }

    func testSignatureOfAnotherKeyIsBadSignature() throws {
        // ES256 token signed with a P-256 key the verifier does not have.
        let input = Data((TokenTestSigner.b64(#"{"alg":"ES256"}"#) + "." + TokenTestSigner.b64(validPayload)).utf8)
        let foreign = try TokenTestKeys.otherP256.signature(for: SHA256.hash(data: input)).rawRepresentation
        let token = String(decoding: input, as: UTF8.self) + "." + Base64URL.encode(foreign)
        assertTokenRejected(token, by: try makeTokenVerifier([.ES256]), as: .badSignature)

        // HS256 token signed with a different 64-byte secret.
        let wrongSecret = TokenTestSigner.token(.HS256, payload: validPayload, secret: Array(repeating: 0x61, count: 64))
        assertTokenRejected(wrongSecret, by: try makeTokenVerifier([.HS256]), as: .badSignature)
    }

    func testTamperedPayloadIsBadSignature() throws {
        // HS256 over {"sub":"alice",...}; the payload segment is then swapped for {"sub":"admin",...}.
        let original = TokenTestSigner.token(.HS256, payload: validPayload)
        let parts = original.split(separator: ".")
        let forged = parts[0] + "." + TokenTestSigner.b64(validPayload.replacingOccurrences(of: "alice", with: "admin")) + "." + parts[2]
        assertTokenRejected(String(forged), by: try makeTokenVerifier([.HS256]), as: .badSignature)

        // RS256 token whose last signature byte is flipped (still canonical base64url).
        let rs = TokenTestSigner.token(.RS256, payload: validPayload)
        var signature = Base64URL.decode(rs.split(separator: ".")[2]) ?? []
        signature[signature.count - 1] ^= 0x01
        let flipped = rs.split(separator: ".")[0...1].joined(separator: ".") + "." + Base64URL.encode(signature)
        assertTokenRejected(flipped, by: try makeTokenVerifier([.RS256]), as: .badSignature)
    }

    func testTruncatedSignaturesAreBadSignature() throws {
        for algorithm in [JWTAlgorithm.HS256, .RS256, .PS256, .ES256, .ES512, .EdDSA] {
            // `algorithm` token with the signature cut to 16 bytes: a wrong length never verifies.
            let token = TokenTestSigner.token(algorithm, payload: validPayload)
            let parts = token.split(separator: ".")
            let short = parts[0] + "." + parts[1] + "." + Base64URL.encode((Base64URL.decode(parts[2]) ?? []).prefix(16))
            assertTokenRejected(String(short), by: try makeTokenVerifier([algorithm]), as: .badSignature)
        }
    }

    func testDERSignatureIsRefusedForES256() throws {
        // ES256 token carrying the DER (ASN.1) form of a valid signature instead of raw r||s.
        let input = Data((TokenTestSigner.b64(#"{"alg":"ES256"}"#) + "." + TokenTestSigner.b64(validPayload)).utf8)
        let der = try TokenTestKeys.p256.signature(for: SHA256.hash(data: input)).derRepresentation
        let token = String(decoding: input, as: UTF8.self) + "." + Base64URL.encode(der)
        assertTokenRejected(token, by: try makeTokenVerifier([.ES256]), as: .badSignature)
    }

    func testAlgNoneIsRefused() throws {
        let verifier = try makeTokenVerifier([.HS256])
        // {"alg":"none"} with an empty signature: the unsecured JWS form.
        let unsecured = TokenTestSigner.raw(header: #"{"alg":"none"}"#, payload: validPayload, signature: "")
        assertTokenRejected(unsecured, by: verifier, as: .malformed)
        // {"alg":"none"} with a non-empty signature (an HS256 MAC of the same input).
        let withSignature = TokenTestSigner.token(.HS256, header: #"{"alg":"none","typ":"JWT"}"#, payload: validPayload)
        assertTokenRejected(withSignature, by: verifier, as: .algorithmNotAllowed)
        // {"alg":"None"}: names are case-sensitive, so this is just an unknown algorithm.
        let capitalised = TokenTestSigner.token(.HS256, header: #"{"alg":"None"}"#, payload: validPayload)
        assertTokenRejected(capitalised, by: verifier, as: .algorithmNotAllowed)
    }

    func testAlgorithmNotInPolicyIsRefused() throws {
        // HS384 token, verifier configured for HS256 only (the secret could compute HS384).
        let token = TokenTestSigner.token(.HS384, payload: validPayload)
        assertTokenRejected(token, by: try makeTokenVerifier([.HS256]), as: .algorithmNotAllowed)
        // {"alg":"hs256"}: lower-case is not HS256.
        let lower = TokenTestSigner.token(.HS256, header: #"{"alg":"hs256"}"#, payload: validPayload)
        assertTokenRejected(lower, by: try makeTokenVerifier([.HS256]), as: .algorithmNotAllowed)
        // {"alg":"RSA-OAEP"}: a JWE algorithm.
        let jwe = TokenTestSigner.token(.HS256, header: #"{"alg":"RSA-OAEP"}"#, payload: validPayload)
        assertTokenRejected(jwe, by: try makeTokenVerifier([.HS256]), as: .algorithmNotAllowed)
    }

    func testRS256ToHS256ConfusionFails() throws {
        // The classic attack: HS256 token whose MAC key is the verifier's RSA public key PEM text.
        let pem = TokenTestKeys.rsaPEM
        let token = TokenTestSigner.token(.HS256, payload: validPayload, secret: Array(pem.utf8))

        // Verifier configured as intended: RS256 with that PEM.
        let rsOnly = TokenVerifier(
            keys: try KeyTable(hmacSecret: nil, publicKeyPEM: pem, jwksJSON: nil, algorithms: [.RS256]),
            policy: TokenPolicy(algorithms: [.RS256])
        )
        assertTokenRejected(token, by: rsOnly, as: .algorithmNotAllowed)

        // Even a policy that also lists HS256 never uses an RSA key as an HMAC secret.
        let lenientPolicy = TokenVerifier(
            keys: try KeyTable(hmacSecret: nil, publicKeyPEM: pem, jwksJSON: nil, algorithms: [.RS256]),
            policy: TokenPolicy(algorithms: [.RS256, .HS256])
        )
        assertTokenRejected(token, by: lenientPolicy, as: .algorithmNotAllowed)

        // Same with the key in a JWKS.
        let jwks = try jwksJSON([rsaJWK(TokenTestKeys.rsa.publicKey, kid: nil)])
        let fromJWKS = TokenVerifier(
            keys: try KeyTable(hmacSecret: nil, publicKeyPEM: nil, jwksJSON: jwks, algorithms: [.RS256, .HS256]),
            policy: TokenPolicy(algorithms: [.RS256, .HS256])
        )
        assertTokenRejected(token, by: fromJWKS, as: .algorithmNotAllowed)
    }

    func testHeaderAlgMustMatchTheKeyType() throws {
        // ES384 header over an ES256 (P-256) signature; policy allows both, the only key is P-256.
        let input = Data((TokenTestSigner.b64(#"{"alg":"ES384"}"#) + "." + TokenTestSigner.b64(validPayload)).utf8)
        let signature = try TokenTestKeys.p256.signature(for: SHA256.hash(data: input)).rawRepresentation
        let token = String(decoding: input, as: UTF8.self) + "." + Base64URL.encode(signature)
        let verifier = TokenVerifier(
            keys: try KeyTable(hmacSecret: nil, publicKeyPEM: TokenTestKeys.p256PEM, jwksJSON: nil, algorithms: [.ES256]),
            policy: TokenPolicy(algorithms: [.ES256, .ES384])
        )
        assertTokenRejected(token, by: verifier, as: .algorithmNotAllowed)

        // PS256 header with a valid RS256 (PKCS#1 v1.5) signature from the same RSA key.
        let rsInput = Data((TokenTestSigner.b64(#"{"alg":"PS256"}"#) + "." + TokenTestSigner.b64(validPayload)).utf8)
        let pkcs1 = TokenTestSigner.signature(.RS256, rsInput)
        let mislabelled = String(decoding: rsInput, as: UTF8.self) + "." + Base64URL.encode(pkcs1)
        assertTokenRejected(mislabelled, by: try makeTokenVerifier([.RS256, .PS256]), as: .badSignature)

        // EdDSA header with an HS256 MAC, verifier holding a secret and an Ed25519 key.
        let mixed = TokenVerifier(
            keys: try KeyTable(hmacSecret: TokenTestKeys.secret, publicKeyPEM: TokenTestKeys.ed25519PEM, jwksJSON: nil, algorithms: [.HS256, .EdDSA]),
            policy: TokenPolicy(algorithms: [.HS256, .EdDSA])
        )
        let edLabelled = TokenTestSigner.token(.HS256, header: #"{"alg":"EdDSA"}"#, payload: validPayload)
        assertTokenRejected(edLabelled, by: mixed, as: .badSignature)
        XCTAssertNotNil(assertTokenAccepted(TokenTestSigner.token(.EdDSA, payload: validPayload), by: mixed))
        XCTAssertNotNil(assertTokenAccepted(TokenTestSigner.token(.HS256, payload: validPayload), by: mixed))
    }

    // MARK: JWKS key selection

    func testJWKSPicksTheKeyByKid() throws {
        let jwks = try jwksJSON([
            ecJWK(TokenTestKeys.otherP256.publicKey, kid: "old"),
            ecJWK(TokenTestKeys.p256.publicKey, kid: "current"),
            rsaJWK(TokenTestKeys.rsa.publicKey, kid: "rsa-1"),
        ])
        let verifier = TokenVerifier(
            keys: try KeyTable(hmacSecret: nil, publicKeyPEM: nil, jwksJSON: jwks, algorithms: [.ES256, .RS256]),
            policy: TokenPolicy(algorithms: [.ES256, .RS256])
        )
        // ES256 with header kid "current" (the key that signed it).
        let current = TokenTestSigner.token(.ES256, header: #"{"alg":"ES256","kid":"current"}"#, payload: validPayload)
        XCTAssertEqual(assertTokenAccepted(current, by: verifier)?.keyID, "current")
        // RS256 with kid "rsa-1".
        let rsa = TokenTestSigner.token(.RS256, header: #"{"alg":"RS256","kid":"rsa-1"}"#, payload: validPayload)
        XCTAssertEqual(assertTokenAccepted(rsa, by: verifier)?.keyID, "rsa-1")
        // ES256 signed by the "current" key but claiming kid "old": only "old" is tried.
        let wrongKid = TokenTestSigner.token(.ES256, header: #"{"alg":"ES256","kid":"old"}"#, payload: validPayload)
        assertTokenRejected(wrongKid, by: verifier, as: .badSignature)
        // ES256 with kid "rotated-away", which no key has.
        let unknown = TokenTestSigner.token(.ES256, header: #"{"alg":"ES256","kid":"rotated-away"}"#, payload: validPayload)
        assertTokenRejected(unknown, by: verifier, as: .unknownKey)
        // RS256 with kid "current": that key is P-256.
        let mismatch = TokenTestSigner.token(.RS256, header: #"{"alg":"RS256","kid":"current"}"#, payload: validPayload)
        assertTokenRejected(mismatch, by: verifier, as: .algorithmNotAllowed)
        // ES256 with kid written with an escape, "\u0063urrent" == "current".
        let escaped = TokenTestSigner.token(.ES256, header: #"{"alg":"ES256","kid":"\u0063urrent"}"#, payload: validPayload)
        XCTAssertEqual(assertTokenAccepted(escaped, by: verifier)?.keyID, "current")
    }

    func testTokenWithoutKidTriesFittingKeysInOrder() throws {
        let jwks = try jwksJSON([
            ecJWK(TokenTestKeys.otherP256.publicKey, kid: "a"),
            rsaJWK(TokenTestKeys.rsa.publicKey, kid: "b"),
            ecJWK(TokenTestKeys.p256.publicKey, kid: "c"),
        ])
        let verifier = TokenVerifier(
            keys: try KeyTable(hmacSecret: nil, publicKeyPEM: nil, jwksJSON: jwks, algorithms: [.ES256, .RS256]),
            policy: TokenPolicy(algorithms: [.ES256, .RS256])
        )
        // ES256 without kid, signed by the third key: "a" fails, "b" does not fit, "c" verifies.
        let token = TokenTestSigner.token(.ES256, payload: validPayload)
        XCTAssertEqual(assertTokenAccepted(token, by: verifier)?.keyID, "c")
    }

    func testKidIsAHintWhenNoKeyHasOne() throws {
        // HS256 with header kid "whatever"; the only key is the un-named HMAC secret.
        let token = TokenTestSigner.token(.HS256, header: #"{"alg":"HS256","kid":"whatever"}"#, payload: validPayload)
        XCTAssertEqual(assertTokenAccepted(token, by: try makeTokenVerifier([.HS256]))?.keyID, "whatever")
    }

    func testJWKSAlgMemberRestrictsTheKey() throws {
        // The RSA key is published for PS256 only.
        var jwk = try rsaJWK(TokenTestKeys.rsa.publicKey, kid: "k")
        jwk["alg"] = "PS256"
        let keys = try KeyTable(hmacSecret: nil, publicKeyPEM: nil, jwksJSON: try jwksJSON([jwk]), algorithms: [.RS256, .PS256])
        let verifier = TokenVerifier(keys: keys, policy: TokenPolicy(algorithms: [.RS256, .PS256]))
        // RS256 token with kid "k", correctly signed by that RSA key.
        let rs = TokenTestSigner.token(.RS256, header: #"{"alg":"RS256","kid":"k"}"#, payload: validPayload)
        assertTokenRejected(rs, by: verifier, as: .algorithmNotAllowed)
        // PS256 token with kid "k".
        let ps = TokenTestSigner.token(.PS256, header: #"{"alg":"PS256","kid":"k"}"#, payload: validPayload)
        XCTAssertNotNil(assertTokenAccepted(ps, by: verifier))
    }

    func testJWKSOctAndOKPKeysVerify() throws {
        let jwks = try jwksJSON([
            ["kty": "oct", "kid": "hmac", "k": Base64URL.encode(TokenTestKeys.secret), "alg": "HS512"],
            ["kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": Base64URL.encode(TokenTestKeys.ed25519.publicKey.rawRepresentation)],
            ["kty": "RSA", "use": "enc", "kid": "enc-key", "n": "AQAB", "e": "AQAB"],
        ])
        let verifier = TokenVerifier(
            keys: try KeyTable(hmacSecret: nil, publicKeyPEM: nil, jwksJSON: jwks, algorithms: [.HS512, .EdDSA]),
            policy: TokenPolicy(algorithms: [.HS512, .EdDSA])
        )
        // HS512 with kid "hmac".
        let hs = TokenTestSigner.token(.HS512, header: #"{"alg":"HS512","kid":"hmac"}"#, payload: validPayload)
        XCTAssertEqual(assertTokenAccepted(hs, by: verifier)?.keyID, "hmac")
        // EdDSA with kid "ed".
        let ed = TokenTestSigner.token(.EdDSA, header: #"{"alg":"EdDSA","kid":"ed"}"#, payload: validPayload)
        XCTAssertEqual(assertTokenAccepted(ed, by: verifier)?.keyID, "ed")
        // HS512 naming the skipped encryption key "enc-key".
        let enc = TokenTestSigner.token(.HS512, header: #"{"alg":"HS512","kid":"enc-key"}"#, payload: validPayload)
        assertTokenRejected(enc, by: verifier, as: .unknownKey)
    }

    func testVerifySignatureSkipsClaimChecks() throws {
        // HS256, exp 1600000000 (long past), type "refresh", iss "someone-else".
        let token = TokenTestSigner.token(.HS256, payload: #"{"jti":"revoke-me","exp":1600000000,"type":"refresh","iss":"someone-else"}"#)
        let verifier = try makeTokenVerifier([.HS256], policy: TokenPolicy(issuer: "me", requiredType: .access))
        assertTokenRejected(token, by: verifier, as: .expired)
        let verified = try verifier.verifySignature(Substring(token))
        XCTAssertEqual(verified.claims.jti, "revoke-me")
        XCTAssertEqual(verified.claims.exp, 1_600_000_000)
        // The signature still has to verify.
        let forged = TokenTestSigner.token(.HS256, payload: #"{"jti":"revoke-me"}"#, secret: Array(repeating: 0x62, count: 64))
        XCTAssertThrowsError(try verifier.verifySignature(Substring(forged))) { error in
            XCTAssertEqual((error as? TokenError)?.code, .badSignature)
        }
    }

    func testSignatureIsCheckedBeforeClaims() throws {
        let verifier = try makeTokenVerifier([.HS256])
        // Expired token ({"exp":1} ) with a wrong MAC: the signature failure wins.
        let forgedExpired = TokenTestSigner.token(.HS256, payload: #"{"exp":1}"#, secret: Array(repeating: 0x63, count: 64))
        assertTokenRejected(forgedExpired, by: verifier, as: .badSignature)
        // Payload that is not JSON ("not json") with a wrong MAC: still badSignature, the payload is never parsed.
        let forgedGarbage = TokenTestSigner.token(.HS256, payload: "not json", secret: Array(repeating: 0x63, count: 64))
        assertTokenRejected(forgedGarbage, by: verifier, as: .badSignature)
        // Payload that is not JSON with a correct MAC: malformed.
        assertTokenRejected(TokenTestSigner.token(.HS256, payload: "not json"), by: verifier, as: .malformed)
    }

    func testSubstringOfALargerStringVerifies() throws {
        // HS256 token embedded in an Authorization header value; the verifier gets a Substring of it.
        let token = TokenTestSigner.token(.HS256, payload: validPayload)
        let header = "Bearer " + token
        let slice = header[header.index(header.startIndex, offsetBy: 7)...]
        XCTAssertEqual(try makeTokenVerifier([.HS256]).verify(slice, now: tokenTestNow).claims.sub, "alice")
    }

    // MARK: JWK helpers

    func jwksJSON(_ keys: [[String: String]]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: ["keys": keys], options: [.sortedKeys]), as: UTF8.self)
    }

    func rsaJWK(_ key: _RSA.Signing.PublicKey, kid: String?) throws -> [String: String] {
        let primitives = try key.getKeyPrimitives()
        var jwk = ["kty": "RSA", "n": Base64URL.encode(primitives.modulus), "e": Base64URL.encode(primitives.publicExponent)]
        jwk["kid"] = kid
        return jwk
    }

    func ecJWK(_ key: P256.Signing.PublicKey, kid: String?) -> [String: String] {
        let raw = Array(key.rawRepresentation)
        var jwk = ["kty": "EC", "crv": "P-256", "x": Base64URL.encode(raw[0..<32]), "y": Base64URL.encode(raw[32...])]
        jwk["kid"] = kid
        return jwk
    }
}
