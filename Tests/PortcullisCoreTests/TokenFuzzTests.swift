import Foundation
import XCTest

@testable import PortcullisCore

/// Mutated and random input must be refused with a `TokenError`, never crash,
/// and never be accepted unless it is byte-for-byte the original token.
/// Seeds are fixed; a failure prints the input to keep as a regression case.
final class TokenFuzzTests: XCTestCase {
    func testMutatedTokensNeverCrashOrVerify() throws {
        var generator = SeededRandom(seed: 2024)
        let verifier = try makeTokenVerifier([.HS256], policy: TokenPolicy(capturedClaims: ["role"]))
        let seeds = [
            TokenTestSigner.token(.HS256, payload: #"{"sub":"alice","exp":1700003600,"aud":["a","b"],"role":"x"}"#),
            TokenTestSigner.token(.HS256, header: #"{"alg":"HS256","kid":"k\u00e9"}"#, payload: #"{"n":[1,{"a":"\ud83d\ude00"}]}"#),
            PyJWTFixtures.unicodeAudience,
        ]
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \u{0}é".utf8)
        for seed in seeds {
            let original = Array(seed.utf8)
            for _ in 0..<3000 {
                var bytes = original
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    guard !bytes.isEmpty else { break }
                    let index = Int.random(in: 0..<bytes.count, using: &generator)
                    switch Int.random(in: 0..<4, using: &generator) {
                    case 0: bytes[index] = alphabet.randomElement(using: &generator) ?? 0
                    case 1: bytes.remove(at: index)
                    case 2: bytes.insert(alphabet.randomElement(using: &generator) ?? 0, at: index)
                    default: bytes = Array(bytes[..<index])
                    }
                }
                let text = String(decoding: bytes, as: UTF8.self)
                if let verified = try? verifier.verify(Substring(text), now: tokenTestNow) {
                    XCTAssertEqual(text, seed, "mutated token verified: \(text) → \(verified.claims)")
                }
            }
        }
    }

    func testMutatedPayloadsWithValidSignaturesNeverCrash() throws {
        // The payload parser only sees signed input; sign every mutation so it is reached.
        var generator = SeededRandom(seed: 99)
        let verifier = try makeTokenVerifier([.HS256], policy: TokenPolicy(requiredType: .any, capturedClaims: ["x", "sub"]))
        let base = Array(#"{"sub":"a\u00e9","aud":["x","y"],"x":{"y":[1,2.5e3,true,null,"\ud83d\ude00"]},"exp":1700003600.5}"#.utf8)
        let alphabet = Array(#"{}[]":,\u0123456789.eE+-truefalsn "#.utf8) + [0x00, 0x1F, 0x7F, 0xC3, 0xA9, 0xED, 0xA0, 0xF4, 0x90]
        for _ in 0..<3000 {
            var bytes = base
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                if Bool.random(using: &generator) {
                    bytes[index] = alphabet.randomElement(using: &generator) ?? 0
                } else {
                    bytes.insert(alphabet.randomElement(using: &generator) ?? 0, at: index)
                }
            }
            let input = TokenTestSigner.b64(#"{"alg":"HS256"}"#) + "." + Base64URL.encode(bytes)
            let token = input + "." + Base64URL.encode(TokenTestSigner.signature(.HS256, Data(input.utf8)))
            do {
                _ = try verifier.verify(Substring(token), now: tokenTestNow)
            } catch {
                XCTAssertNotEqual(error.code, .badSignature, "\(String(decoding: bytes, as: UTF8.self))")
            }
        }
    }

    func testRandomBytesAsJSON() {
        var generator = SeededRandom(seed: 5)
        for _ in 0..<20000 {
            let bytes = (0..<Int.random(in: 0...24, using: &generator)).map { _ in
                Array(#"{}[]":,\"u0aAdD89.eE-+truefalsnl "#.utf8).randomElement(using: &generator) ?? 0
            }
            _ = try? JSONValue.parse(String(decoding: bytes, as: UTF8.self))
            _ = bytes.withUnsafeBytes { try? ClaimsParser(capturedClaims: ["a"]).parse($0) }
            _ = bytes.withUnsafeBytes { try? JOSEHeader.parse($0) }
        }
    }
}
