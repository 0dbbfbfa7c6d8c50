// libFuzzer entry point: every input is a token for `TokenVerifier.verify`.
// Built with -parse-as-library, so this file has no top-level code.
import CLibFuzzer
import Foundation
import PortcullisCore

/// Every algorithm allowed, and a key for each kind of lookup: the lone HS secret,
/// a P-256 PEM without `kid`, and a JWKS whose keys have `kid`s (EC, OKP, oct).
/// The material lives in `FuzzTesting/Keys/`, shared with `FuzzRegressionTests`.
private let verifier: TokenVerifier = {
    let keys = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Keys")
    do {
        let secret = try Data(contentsOf: keys.appendingPathComponent("hmac-secret.txt"))
        let pem = try String(contentsOf: keys.appendingPathComponent("p256.pem"), encoding: .utf8)
        let jwks = try String(contentsOf: keys.appendingPathComponent("jwks.json"), encoding: .utf8)
        let all = Set(JWTAlgorithm.allCases)
        let table = try KeyTable(hmacSecret: Array(secret), publicKeyPEM: pem, jwksJSON: jwks, algorithms: all)
        return TokenVerifier(keys: table, policy: TokenPolicy(algorithms: all, requiredType: .any, capturedClaims: ["role", "tenant"]))
    } catch {
        fatalError("fuzz key table from \(keys.path): \(error)")
    }
}()

/// SwiftPM on Linux links executables with `--defsym main=FuzzTokenVerifier_main`
/// (its entry point for testable executables), which hides libFuzzer's own `main`.
/// So `main` is this function, and it hands over to libFuzzer's driver.
@_cdecl("FuzzTokenVerifier_main")
public func fuzzTokenVerifierMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { start, count in fuzzTokenVerifier(start, count) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenVerifier(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start, count > 0 else {
        _ = try? verifier.verify("", now: 1_700_000_000)
        return 0
    }
    let bytes = UnsafeBufferPointer(start: start, count: count)
    // As text: invalid UTF-8 becomes U+FFFD, as when a header value is decoded leniently.
    let text = String(decoding: bytes, as: UTF8.self)
    _ = try? verifier.verify(Substring(text), now: 1_700_000_000)
    // As a Substring in the middle of a larger native string, the way the extractor slices `Bearer <token>`.
    let framed = "Bearer " + text + " "
    let token = framed.dropFirst(7).dropLast()
    _ = try? verifier.verify(token, now: 1_700_000_000)
    _ = try? verifier.verifySignature(token)
    return 0
}
