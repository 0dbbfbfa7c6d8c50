import Foundation
import XCTest
@testable import PortcullisCore

/// `jwt.secret_file` is an HMAC key, and an HMAC key is bytes (RFC 7518 §3.2): the file is read
/// as it is, one trailing newline dropped, whether or not it is UTF-8 text.
final class SecretFileBytesTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-secret-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Loads a configuration whose `jwt.secret_file` holds `bytes`, through the real file reader.
    private func load(keyFile bytes: [UInt8], algorithms: String = "[HS256]") throws -> Configuration {
        let path = directory.appendingPathComponent("jwt-secret").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        let yaml = """
            proxy: {upstream: "http://127.0.0.1:9"}
            jwt: {algorithms: \(algorithms), secret_file: "\(path)"}
            """
        return try ConfigurationLoader.load(yaml: yaml, environment: [:])
    }

    private func decide(_ gate: Gate, _ token: String, now: Double) -> Gate.Decision {
        gate.decide(method: "GET", target: RequestTarget("/"),
                    headers: GateTests.Headers(pairs: [("Authorization", "Bearer \(token)")]), now: now)
    }

    /// 32 bytes as `head -c 32 /dev/urandom` makes them: here fixed, with bytes that are not UTF-8
    /// (0xFF, 0xC0, a lone continuation byte) and a NUL.
    static let binaryKey: [UInt8] = [
        0xFF, 0xC0, 0x80, 0x00, 0x9A, 0x3B, 0xE2, 0x28, 0xA1, 0x07, 0xFE, 0x5D, 0x11, 0xC3, 0x28, 0x90,
        0x6F, 0xD8, 0x00, 0xB4, 0x42, 0xED, 0xA0, 0x80, 0x13, 0x77, 0xF0, 0x28, 0x8C, 0xBC, 0x01, 0x99,
    ]

    func testABinaryKeyFileIsReadAsBytes() throws {
        XCTAssertNil(String(validating: Self.binaryKey, as: UTF8.self), "the fixture must not be UTF-8")
        let configuration = try load(keyFile: Self.binaryKey + [0x0A])
        XCTAssertEqual(configuration.jwt.secretBytes, Self.binaryKey, "one trailing newline dropped, nothing else")
        XCTAssertNil(configuration.jwt.secret, "no text form of a binary key")
        XCTAssertTrue(configuration.renderedYAML().contains("secret: null  # read from jwt.secret_file"))

        let gate = try Gate(configuration: configuration)
        let now = 1_700_000_000.0
        // {"sub":"alice","jti":"j1","exp":now+600}, HS256 with the binary key.
        let token = TokenTestSigner.token(.HS256, payload: #"{"sub":"alice","jti":"j1","exp":\#(Int(now) + 600)}"#,
                                          secret: Self.binaryKey)
        guard case .checkRevocation(let verified, _) = decide(gate, token, now: now) else {
            return XCTFail("a token signed with the binary key must verify")
        }
        XCTAssertEqual(verified.claims.sub, "alice")
        // The same claims signed with the key's bytes read as text (U+FFFD for each bad byte) fail.
        let lossy = Array(String(decoding: Self.binaryKey, as: UTF8.self).utf8)
        let wrong = TokenTestSigner.token(.HS256, payload: #"{"sub":"alice","exp":\#(Int(now) + 600)}"#, secret: lossy)
        guard case .deny(.badSignature) = decide(gate, wrong, now: now) else { return XCTFail() }

        // `portcullis mint` signs with the same bytes.
        let minted = try TokenMinter(algorithm: .HS256, secret: try XCTUnwrap(configuration.jwt.secretBytes))
            .mint(.init(subject: "bob", ttlSeconds: 60), issuer: nil, audience: [], now: now)
        guard case .checkRevocation = decide(gate, minted, now: now) else { return XCTFail() }
    }

    func testBinaryKeysAreMeasuredInBytes() throws {
        do {
            _ = try load(keyFile: Array(Self.binaryKey.prefix(31)))
            XCTFail("a 31-byte key loaded for HS256")
        } catch let error as ConfigurationError {
            XCTAssertEqual(error.problems.map(\.reason),
                           ["HMAC keys shorter than the hash output are refused: HS256 needs at least 32 bytes, this key has 31"])
        }
        XCTAssertEqual(try load(keyFile: Self.binaryKey + [0x0D, 0x0A]).jwt.secretBytes, Self.binaryKey)
        XCTAssertEqual(try load(keyFile: Self.binaryKey + [0x0A, 0x0A]).jwt.secretBytes, Self.binaryKey + [0x0A])
    }

    /// RFC 7515 Appendix A.1: the example HS256 JWS and its 64-byte key (the JWK's `k`), which is
    /// not UTF-8 either.
    func testRFC7515AppendixA1() throws {
        let k = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
        let key = try XCTUnwrap(Base64URL.decode(k))
        XCTAssertEqual(key.count, 64)
        XCTAssertNil(String(validating: key, as: UTF8.self))
        // Header {"typ":"JWT",\r\n "alg":"HS256"}; payload {"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}.
        let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
            + ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
            + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        let gate = try Gate(configuration: try load(keyFile: key))
        guard case .checkRevocation(let verified, _) = decide(gate, token, now: 1_300_819_000) else {
            return XCTFail("RFC 7515 A.1 must verify with its key")
        }
        XCTAssertEqual(verified.claims.iss, "joe")
        XCTAssertEqual(verified.claims.exp, 1_300_819_380)
        guard case .deny(.expired) = decide(gate, token, now: 1_300_819_380) else { return XCTFail("exp is honoured") }
        // One flipped signature bit is refused.
        let tampered = token.replacingOccurrences(of: ".dBjft", with: ".eBjft")
        guard case .deny(.badSignature) = decide(gate, tampered, now: 1_300_819_000) else { return XCTFail() }
    }

    func testAnAdminTokenFileMustBeText() throws {
        let path = directory.appendingPathComponent("admin-token").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(Self.binaryKey)))
        let yaml = """
            proxy: {upstream: "http://127.0.0.1:9"}
            jwt: {secret: "0123456789abcdef0123456789abcdef"}
            admin: {token_file: "\(path)"}
            """
        XCTAssertThrowsError(try ConfigurationLoader.load(yaml: yaml, environment: [:])) { error in
            XCTAssertEqual((error as? ConfigurationError)?.problems.map(\.description),
                           [#"admin.token_file = "\#(path)": the file is not UTF-8 text"#])
        }
    }
}
