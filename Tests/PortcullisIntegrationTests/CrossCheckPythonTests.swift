import Foundation
import PortcullisCore
import XCTest

/// Our verifier against tokens minted by PyJWT and AuthX (`scripts/crosscheck/mint_tokens.py`):
/// every valid token is accepted with the claims PyJWT reads from it, and every
/// tampered, wrongly keyed, expired or premature one is refused with the code the script names.
///
/// The packages come from the pinned venv of `PythonVenv`.
final class CrossCheckPythonTests: XCTestCase {
    func testPyJWTAndAuthXTokensVerifyWithTheSameClaims() throws {
        let document = try Self.mintedTokens()
        XCTAssertGreaterThanOrEqual(document.valid.count, 3000)
        let verifiers = try Self.verifiers(document.keys)
        var perAlgorithm = [String: Int]()
        var mismatches = [String]()

        for (index, minted) in document.valid.enumerated() {
            let label = "valid #\(index) (\(minted.source) \(minted.alg), key \(minted.key)) \(minted.token)"
            guard let verifier = verifiers[minted.key], let claims = minted.claims else {
                XCTFail("\(label): no key table named \(minted.key), or no claims")
                continue
            }
            let verified: VerifiedToken
            do {
                verified = try verifier.verify(Substring(minted.token), now: document.now)
            } catch {
                mismatches.append("\(label): refused with \(error)")
                continue
            }
            perAlgorithm[minted.alg, default: 0] += 1
            XCTAssertEqual(verified.algorithm.rawValue, minted.alg, label)
            let expected = claims.tokenClaims
            if verified.claims.comparable != expected {
                mismatches.append("\(label):\n  ours   \(verified.claims.comparable)\n  PyJWT  \(expected)")
            }
        }
        XCTAssert(mismatches.isEmpty, "\(mismatches.count) of \(document.valid.count) differ:\n" + mismatches.prefix(20).joined(separator: "\n"))
        // Several hundred per family: HS, RS, PS, ES, EdDSA.
        for family in ["HS", "RS", "PS", "ES", "Ed"] {
            let accepted = perAlgorithm.filter { $0.key.hasPrefix(family) }.values.reduce(0, +)
            XCTAssertGreaterThanOrEqual(accepted, 200, "\(family) tokens accepted")
        }
    }

    func testRefusalsAgreeWithTheMintersIntent() throws {
        let document = try Self.mintedTokens()
        XCTAssertGreaterThanOrEqual(document.invalid.count, 300)
        let verifiers = try Self.verifiers(document.keys)
        var wrong = [String]()
        for (index, minted) in document.invalid.enumerated() {
            let label = "invalid #\(index) (\(minted.alg), key \(minted.key), \(minted.why ?? "")) \(minted.token)"
            guard let verifier = verifiers[minted.key], let expected = TokenError.Code(rawValue: minted.expect ?? "") else {
                XCTFail("\(label): unknown key table or code \(minted.expect ?? "nil")")
                continue
            }
            do {
                let verified = try verifier.verify(Substring(minted.token), now: document.now)
                wrong.append("\(label): accepted, claims \(verified.claims)")
            } catch {
                if error.code != expected { wrong.append("\(label): \(error), expected \(expected)") }
            }
        }
        XCTAssert(wrong.isEmpty, "\(wrong.count) of \(document.invalid.count) wrong:\n" + wrong.prefix(20).joined(separator: "\n"))
    }

    // MARK: - The minted document

    struct Document: Decodable {
        let now: Double
        let keys: [String: Key]
        let valid: [Minted]
        let invalid: [Minted]
    }

    struct Key: Decodable {
        let secret: String?
        let pem: String?
        let jwks: String?
    }

    struct Minted: Decodable {
        let source: String
        let key: String
        let alg: String
        let token: String
        /// Only for valid tokens.
        let claims: PyJWTClaims?
        let expect: String?
        let why: String?
    }

    /// The registered and AuthX claims as PyJWT decoded them; other members are ignored.
    struct PyJWTClaims: Decodable {
        let sub, jti, iss, type, csrf: String?
        let exp, nbf, iat: Double?
        let fresh: Bool?
        let aud: [String]

        enum CodingKeys: String, CodingKey { case sub, jti, iss, type, csrf, exp, nbf, iat, fresh, aud }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            sub = try container.decodeIfPresent(String.self, forKey: .sub)
            jti = try container.decodeIfPresent(String.self, forKey: .jti)
            iss = try container.decodeIfPresent(String.self, forKey: .iss)
            type = try container.decodeIfPresent(String.self, forKey: .type)
            csrf = try container.decodeIfPresent(String.self, forKey: .csrf)
            exp = try container.decodeIfPresent(Double.self, forKey: .exp)
            nbf = try container.decodeIfPresent(Double.self, forKey: .nbf)
            iat = try container.decodeIfPresent(Double.self, forKey: .iat)
            fresh = try container.decodeIfPresent(Bool.self, forKey: .fresh)
            if let single = try? container.decodeIfPresent(String.self, forKey: .aud) {
                aud = [single]
            } else {
                aud = try container.decodeIfPresent([String].self, forKey: .aud) ?? []
            }
        }

        var tokenClaims: TokenClaims {
            TokenClaims(jti: jti, sub: sub, iss: iss, aud: aud, exp: exp, nbf: nbf, iat: iat, type: type, csrf: csrf, fresh: fresh)
        }
    }

    /// One verifier per key the script wrote, allowing exactly the algorithms that key can verify.
    static func verifiers(_ keys: [String: Key]) throws -> [String: TokenVerifier] {
        let rsa: Set<PortcullisCore.JWTAlgorithm> = [.RS256, .RS384, .RS512, .PS256, .PS384, .PS512]
        let algorithms: [String: Set<PortcullisCore.JWTAlgorithm>] = [
            "hs": [.HS256, .HS384, .HS512], "rsa": rsa, "p256": [.ES256], "p384": [.ES384], "p521": [.ES512],
            "ed25519": [.EdDSA], "jwks": rsa.union([.ES256, .ES384, .ES512, .EdDSA]),
        ]
        var verifiers = [String: TokenVerifier]()
        for (name, key) in keys {
            let allowed = try XCTUnwrap(algorithms[name], "unexpected key \(name)")
            let table = try KeyTable(
                hmacSecret: key.secret.map { Array($0.utf8) }, publicKeyPEM: key.pem, jwksJSON: key.jwks, algorithms: allowed
            )
            verifiers[name] = TokenVerifier(keys: table, policy: TokenPolicy(algorithms: allowed, requiredType: .any))
        }
        return verifiers
    }

    // MARK: - Running the script

    static let repositoryRoot = PythonVenv.repositoryRoot

    /// Minted once per test process: both tests read the same tokens.
    nonisolated(unsafe) private static var minted: Result<Document, any Error>?
    private static let lock = NSLock()

    static func mintedTokens() throws -> Document {
        lock.lock()
        defer { lock.unlock() }
        if let minted { return try minted.get() }
        let result = Result { try mint() }
        minted = result
        return try result.get()
    }

    private static func mint() throws -> Document {
        let python = try PythonVenv.python()
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-crosscheck-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: output) }
        let script = repositoryRoot.appendingPathComponent("scripts/crosscheck/mint_tokens.py").path
        try PythonVenv.run(python, [script, output.path], what: "mint_tokens.py")
        return try JSONDecoder().decode(Document.self, from: Data(contentsOf: output))
    }
}

extension TokenClaims {
    /// The claims both implementations read; `captured` is ours alone.
    fileprivate var comparable: TokenClaims {
        var copy = self
        copy.captured = []
        return copy
    }
}
