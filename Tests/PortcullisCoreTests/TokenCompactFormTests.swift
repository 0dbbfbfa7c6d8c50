import Foundation
import XCTest

@testable import PortcullisCore

/// The compact serialisation and the JOSE header: everything checked before any key is touched.
final class TokenCompactFormTests: XCTestCase {
    let payload = #"{"sub":"alice","exp":1700003600}"#

    func testSegmentCount() throws {
        let verifier = try makeTokenVerifier([.HS256])
        let valid = TokenTestSigner.token(.HS256, payload: payload)
        let parts = valid.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        // Two segments: header.payload with no signature part at all.
        assertTokenRejected(parts[0] + "." + parts[1], by: verifier, as: .malformed)
        // Four segments: a valid token with ".extra" appended.
        assertTokenRejected(valid + ".extra", by: verifier, as: .malformed)
        // Five segments, JWE-shaped.
        assertTokenRejected(valid + ".a.b", by: verifier, as: .malformed)
        // Empty header segment.
        assertTokenRejected("." + parts[1] + "." + parts[2], by: verifier, as: .malformed)
        // Empty payload segment.
        assertTokenRejected(parts[0] + ".." + parts[2], by: verifier, as: .malformed)
        // Empty signature segment on an HS256 header.
        assertTokenRejected(parts[0] + "." + parts[1] + ".", by: verifier, as: .malformed)
        // The empty string, a lone dot pair, and a non-JWT bearer value.
        for text in ["", "..", "not-a-jwt"] {
            assertTokenRejected(text, by: verifier, as: .malformed)
        }
    }

