import Crypto
import Foundation
import XCTest
import _CryptoExtras

@testable import PortcullisCore

final class KeyTableTests: XCTestCase {
    func assertKeyTableError(
        _ code: KeyTableError.Code, containing fragment: String,
        file: StaticString = #filePath, line: UInt = #line, _ build: () throws -> KeyTable
    ) {
        do {
            _ = try build()
            XCTFail("expected \(code)", file: file, line: line)
        } catch let error as KeyTableError {
            XCTAssertEqual(error.code, code, error.message, file: file, line: line)
            XCTAssertTrue(error.description.contains(fragment), "“\(error.description)” lacks “\(fragment)”", file: file, line: line)
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
    }

    // MARK: HMAC

    func testSecretMustBeAsLongAsTheHash() {
        let secret31 = Array(repeating: UInt8(ascii: "s"), count: 31)
        assertKeyTableError(.weakSecret, containing: "HMAC secret is 31 bytes; HS256 needs at least 32") {
            try KeyTable(hmacSecret: secret31, publicKeyPEM: nil, jwksJSON: nil, algorithms: [.HS256])
        }
        let secret32 = Array(repeating: UInt8(ascii: "s"), count: 32)
        XCTAssertNoThrow(try KeyTable(hmacSecret: secret32, publicKeyPEM: nil, jwksJSON: nil, algorithms: [.HS256]))
        assertKeyTableError(.weakSecret, containing: "HS384 needs at least 48") {
            try KeyTable(hmacSecret: secret32, publicKeyPEM: nil, jwksJSON: nil, algorithms: [.HS256, .HS384])
        }
        let secret63 = Array(repeating: UInt8(ascii: "s"), count: 63)
        assertKeyTableError(.weakSecret, containing: "HS512 needs at least 64") {
            try KeyTable(hmacSecret: secret63, publicKeyPEM: nil, jwksJSON: nil, algorithms: [.HS512])
        }
        assertKeyTableError(.weakSecret, containing: "empty") {
            try KeyTable(hmacSecret: [], publicKeyPEM: nil, jwksJSON: nil, algorithms: [.HS256])
        }
    }

    func testNothingConfigured() {
        assertKeyTableError(.noKeys, containing: "no key is configured") {
            try KeyTable(hmacSecret: nil, publicKeyPEM: nil, jwksJSON: nil, algorithms: [.HS256])
        }
        assertKeyTableError(.noKeys, containing: "no JWT algorithm") {
            try KeyTable(hmacSecret: TokenTestKeys.secret, publicKeyPEM: nil, jwksJSON: nil, algorithms: [])
        }
    }

    func testEveryConfiguredAlgorithmNeedsAKeyWithoutJWKS() {
        assertKeyTableError(.algorithmMismatch, containing: "no configured key can verify HS256") {
            try KeyTable(hmacSecret: nil, publicKeyPEM: TokenTestKeys.rsaPEM, jwksJSON: nil, algorithms: [.RS256, .HS256])
        }
        assertKeyTableError(.algorithmMismatch, containing: "no configured key can verify ES384") {
            try KeyTable(hmacSecret: nil, publicKeyPEM: TokenTestKeys.p256PEM, jwksJSON: nil, algorithms: [.ES256, .ES384])
        }
    }

    // MARK: PEM

    func testPEMKeysOfEveryTypeLoad() throws {
        let cases: [(String, Set<JWTAlgorithm>, String)] = [
            (TokenTestKeys.rsaPEM, [.RS256, .RS384, .RS512, .PS256, .PS384, .PS512], "2048-bit RSA key"),
            (TokenTestKeys.rsa.publicKey.pkcs1PEMRepresentation, [.RS256], "2048-bit RSA key"),
            (TokenTestKeys.p256PEM, [.ES256], "P-256"),
            (TokenTestKeys.p384PEM, [.ES384], "P-384"),
            (TokenTestKeys.p521PEM, [.ES512], "P-521"),
            (TokenTestKeys.ed25519PEM, [.EdDSA], "Ed25519"),
        ]
        for (pem, algorithms, kind) in cases {
            let table = try KeyTable(hmacSecret: nil, publicKeyPEM: pem, jwksJSON: nil, algorithms: algorithms)
            XCTAssertEqual(table.count, 1)
            XCTAssertTrue(table.keyDescriptions[0].contains(kind), table.keyDescriptions[0])
        }
    }

    func testPEMProblemsAreNamed() throws {
        assertKeyTableError(.invalidPEM, containing: "public key PEM is not an RSA, EC") {
            try KeyTable(hmacSecret: nil, publicKeyPEM: "hello", jwksJSON: nil, algorithms: [.RS256])
        }
        let privatePEM = TokenTestKeys.p256.pemRepresentation
        assertKeyTableError(.invalidPEM, containing: "holds a private key") {
            try KeyTable(hmacSecret: nil, publicKeyPEM: privatePEM, jwksJSON: nil, algorithms: [.ES256])
        }
        assertKeyTableError(.algorithmMismatch, containing: "public key PEM is a P-256 key, usable for ES256, but the configured algorithms are RS256") {
            try KeyTable(hmacSecret: nil, publicKeyPEM: TokenTestKeys.p256PEM, jwksJSON: nil, algorithms: [.RS256])
        }
        let small = try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024)).publicKey.pemRepresentation
        assertKeyTableError(.weakRSAKey, containing: "1024-bit RSA key; at least 2048") {
            try KeyTable(hmacSecret: nil, publicKeyPEM: small, jwksJSON: nil, algorithms: [.RS256])
        }
    }

    // MARK: JWKS

    func jwks(_ keys: String) -> String { #"{"keys":[\#(keys)]}"# }

    func testJWKSProblemsNameTheKey() throws {
        let x = Base64URL.encode(TokenTestKeys.ed25519.publicKey.rawRepresentation)
        let ed = #"{"kty":"OKP","crv":"Ed25519","x":"\#(x)"}"#
        let expectations: [(String, KeyTableError.Code, String)] = [
            ("not json", .invalidJWKS, "JWKS is not valid JSON"),
            (#"{"keys":{}}"#, .invalidJWKS, #"an object with a "keys" array"#),
            (#"[]"#, .invalidJWKS, #"an object with a "keys" array"#),
            (jwks(ed + #",{"kty":"foo","kid":"x"}"#), .invalidJWKS, #"JWKS key #2 (kid "x"): unsupported kty "foo""#),
            (jwks(#"{"kid":"nokty"}"#), .invalidJWKS, #"JWKS key #1 (kid "nokty"): missing "kty""#),
            (jwks(#"{"kty":"RSA","n":"AQAB"}"#), .invalidJWKS, #"JWKS key #1: missing "e""#),
            (jwks(#"{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}"#), .invalidJWKS, #"must be 32 bytes for P-256"#),
            (jwks(#"{"kty":"EC","crv":"secp256k1","x":"AAAA","y":"AAAA"}"#), .invalidJWKS, #"unsupported EC curve "secp256k1""#),
            (jwks(#"{"kty":"OKP","crv":"X25519","x":"\#(x)"}"#), .invalidJWKS, #"unsupported OKP curve "X25519""#),
            (jwks(#"{"kty":"OKP","crv":"Ed25519","x":"\#(x)","alg":"ES256"}"#), .invalidJWKS, "alg ES256 cannot be used with an Ed25519 key"),
            (jwks(#"{"kty":"OKP","crv":"Ed25519","x":"\#(x)","alg":"XYZ"}"#), .invalidJWKS, #"unsupported alg "XYZ""#),
            (jwks(#"{"kty":"OKP","crv":"Ed25519","x":"\#(x)","d":"AAAA"}"#), .invalidJWKS, #"holds private key member "d""#),
            (jwks(#"{"kty":"OKP","crv":"Ed25519","x":"\#(x)=="}"#), .invalidJWKS, #""x" is not unpadded base64url"#),
            (jwks(#"{"kty":"OKP","crv":"Ed25519","x":"\#(x)","use":"wrap"}"#), .invalidJWKS, #"unsupported use "wrap""#),
            (jwks(#"{"kty":"OKP","crv":"Ed25519","x":"\#(x)","kid":7}"#), .invalidJWKS, #""kid" must be a string"#),
            (jwks(ed + "," + ed.replacingOccurrences(of: "OKP", with: "oct")), .invalidJWKS, #"JWKS key #2: missing "k""#),
            (jwks(#"{"kty":"oct","k":"c2hvcnQ"}"#), .weakSecret, "JWKS key #1 is 5 bytes; HS256 needs at least 32"),
            (jwks(#"{"kty":"OKP","crv":"Ed25519","x":"\#(x)","use":"enc"}"#), .invalidJWKS, "JWKS has no signing key usable"),
            (jwks(#"{"kty":"OKP","kty":"OKP"}"#), .invalidJWKS, "duplicate member name"),
        ]
        for (json, code, fragment) in expectations {
            assertKeyTableError(code, containing: fragment) {
                try KeyTable(hmacSecret: nil, publicKeyPEM: nil, jwksJSON: json, algorithms: [.HS256, .EdDSA])
            }
        }
    }

    func testSmallRSAJWKIsRefused() throws {
        let primitives = try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024)).publicKey.getKeyPrimitives()
        let json = jwks(#"{"kty":"RSA","kid":"old","n":"\#(Base64URL.encode(primitives.modulus))","e":"\#(Base64URL.encode(primitives.publicExponent))"}"#)
        assertKeyTableError(.weakRSAKey, containing: #"JWKS key #1 (kid "old"): 1024-bit RSA key"#) {
            try KeyTable(hmacSecret: nil, publicKeyPEM: nil, jwksJSON: json, algorithms: [.RS256])
        }
    }

    func testJWKSSkipsKeysItCannotUse() throws {
        let x = Base64URL.encode(TokenTestKeys.ed25519.publicKey.rawRepresentation)
        let raw = Array(TokenTestKeys.p256.publicKey.rawRepresentation)
        let json = jwks([
            #"{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"\#(x)"}"#,
            #"{"kty":"EC","crv":"P-256","kid":"enc","use":"enc","x":"\#(Base64URL.encode(raw[..<32]))","y":"\#(Base64URL.encode(raw[32...]))"}"#,
            #"{"kty":"EC","crv":"P-256","kid":"ops","key_ops":["sign"],"x":"\#(Base64URL.encode(raw[..<32]))","y":"\#(Base64URL.encode(raw[32...]))"}"#,
            #"{"kty":"EC","crv":"P-256","kid":"ok","key_ops":["verify"],"x":"\#(Base64URL.encode(raw[..<32]))","y":"\#(Base64URL.encode(raw[32...]))"}"#,
        ].joined(separator: ","))
        // Only ES256 configured: the Ed25519 key is not usable, "enc" and "ops" are not for verifying.
        let table = try KeyTable(hmacSecret: nil, publicKeyPEM: nil, jwksJSON: json, algorithms: [.ES256])
        XCTAssertEqual(table.keyDescriptions, [#"key kid "ok": a P-256 key for ES256"#])
    }

    func testDescriptionsNeverShowSecrets() throws {
        let table = try KeyTable(hmacSecret: TokenTestKeys.secret, publicKeyPEM: TokenTestKeys.rsaPEM, jwksJSON: nil, algorithms: [.HS256, .RS256])
        XCTAssertEqual(table.keyDescriptions, ["key: an HMAC secret for HS256", "key: a 2048-bit RSA key for RS256"])
        let weak = Array("short-but-secret".utf8)
        do {
            _ = try KeyTable(hmacSecret: weak, publicKeyPEM: nil, jwksJSON: nil, algorithms: [.HS256])
        } catch {
            XCTAssertFalse(error.message.contains("short-but-secret"))
        }
    }
}
