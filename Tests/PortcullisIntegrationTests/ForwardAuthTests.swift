import Foundation
import PortcullisCore
import PortcullisGateway
import XCTest

/// The forward-auth listener spoken to as Traefik (`forwardAuth`: X-Forwarded-Method and
/// X-Forwarded-Uri on a GET to the endpoint) and Envoy (`ext_authz` HTTP service: the
/// original method and path as the check request's own) would; neither is packaged for
/// Debian, so a plain client sends their headers over a real socket.
final class ForwardAuthTests: XCTestCase {
    private var harness: GatewayHarness!

    override func tearDown() async throws {
        await harness?.stop()
    }

    private func start(_ environment: [String: String] = [:]) async throws {
        var env = [
            "PORTCULLIS_AUTHZ_LISTEN": "127.0.0.1:0",
            "PORTCULLIS_PROXY_PUBLIC_PATHS": "/public/*",
            "PORTCULLIS_PROXY_LOGOUT_PATH": "/logout",
            "PORTCULLIS_JWT_LOCATIONS": "headers,cookies",
        ]
        env.merge(environment) { $1 }
        harness = try await GatewayHarness(environment: env)
    }

    /// As Traefik asks: GET to the endpoint, the original request in X-Forwarded-*.
    private func traefik(_ client: RawHTTPClient, method: String, uri: String,
                         _ headers: [(String, String)] = []) throws -> RawHTTPClient.Response {
        try client.request("GET", "/", headers: [
            ("X-Forwarded-Method", method), ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "app.example.com"),
            ("X-Forwarded-Uri", uri), ("X-Forwarded-For", "203.0.113.7"),
        ] + headers)
    }

    private func assertDenied(_ response: RawHTTPClient.Response, _ status: Int, _ errorType: String,
                              wwwAuthenticate: String?, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(response.status, status, response.bodyText, file: file, line: line)
        XCTAssertEqual(response.json["error_type"] as? String, errorType, file: file, line: line)
        XCTAssertEqual(response.header("Content-Type"), "application/json", file: file, line: line)
        XCTAssertEqual(response.header("WWW-Authenticate"), wwwAuthenticate, file: file, line: line)
    }

    func testTraefikConventionVerdictsOnOneKeptConnection() async throws {
        try await start()
        let client = try harness.forwardAuthClient()
        let jti = UUID().uuidString
        let valid = try traefik(client, method: "GET", uri: "/api/items?page=2",
                                [("Authorization", "Bearer \(harness.token(sub: "alice", jti: jti))")])
        XCTAssertEqual(valid.status, 200)
        XCTAssertEqual(valid.body.count, 0)
        XCTAssertEqual(valid.header("X-Auth-Subject"), "alice")
        XCTAssertEqual(valid.header("X-Auth-Jti"), jti)

        let revokedJTI = UUID().uuidString
        XCTAssertEqual(try harness.revoke(jti: revokedJTI).status, 201)
        assertDenied(try traefik(client, method: "GET", uri: "/api/items",
                                 [("Authorization", "Bearer \(harness.token(jti: revokedJTI))")]),
                     401, "RevokedTokenError", wwwAuthenticate: #"Bearer error="invalid_token""#)
        assertDenied(try traefik(client, method: "GET", uri: "/api/items"), 401, "MissingTokenError", wwwAuthenticate: "Bearer")
        let forged = harness.token().dropLast(4) + "AAAA"
        assertDenied(try traefik(client, method: "GET", uri: "/api/items", [("Authorization", "Bearer \(forged)")]),
                     422, "TokenInvalidSignatureError", wwwAuthenticate: nil)

        // The public path is the original one, not the endpoint's own "/".
        let open = try traefik(client, method: "GET", uri: "/public/readme")
        XCTAssertEqual(open.status, 200)
        XCTAssertNil(open.header("X-Auth-Subject"))
        XCTAssertEqual(harness.upstream.requestsSeen, 0, "forward-auth never forwards")
    }

    func testEnvoyConventionJudgesTheCheckRequestItself() async throws {
        try await start()
        let client = try harness.forwardAuthClient()
        let valid = try client.request("POST", "/api/orders?x=1", headers: [
            ("Authorization", "Bearer \(harness.token(sub: "carol"))"), ("Content-Length", "0"), ("X-Envoy-Internal", "true"),
        ])
        XCTAssertEqual(valid.status, 200)
        XCTAssertEqual(valid.header("X-Auth-Subject"), "carol")

        // A body, were one sent, is discarded: the next request on the connection is read as a request.
        let withBody = try client.request("PUT", "/api/orders/1", headers: [("Authorization", "Bearer \(harness.token(sub: "carol"))")],
                                          body: String(repeating: "b", count: 5000))
        XCTAssertEqual(withBody.status, 200)
        assertDenied(try client.request("DELETE", "/api/orders/1"), 401, "MissingTokenError", wwwAuthenticate: "Bearer")
        let open = try client.request("GET", "/public/x")
        XCTAssertEqual(open.status, 200)

        let jti = UUID().uuidString
        XCTAssertEqual(try harness.revoke(jti: jti).status, 201)
        assertDenied(try client.request("GET", "/api/orders", headers: [("Authorization", "Bearer \(harness.token(jti: jti))")]),
                     401, "RevokedTokenError", wwwAuthenticate: #"Bearer error="invalid_token""#)
    }

    func testXForwardedWinsOverXOriginal() async throws {
        try await start()
        let client = try harness.forwardAuthClient()
        // X-Original-URI names a public path, X-Forwarded-Uri does not: the token is required.
        let response = try client.request("GET", "/", headers: [("X-Original-URI", "/public/x"), ("X-Forwarded-Uri", "/api")])
        XCTAssertEqual(response.status, 401)
        let reversed = try client.request("GET", "/", headers: [("X-Original-URI", "/api"), ("X-Forwarded-Uri", "/public/x")])
        XCTAssertEqual(reversed.status, 200)
    }

    func testCSRFIsCheckedOnTheOriginalMethod() async throws {
        try await start()
        let client = try harness.forwardAuthClient()
        let token = harness.token(sub: "dave", extra: [("csrf", "csrf-value-1")])
        let cookie = ("Cookie", "access_token_cookie=\(token)")
        // The check request itself is a GET; the original is a POST with a cookie token.
        assertDenied(try traefik(client, method: "POST", uri: "/api/items", [cookie]), 401, "CSRFError",
                     wwwAuthenticate: #"Bearer error="invalid_token""#)
        XCTAssertEqual(try traefik(client, method: "POST", uri: "/api/items", [cookie, ("X-CSRF-TOKEN", "csrf-value-1")]).status, 200)
        XCTAssertEqual(try traefik(client, method: "GET", uri: "/api/items", [cookie]).status, 200)
        // nginx's names for the same.
        let nginxStyle = try client.request("GET", "/_portcullis", headers: [("X-Original-Method", "DELETE"),
                                                                            ("X-Original-URI", "/api/items/1"), cookie])
        XCTAssertEqual(nginxStyle.json["error_type"] as? String, "CSRFError")
    }

    func testLogoutPathRevokesThenAnswers200() async throws {
        try await start()
        let client = try harness.forwardAuthClient()
        let token = harness.token(sub: "erin")
        let logout = try traefik(client, method: "POST", uri: "/logout", [("Authorization", "Bearer \(token)")])
        XCTAssertEqual(logout.status, 200)
        XCTAssertEqual(logout.header("X-Auth-Subject"), "erin")
        assertDenied(try traefik(client, method: "GET", uri: "/api", [("Authorization", "Bearer \(token)")]),
                     401, "RevokedTokenError", wwwAuthenticate: #"Bearer error="invalid_token""#)
        // The proxy shares the store: the token is revoked there too.
        let proxied = try harness.client().request("GET", "/api", headers: [("Authorization", "Bearer \(token)")])
        XCTAssertEqual(proxied.status, 401)
    }

    func testDenyStatus401AppliesToTheForwardAuthListenerOnly() async throws {
        try await start(["PORTCULLIS_AUTHZ_DENY_STATUS": "401"])
        let forged = harness.token().dropLast(4) + "AAAA"
        let answer = try harness.forwardAuthClient().request("GET", "/api", headers: [("Authorization", "Bearer \(forged)")])
        assertDenied(answer, 401, "TokenInvalidSignatureError", wwwAuthenticate: #"Bearer error="invalid_token""#)
        XCTAssertEqual(answer.json["message"] as? String, "Signature verification failed")
        let expired = harness.token(ttl: -60)
        assertDenied(try harness.forwardAuthClient().request("GET", "/api", headers: [("Authorization", "Bearer \(expired)")]),
                     401, "TokenExpiredError", wwwAuthenticate: #"Bearer error="invalid_token""#)
        // The proxy keeps AuthX's 422.
        let proxied = try harness.client().request("GET", "/api", headers: [("Authorization", "Bearer \(forged)")])
        XCTAssertEqual(proxied.status, 422)
    }

    func testDenyStatusIsAppliedOnReload() async throws {
        try await start()
        let forged = harness.token().dropLast(4) + "AAAA"
        XCTAssertEqual(try harness.forwardAuthClient().request("GET", "/api", headers: [("Authorization", "Bearer \(forged)")]).status, 422)
        var next = harness.gateway.currentConfiguration
        next.authz.denyStatus = .unauthorized
        let outcome = harness.gateway.reload { () throws(ConfigurationError) in next }
        XCTAssertEqual(outcome, .applied(changed: ["authz.deny_status"], needRestart: []))
        XCTAssertEqual(try harness.forwardAuthClient().request("GET", "/api", headers: [("Authorization", "Bearer \(forged)")]).status, 401)
    }

    func testMetricsCountForwardAuthVerdictsApartFromProxiedRequests() async throws {
        try await start()
        let client = try harness.forwardAuthClient()
        XCTAssertEqual(try traefik(client, method: "GET", uri: "/api", [("Authorization", "Bearer \(harness.token())")]).status, 200)
        XCTAssertEqual(try traefik(client, method: "GET", uri: "/public/a").status, 200)
        XCTAssertEqual(try traefik(client, method: "GET", uri: "/api").status, 401)
        let metrics = try harness.adminClient().request("GET", "/metrics").bodyText
        XCTAssertTrue(metrics.contains(#"portcullis_forward_auth_total{verdict="allowed"} 1"#), metrics)
        XCTAssertTrue(metrics.contains(#"portcullis_forward_auth_total{verdict="public"} 1"#), metrics)
        XCTAssertTrue(metrics.contains(#"portcullis_forward_auth_total{verdict="denied",reason="missing_token",error_type="MissingTokenError"} 1"#), metrics)
        XCTAssertFalse(metrics.contains(#"portcullis_requests_total{outcome="forwarded"} 1"#), "not counted as proxied")
    }
}