    func testPaddingIsRefused() throws {
        let verifier = try makeTokenVerifier([.HS256])
        // A valid HS256 token with "=" appended to its 43-character signature.
        let valid = TokenTestSigner.token(.HS256, header: #"{"alg":"HS256"}"#, payload: payload)
        assertTokenRejected(valid + "=", by: verifier, as: .malformed)
        // Payload `{"a":1}` (7 bytes → "eyJhIjoxfQ") re-encoded with its "==" padding, correctly signed.
        let headerB64 = TokenTestSigner.b64(#"{"alg":"HS256"}"#)
        let padded = headerB64 + ".eyJhIjoxfQ=="
        let mac = TokenTestSigner.signature(.HS256, Data(padded.utf8))
        assertTokenRejected(padded + "." + Base64URL.encode(mac), by: verifier, as: .malformed)
    }

    func testNonCanonicalBase64IsRefused() throws {
        let verifier = try makeTokenVerifier([.HS256])
        // Payload `{"a":1}` as "eyJhIjoxfR": same bytes as canonical "eyJhIjoxfQ" but with
        // non-zero unused low bits in the last character; correctly MACed over that text.
        let signingInput = TokenTestSigner.b64(#"{"alg":"HS256"}"#) + ".eyJhIjoxfR"
        let mac = TokenTestSigner.signature(.HS256, Data(signingInput.utf8))
        assertTokenRejected(signingInput + "." + Base64URL.encode(mac), by: verifier, as: .malformed)

        // A valid HS256 token whose 43-character signature ends in a character with low bits set
        // (32 bytes leave 2 unused bits in the last character).
        let valid = TokenTestSigner.token(.HS256, payload: payload)
        var signature = Array(valid.split(separator: ".")[2])
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        if let last = signature.last, let value = alphabet.firstIndex(of: last) {
            signature[signature.count - 1] = alphabet[value | 0x01]
        }
        let tampered = valid.split(separator: ".")[0...1].joined(separator: ".") + "." + String(signature)
        assertTokenRejected(tampered, by: verifier, as: .malformed)
    }

    func testImpossibleLengthAndForeignCharactersAreRefused() throws {
        let verifier = try makeTokenVerifier([.HS256])
        let valid = TokenTestSigner.token(.HS256, payload: payload)
        let parts = valid.split(separator: ".").map(String.init)
        // Header with one extra character: length % 4 == 1 decodes to nothing.
        assertTokenRejected(parts[0] + "A." + parts[1] + "." + parts[2], by: verifier, as: .malformed)
        // Standard-alphabet '+' and '/' and whitespace inside the signature.
        for bad in ["+", "/", " ", "\n", "%"] {
            let signature = String(parts[2].dropLast(4)) + bad + String(parts[2].suffix(3))
            assertTokenRejected(parts[0] + "." + parts[1] + "." + signature, by: verifier, as: .malformed)
        }
        // A non-ASCII character in the payload segment.
        assertTokenRejected(parts[0] + ".é" + parts[1] + "." + parts[2], by: verifier, as: .malformed)
    }

    func testHeaderMustBeAnObjectWithAlg() throws {
        let verifier = try makeTokenVerifier([.HS256])
        // Header `["HS256"]` (an array), correctly MACed.
        assertTokenRejected(TokenTestSigner.token(.HS256, header: #"["HS256"]"#, payload: payload), by: verifier, as: .malformed)
        // Header {"typ":"JWT"} with no alg.
        assertTokenRejected(TokenTestSigner.token(.HS256, header: #"{"typ":"JWT"}"#, payload: payload), by: verifier, as: .malformed)
        // Header {"alg":256}: alg is not a string.
        assertTokenRejected(TokenTestSigner.token(.HS256, header: #"{"alg":256}"#, payload: payload), by: verifier, as: .malformed)
        // Header {"alg":"HS256","kid":7}: kid is not a string.
        assertTokenRejected(TokenTestSigner.token(.HS256, header: #"{"alg":"HS256","kid":7}"#, payload: payload), by: verifier, as: .malformed)
        // Header {"alg":"HS256","typ":null}: typ is not a string.
        assertTokenRejected(TokenTestSigner.token(.HS256, header: #"{"alg":"HS256","typ":null}"#, payload: payload), by: verifier, as: .malformed)
        // Header {"alg":"HS256"} followed by "x": trailing garbage.
        assertTokenRejected(TokenTestSigner.token(.HS256, header: #"{"alg":"HS256"}x"#, payload: payload), by: verifier, as: .malformed)
        // Header {"alg":"HS256",}: trailing comma.
        assertTokenRejected(TokenTestSigner.token(.HS256, header: #"{"alg":"HS256",}"#, payload: payload), by: verifier, as: .malformed)
        // Header with whitespace and unknown members is fine: {"typ" : "JWT" , "x5t":"abc", "alg" : "HS256"}.
        let spaced = TokenTestSigner.token(.HS256, header: #" {"typ" : "JWT" , "x5t":"abc", "alg" : "HS256"} "#, payload: payload)
        XCTAssertNotNil(assertTokenAccepted(spaced, by: verifier))
    }

    func testCritIsRefused() throws {
        let verifier = try makeTokenVerifier([.HS256])
        // Header {"alg":"HS256","crit":["exp"],"exp":1}: an extension we do not understand.
        let crit = TokenTestSigner.token(.HS256, header: #"{"alg":"HS256","crit":["exp"],"exp":1}"#, payload: payload)
        assertTokenRejected(crit, by: verifier, as: .malformed)
        // Header {"alg":"HS256","crit":[]}: even an empty list (itself invalid per RFC 7515).
        let empty = TokenTestSigner.token(.HS256, header: #"{"alg":"HS256","crit":[]}"#, payload: payload)
        assertTokenRejected(empty, by: verifier, as: .malformed)
        // Header {"alg":"HS256","b64":false,"crit":["b64"]}: RFC 7797 unencoded payload.
        let b64 = TokenTestSigner.token(.HS256, header: #"{"alg":"HS256","b64":false,"crit":["b64"]}"#, payload: payload)
        assertTokenRejected(b64, by: verifier, as: .malformed)
    }

    func testDuplicateHeaderMembersAreRefused() throws {
        let verifier = try makeTokenVerifier([.HS256])
        // Header {"alg":"HS256","alg":"none"}: a parser keeping the last would see "none".
        let twice = TokenTestSigner.token(.HS256, header: #"{"alg":"HS256","alg":"none"}"#, payload: payload)
        assertTokenRejected(twice, by: verifier, as: .malformed)
        // Header {"alg":"HS256","\u0061lg":"HS256"}: the same name once escaped.
        let escaped = TokenTestSigner.token(.HS256, header: #"{"alg":"HS256","\u0061lg":"HS256"}"#, payload: payload)
        assertTokenRejected(escaped, by: verifier, as: .malformed)
        // Header {"alg":"HS256","typ":"JWT","typ":"JWT"}: duplicates of members we ignore count too.
        let typ = TokenTestSigner.token(.HS256, header: #"{"alg":"HS256","typ":"JWT","typ":"JWT"}"#, payload: payload)
        assertTokenRejected(typ, by: verifier, as: .malformed)
    }

    func testHeaderMemberCountIsCapped() throws {
        let verifier = try makeTokenVerifier([.HS256])
        // Header {"alg":"HS256","m0":0,...,"m31":0}: 33 members, one over the cap.
        let members = (0..<32).map { #""m\#($0)":0"# }.joined(separator: ",")
        let header = #"{"alg":"HS256","# + members + "}"
        assertTokenRejected(TokenTestSigner.token(.HS256, header: header, payload: payload), by: verifier, as: .malformed)
        // 32 members is fine.
        let fewer = #"{"alg":"HS256","# + (0..<31).map { #""m\#($0)":0"# }.joined(separator: ",") + "}"
        XCTAssertNotNil(assertTokenAccepted(TokenTestSigner.token(.HS256, header: fewer, payload: payload), by: verifier))
    }

    func testEscapedAlgValue() throws {
        // Header {"alg":"HS\u0032\u0035\u0036"}: "HS256" spelled with escapes is HS256.
        let token = TokenTestSigner.token(.HS256, header: #"{"alg":"HS\u0032\u0035\u0036"}"#, payload: payload)
        XCTAssertNotNil(assertTokenAccepted(token, by: try makeTokenVerifier([.HS256])))
    }

    func testParseErrorsComeBeforeAlgorithmChecks() throws {
        // Header {"alg":"none","crit":["x"]} with an empty signature: malformed, not algorithmNotAllowed.
        let token = TokenTestSigner.raw(header: #"{"alg":"none","crit":["x"]}"#, payload: payload, signature: "sig")
        assertTokenRejected(token, by: try makeTokenVerifier([.HS256]), as: .malformed)
        // Header {"alg":"RS256"} (not allowed) with a signature segment that is not base64url ("@@@@"): malformed.
        let badSignature = TokenTestSigner.raw(header: #"{"alg":"RS256"}"#, payload: payload, signature: "@@@@")
        assertTokenRejected(badSignature, by: try makeTokenVerifier([.HS256]), as: .malformed)
    }
}
