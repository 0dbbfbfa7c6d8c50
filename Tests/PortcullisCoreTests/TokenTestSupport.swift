import Crypto
import Foundation
import XCTest
import _CryptoExtras

@testable import PortcullisCore

/// Keys generated once per test run with swift-crypto.
enum TokenTestKeys {
    /// 64 bytes: long enough for HS512, so one secret serves all HS algorithms.
    static let secret: [UInt8] = Array("portcullis-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz-ABCD".utf8)
    // A key generator that fails would fail every test anyway; `try!` is test-only.
    static let rsa = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let otherRSA = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let p256 = P256.Signing.PrivateKey()
    static let otherP256 = P256.Signing.PrivateKey()
    static let p384 = P384.Signing.PrivateKey()
    static let p521 = P521.Signing.PrivateKey()
    static let ed25519 = Curve25519.Signing.PrivateKey()

    static var rsaPEM: String { rsa.publicKey.pemRepresentation }
    static var p256PEM: String { p256.publicKey.pemRepresentation }
    static var p384PEM: String { p384.publicKey.pemRepresentation }
    static var p521PEM: String { p521.publicKey.pemRepresentation }
    /// SubjectPublicKeyInfo built by hand (RFC 8410 §4), as `openssl pkey -pubout` writes it.
    static var ed25519PEM: String {
        let der: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]
            + Array(ed25519.publicKey.rawRepresentation)
        return "-----BEGIN PUBLIC KEY-----\n\(Data(der).base64EncodedString())\n-----END PUBLIC KEY-----\n"
    }

    /// The public key PEM that verifies `algorithm` (nil for HS).
    static func pem(for algorithm: JWTAlgorithm) -> String? {
        switch algorithm {
        case .HS256, .HS384, .HS512: nil
        case .RS256, .RS384, .RS512, .PS256, .PS384, .PS512: rsaPEM
        case .ES256: p256PEM
        case .ES384: p384PEM
        case .ES512: p521PEM
        case .EdDSA: ed25519PEM
        }
    }
}

/// A deliberately small JWS signer for fixtures. Header and payload are
/// given as JSON text, so each test shows exactly the bytes that are signed
/// (including malformed JSON the verifier must refuse).
enum TokenTestSigner {
    static func token(_ algorithm: JWTAlgorithm, header: String? = nil, payload: String, secret: [UInt8] = TokenTestKeys.secret) -> String {
        let headerJSON = header ?? #"{"alg":"\#(algorithm.rawValue)","typ":"JWT"}"#
        let signingInput = b64(headerJSON) + "." + b64(payload)
        return signingInput + "." + Base64URL.encode(signature(algorithm, Data(signingInput.utf8), secret: secret))
    }

    /// A token whose parts are given verbatim, for malformed compact forms.
    static func raw(header: String, payload: String, signature: String) -> String {
        b64(header) + "." + b64(payload) + "." + signature
    }

    static func b64(_ json: String) -> String { Base64URL.encode(Array(json.utf8)) }

    static func signature(_ algorithm: JWTAlgorithm, _ input: Data, secret: [UInt8] = TokenTestKeys.secret) -> [UInt8] {
        let key = SymmetricKey(data: secret)
        do {
            switch algorithm {
            case .HS256: return Array(HMAC<SHA256>.authenticationCode(for: input, using: key))
            case .HS384: return Array(HMAC<SHA384>.authenticationCode(for: input, using: key))
            case .HS512: return Array(HMAC<SHA512>.authenticationCode(for: input, using: key))
            case .RS256: return Array(try TokenTestKeys.rsa.signature(for: SHA256.hash(data: input), padding: .insecurePKCS1v1_5).rawRepresentation)
            case .RS384: return Array(try TokenTestKeys.rsa.signature(for: SHA384.hash(data: input), padding: .insecurePKCS1v1_5).rawRepresentation)
            case .RS512: return Array(try TokenTestKeys.rsa.signature(for: SHA512.hash(data: input), padding: .insecurePKCS1v1_5).rawRepresentation)
            case .PS256: return Array(try TokenTestKeys.rsa.signature(for: SHA256.hash(data: input), padding: .PSS).rawRepresentation)
            case .PS384: return Array(try TokenTestKeys.rsa.signature(for: SHA384.hash(data: input), padding: .PSS).rawRepresentation)
            case .PS512: return Array(try TokenTestKeys.rsa.signature(for: SHA512.hash(data: input), padding: .PSS).rawRepresentation)
            case .ES256: return Array(try TokenTestKeys.p256.signature(for: SHA256.hash(data: input)).rawRepresentation)
            case .ES384: return Array(try TokenTestKeys.p384.signature(for: SHA384.hash(data: input)).rawRepresentation)
            case .ES512: return Array(try TokenTestKeys.p521.signature(for: SHA512.hash(data: input)).rawRepresentation)
            case .EdDSA: return Array(try TokenTestKeys.ed25519.signature(for: input))
            }
        } catch {
            XCTFail("test signer failed: \(error)")
            return []
        }
    }
}

/// A fixed clock: tests pass `now` explicitly and never sleep.
let tokenTestNow: Double = 1_700_000_000

extension XCTestCase {
    /// A verifier over the test keys for `algorithms`, using the secret for HS and the matching PEM otherwise.
    func makeTokenVerifier(
        _ algorithms: Set<JWTAlgorithm>, policy: TokenPolicy? = nil, file: StaticString = #filePath, line: UInt = #line
    ) throws -> TokenVerifier {
        let needsSecret = algorithms.contains { AlgorithmSet.hmac.contains($0) }
        let pems = Set(algorithms.compactMap(TokenTestKeys.pem(for:)))
        XCTAssertLessThanOrEqual(pems.count, 1, "one PEM per verifier", file: file, line: line)
        let keys = try KeyTable(
            hmacSecret: needsSecret ? TokenTestKeys.secret : nil, publicKeyPEM: pems.first, jwksJSON: nil, algorithms: algorithms
        )
        var policy = policy ?? TokenPolicy()
        policy.algorithms = algorithms
        return TokenVerifier(keys: keys, policy: policy)
    }

    func assertTokenRejected(
        _ token: String, by verifier: TokenVerifier, at time: Double = tokenTestNow, as code: TokenError.Code,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        do {
            let verified = try verifier.verify(Substring(token), now: time)
            XCTFail("expected \(code), got a verified token for \(verified.claims)", file: file, line: line)
        } catch {
            XCTAssertEqual(error.code, code, "detail: \(error.detail)", file: file, line: line)
            // The detail goes to logs: it must not carry the token or its parts.
            for part in token.split(separator: ".") where part.count > 8 {
                XCTAssertFalse(error.detail.contains(part), "detail leaks token text: \(error.detail)", file: file, line: line)
            }
        }
    }

    func assertTokenAccepted(
        _ token: String, by verifier: TokenVerifier, at time: Double = tokenTestNow, file: StaticString = #filePath, line: UInt = #line
    ) -> VerifiedToken? {
        do {
            return try verifier.verify(Substring(token), now: time)
        } catch {
            XCTFail("expected acceptance, got \(error)", file: file, line: line)
            return nil
        }
    }
}

/// Deterministic randomness (SplitMix64) for the core tests, so a failing case reproduces.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    /// SplitMix64.
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
