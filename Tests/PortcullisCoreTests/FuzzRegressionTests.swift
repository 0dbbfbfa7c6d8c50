import Foundation
import XCTest

@testable import PortcullisCore

/// Every input the fuzzer kept (`FuzzTesting/Crashers/`, written by `make fuzz`) and
/// every seed (`FuzzTesting/Corpus/`) goes through the verifier the fuzz target
/// uses: same keys (`FuzzTesting/Keys/`), all algorithms. A crash here is a crash
/// the fuzzer once found; a refusal or an acceptance are both fine.
///
/// The HTTP/1 wire target's inputs (`FuzzTesting/HTTP1Corpus/`, `FuzzTesting/HTTP1Crashers/`)
/// are replayed by `HTTP1FuzzRegressionTests` in PortcullisProxyTests, which can see the parsers.
final class FuzzRegressionTests: XCTestCase {
    static let fuzzTesting = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("FuzzTesting")

    func testKeptFuzzInputsDoNotCrashTheVerifier() throws {
        let verifier = try Self.fuzzVerifier()
        var inputs = 0
        for folder in ["Crashers", "Corpus"] {
            let directory = Self.fuzzTesting.appendingPathComponent(folder)
            let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
            for name in names where !name.hasPrefix(".") {
                let bytes = try Data(contentsOf: directory.appendingPathComponent(name))
                // The same calls as the fuzz target, so a kept crasher replays exactly.
                let text = String(decoding: bytes, as: UTF8.self)
                _ = try? verifier.verify(Substring(text), now: 1_700_000_000)
                let framed = "Bearer " + text + " "
                let token = framed.dropFirst(7).dropLast()
                _ = try? verifier.verify(token, now: 1_700_000_000)
                _ = try? verifier.verifySignature(token)
                inputs += 1
            }
        }
        XCTAssertGreaterThan(inputs, 0, "no inputs under \(Self.fuzzTesting.path)")
    }

    /// The hand-made hostile tokens are refused for the stated reason, not just survived.
    func testHandMadeHostileInputsAreRefused() throws {
        let verifier = try Self.fuzzVerifier()
        let crashers = Self.fuzzTesting.appendingPathComponent("Crashers")
        let deep = try String(contentsOf: crashers.appendingPathComponent("handmade-deep-header"), encoding: .utf8)
        XCTAssertThrowsError(try verifier.verify(Substring(deep), now: 1_700_000_000)) { error in
            XCTAssertEqual((error as? TokenError)?.code, .malformed)
        }
        let hostile = try String(contentsOf: crashers.appendingPathComponent("handmade-signed-hostile-payload"), encoding: .utf8)
        XCTAssertThrowsError(try verifier.verify(Substring(hostile), now: 1_700_000_000)) { error in
            XCTAssertEqual((error as? TokenError)?.code, .malformed, "\(error)")
        }
    }

    static func fuzzVerifier() throws -> TokenVerifier {
        let keys = fuzzTesting.appendingPathComponent("Keys")
        let secret = try Data(contentsOf: keys.appendingPathComponent("hmac-secret.txt"))
        let pem = try String(contentsOf: keys.appendingPathComponent("p256.pem"), encoding: .utf8)
        let jwks = try String(contentsOf: keys.appendingPathComponent("jwks.json"), encoding: .utf8)
        let all = Set(JWTAlgorithm.allCases)
        let table = try KeyTable(hmacSecret: Array(secret), publicKeyPEM: pem, jwksJSON: jwks, algorithms: all)
        return TokenVerifier(keys: table, policy: TokenPolicy(algorithms: all, requiredType: .any, capturedClaims: ["role", "tenant"]))
    }
}
