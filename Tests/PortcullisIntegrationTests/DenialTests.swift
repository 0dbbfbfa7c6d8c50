import Crypto
import Foundation
import XCTest

/// Each denial of INTERFACE §3 that the gate produces, with its exact status, JSON body and
/// WWW-Authenticate header, one fixture token per case.
final class DenialTests: XCTestCase {
    private func assertDenial(_ response: RawHTTPClient.Response, status: Int, message: String, type: String,
                              wwwAuthenticate: String?, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(response.status, status, file: file, line: line)
        XCTAssertEqual(response.header("content-type"), "application/json", file: file, line: line)
        XCTAssertEqual(response.json["message"] as? String, message, file: file, line: line)
        XCTAssertEqual(response.json["error_type"] as? String, type, file: file, line: line)
        XCTAssertEqual(response.json.count, 2, "exactly message and error_type", file: file, line: line)
        XCTAssertEqual(response.header("www-authenticate"), wwwAuthenticate, file: file, line: line)
    }

    /// Signs arbitrary header/payload JSON with the harness secret.
    private func sign(header: String, payload: String, secret: String = GatewayHarness.secret) -> String {
        func b64(_ data: Data) -> String {
            data.base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        let input = b64(Data(header.utf8)) + "." + b64(Data(payload.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return input + "." + b64(Data(mac))
    }

    func testAuthXDenials() async throws {
        let h = try await GatewayHarness()
        let client = try h.client()
        let now = Int(Date().timeIntervalSince1970)
        func get(_ token: String?) throws -> RawHTTPClient.Response {
            try client.request("GET", "/private", headers: token.map { [("Authorization", "Bearer \($0)")] } ?? [])
        }
        let invalid = #"Bearer error="invalid_token""#

        // No Authorization header at all.
        assertDenial(try get(nil), status: 401, message: "Token Error", type: "MissingTokenError", wwwAuthenticate: "Bearer")
        // A Basic credential is not a bearer token.
        assertDenial(try client.request("GET", "/", headers: [("Authorization", "Basic YTpi")]),
                     status: 401, message: "Token Error", type: "MissingTokenError", wwwAuthenticate: "Bearer")
        // Not a JWT.
        assertDenial(try get("not-a-jwt"), status: 422, message: "Invalid Token", type: "JWTDecodeError", wwwAuthenticate: nil)
        // alg none, empty signature.
        assertDenial(try get("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSJ9."),
                     status: 422, message: "Invalid Token", type: "JWTDecodeError", wwwAuthenticate: nil)
        // HS512 is not in jwt.algorithms (default [HS256]).
        assertDenial(try get(sign(header: #"{"alg":"HS512","typ":"JWT"}"#, payload: #"{"sub":"alice"}"#)),
                     status: 422, message: "Invalid Token", type: "JWTDecodeError", wwwAuthenticate: nil)
        // Signed with another secret.
        assertDenial(try get(sign(header: #"{"alg":"HS256"}"#, payload: #"{"sub":"alice","exp":\#(now + 60)}"#,
                                  secret: "another-secret-of-sufficient-length-0123")),
                     status: 422, message: "Signature verification failed", type: "TokenInvalidSignatureError", wwwAuthenticate: nil)
        // exp one minute ago.
        assertDenial(try get(h.token(ttl: 60, now: Double(now - 120))),
                     status: 422, message: "Token has expired", type: "TokenExpiredError", wwwAuthenticate: nil)
        // nbf an hour ahead.
        assertDenial(try get(sign(header: #"{"alg":"HS256"}"#, payload: #"{"sub":"alice","nbf":\#(now + 3600),"exp":\#(now + 7200)}"#)),
                     status: 422, message: "Invalid Token", type: "JWTDecodeError", wwwAuthenticate: nil)
        // A refresh token where access tokens are required.
        assertDenial(try get(h.token(type: "refresh")),
                     status: 401, message: "Access token required", type: "AccessTokenRequiredError", wwwAuthenticate: invalid)
        await h.stop()
    }

    func testRevokedTokenRejectedOnTheNextRequest() async throws {
        let h = try await GatewayHarness()
        let token = h.token(jti: "jti-to-revoke")
        let client = try h.client()
        XCTAssertEqual(try client.request("GET", "/", headers: [("Authorization", "Bearer \(token)")]).status, 200)
        XCTAssertEqual(try h.revoke(jti: "jti-to-revoke").status, 201)
        assertDenial(try client.request("GET", "/", headers: [("Authorization", "Bearer \(token)")]),
                     status: 401, message: "Invalid token", type: "RevokedTokenError",
                     wwwAuthenticate: #"Bearer error="invalid_token""#)
        // The exact bytes AuthX clients parse.
        let raw = try client.request("GET", "/", headers: [("Authorization", "Bearer \(token)")])
        XCTAssertEqual(raw.bodyText, #"{"message": "Invalid token", "error_type": "RevokedTokenError"}"#)
        // Other tokens of the same user still pass.
        XCTAssertEqual(try client.request("GET", "/", headers: [("Authorization", "Bearer \(h.token())")]).status, 200)
        await h.stop()
    }

    func testRFC6750Format() async throws {
        let h = try await GatewayHarness(environment: ["PORTCULLIS_ERRORS_FORMAT": "rfc6750"])
        let client = try h.client()
        assertDenial(try client.request("GET", "/"), status: 401, message: "Token Error", type: "MissingTokenError",
                     wwwAuthenticate: "Bearer")
        assertDenial(try client.request("GET", "/", headers: [("Authorization", "Bearer \(h.token(ttl: 1, now: 1000))")]),
                     status: 401, message: "Token has expired", type: "TokenExpiredError",
                     wwwAuthenticate: #"Bearer error="invalid_token", error_description="Token has expired""#)
        await h.stop()
    }

    func testDenialKeepsTheConnection() async throws {
        let h = try await GatewayHarness()
        let client = try h.client()
        XCTAssertEqual(try client.request("POST", "/", body: "small body").status, 401)
        XCTAssertEqual(try client.request("GET", "/", headers: [("Authorization", "Bearer \(h.token())")]).status, 200)
        XCTAssertEqual(h.upstream.requestsSeen, 1, "the denied request never reached the upstream")
        await h.stop()
    }
}
