import Crypto
import Foundation
import PortcullisCore
import PortcullisGateway
import XCTest

/// `routes` and `proxy.cors_preflight` through the whole gateway: the answers as they go on the
/// wire, the store consulted for refresh tokens, preflights reaching the upstream, reloads.
final class RouteGatewayTests: XCTestCase {
    static let routes = """
        [{"path": "/refresh", "methods": ["POST"], "token_type": "refresh"},
         {"path": "/password", "fresh": true},
         {"path": "/posts/*", "scopes": ["posts:read", "posts:write"]}]
        """

    /// An HS256 token signed with the harness secret; `members` are added to sub, jti and exp.
    private func token(jti: String = UUID().uuidString, _ members: String) -> String {
        func b64(_ data: Data) -> String {
            data.base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        let exp = Int(Date().timeIntervalSince1970) + 600
        let payload = #"{"sub":"alice","jti":"\#(jti)","exp":\#(exp),\#(members)}"#
        let input = b64(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8)) + "." + b64(Data(payload.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(GatewayHarness.secret.utf8)))
        return input + "." + b64(Data(mac))
    }

    private func send(_ h: GatewayHarness, _ method: String, _ path: String, token: String?,
                      headers: [(String, String)] = []) throws -> RawHTTPClient.Response {
        try h.client().request(method, path, headers: (token.map { [("Authorization", "Bearer \($0)")] } ?? []) + headers)
    }

    func testRouteAnswersOnTheWireInBothFormats() async throws {
        for format in ["authx", "rfc6750"] {
            let h = try await GatewayHarness(environment: ["PORTCULLIS_ROUTES": Self.routes, "PORTCULLIS_ERRORS_FORMAT": format])
            let scoped = try send(h, "GET", "/posts/1", token: token(#""type":"access","scopes":["posts:*"]"#))
            XCTAssertEqual(scoped.status, 200, format)
            XCTAssertEqual(scoped.header("x-upstream"), "test")

            let short = try send(h, "GET", "/posts/1", token: token(#""type":"access","scopes":["posts:read","it's"]"#))
            XCTAssertEqual(short.status, 403, format)
            XCTAssertEqual(short.header("content-type"), "application/json")
            XCTAssertEqual(short.bodyText,
                           #"{"message": "Missing required scopes: ['posts:read', 'posts:write']. Provided: ['posts:read', \"it's\"]", "error_type": "InsufficientScopeError"}"#,
                           format)
            XCTAssertEqual(short.header("www-authenticate"), #"Bearer error="insufficient_scope", scope="posts:read posts:write""#)
            XCTAssertEqual(short.header("content-length"), String(short.body.count))

            let stale = try send(h, "POST", "/password", token: token(#""type":"access","fresh":false"#))
            XCTAssertEqual(stale.status, 401, format)
            XCTAssertEqual(stale.json["error_type"] as? String, "FreshTokenRequiredError")
            XCTAssertEqual(stale.json["message"] as? String, "Fresh token required")
            XCTAssertEqual(stale.header("www-authenticate"), format == "authx" ? #"Bearer error="invalid_token""#
                           : #"Bearer error="invalid_token", error_description="Fresh token required""#)
            XCTAssertEqual(try send(h, "POST", "/password", token: token(#""type":"access","fresh":true"#)).status, 200)

            let access = try send(h, "POST", "/refresh", token: token(#""type":"access""#))
            XCTAssertEqual(access.status, 401)
            XCTAssertEqual(access.json["error_type"] as? String, "RefreshTokenRequiredError")
            await h.stop()
        }
    }

    func testARevokedRefreshTokenIsRefusedOnItsRoute() async throws {
        let h = try await GatewayHarness(environment: ["PORTCULLIS_ROUTES": Self.routes])
        let jti = "refresh-\(UUID().uuidString)"
        let refresh = token(jti: jti, #""type":"refresh""#)
        XCTAssertEqual(try send(h, "POST", "/refresh", token: refresh).status, 200)
        XCTAssertEqual(try h.revoke(jti: jti).status, 201)
        let refused = try send(h, "POST", "/refresh", token: refresh)
        XCTAssertEqual(refused.status, 401)
        XCTAssertEqual(refused.json["error_type"] as? String, "RevokedTokenError")
        await h.stop()
    }

    func testPreflightsReachTheUpstreamWithoutAToken() async throws {
        let h = try await GatewayHarness(environment: ["PORTCULLIS_ROUTES": Self.routes])
        let preflight = [("Origin", "https://app.example"), ("Access-Control-Request-Method", "PUT"),
                         ("X-Auth-Subject", "forged")]
        let forwarded = try send(h, "OPTIONS", "/posts/1", token: nil, headers: preflight)
        XCTAssertEqual(forwarded.status, 200)
        XCTAssertEqual(forwarded.json["method"] as? String, "OPTIONS")
        let names = ((forwarded.json["headers"] as? [[String]]) ?? []).map { $0[0].lowercased() }
        XCTAssertTrue(names.contains("access-control-request-method"))
        XCTAssertFalse(names.contains("x-auth-subject"), "a client-sent claim header never reaches the upstream")
        XCTAssertEqual(try send(h, "OPTIONS", "/posts/1", token: nil, headers: [preflight[0]]).status, 401,
                       "an OPTIONS that is not a preflight needs a token")
        await h.stop()

        let strict = try await GatewayHarness(environment: ["PORTCULLIS_PROXY_CORS_PREFLIGHT": "authenticate"])
        XCTAssertEqual(try send(strict, "OPTIONS", "/posts/1", token: nil, headers: preflight).status, 401)
        await strict.stop()
    }

    func testAReloadAppliesNewRoutesToTheNextRequest() async throws {
        let h = try await GatewayHarness()
        let refresh = token(#""type":"refresh""#)
        XCTAssertEqual(try send(h, "POST", "/refresh", token: refresh).status, 401, "jwt.token_type: access")
        let running = h.gateway.currentConfiguration
        let yaml = """
            proxy:
              listen: "\(running.proxy.listen.host):\(running.proxy.listen.port)"
              upstream: "http://127.0.0.1:\(h.upstream.port)"
            jwt:
              secret: "\(GatewayHarness.secret)"
            revocation:
              file: "\(running.revocation.file)"
            admin:
              listen: "\(running.admin.listen.host):\(running.admin.listen.port)"
              token: "\(GatewayHarness.adminToken)"
            routes:
              - {path: /refresh, methods: [POST], token_type: refresh}
            """
        let outcome = h.gateway.reload { () throws(ConfigurationError) in
            try ConfigurationLoader.load(yaml: yaml, environment: [:])
        }
        XCTAssertEqual(outcome, .applied(changed: ["routes"], needRestart: []))
        XCTAssertEqual(try send(h, "POST", "/refresh", token: refresh).status, 200)
        await h.stop()
    }
}
