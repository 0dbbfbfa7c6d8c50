import Foundation
import XCTest

/// `proxy.logout_path`: the token (and a presented refresh token) is revoked at the gate, then
/// the request still reaches the application's own logout.
final class LogoutTests: XCTestCase {
    private let auth = [("Authorization", "Bearer \(GatewayHarness.adminToken)")]

    func testLogoutRevokesAccessAndRefreshTokensThenForwards() async throws {
        let h = try await GatewayHarness(environment: ["PORTCULLIS_PROXY_LOGOUT_PATH": "/auth/logout"])
        let access = h.token(sub: "dana", jti: "logout-access", ttl: 600)
        let refresh = h.token(sub: "dana", jti: "logout-refresh", ttl: 3600, type: "refresh")
        let client = try h.client()
        XCTAssertEqual(try client.request("GET", "/profile", headers: [("Authorization", "Bearer \(access)")]).status, 200)

        let logout = try client.request("POST", "/auth/logout", headers: [
            ("Authorization", "Bearer \(access)"), ("Cookie", "refresh_token_cookie=\(refresh)"),
        ], body: "{}")
        XCTAssertEqual(logout.status, 200, "forwarded to the application")
        XCTAssertEqual(logout.json["uri"] as? String, "/auth/logout")

        let after = try client.request("GET", "/profile", headers: [("Authorization", "Bearer \(access)")])
        XCTAssertEqual(after.status, 401)
        XCTAssertEqual(after.json["error_type"] as? String, "RevokedTokenError")
        let refreshEntry = try h.adminClient().request("GET", "/v1/revocations/logout-refresh", headers: auth)
        XCTAssertEqual(refreshEntry.status, 200, "the refresh token was revoked too")
        let ttl = refreshEntry.json["ttl_seconds"] as? Int ?? 0
        XCTAssertTrue((3590...3600).contains(ttl), "lives until the refresh token's exp, got \(ttl)")
        await h.stop()
    }

    /// A logout whose revocation cannot be stored is never forwarded as if it had worked, even
    /// with `fail_mode: open`, and is counted once, as denied.
    func testLogoutIsRefusedWhenTheRevocationCannotBeStored() async throws {
        let redis = try RedisServer()
        let h = try await GatewayHarness(environment: [
            "PORTCULLIS_PROXY_LOGOUT_PATH": "/auth/logout", "PORTCULLIS_REVOCATION_STORE": "redis",
            "PORTCULLIS_REVOCATION_REDIS_URL": redis.url, "PORTCULLIS_REVOCATION_FAIL_MODE": "open",
        ])
        let access = h.token(sub: "erin", jti: "logout-unstored")
        // The store's connections are made after start: count from the moment it answers.
        let ready = Date().addingTimeInterval(10)
        while try h.adminClient().request("GET", "/readyz").status != 200 && Date() < ready { usleep(20_000) }
        let client = try h.client()
        XCTAssertEqual(try client.request("GET", "/profile", headers: [("Authorization", "Bearer \(access)")]).status, 200)
        redis.stop()
        let deadline = Date().addingTimeInterval(10)
        while try h.adminClient().request("GET", "/readyz").status != 503 && Date() < deadline { usleep(20_000) }

        let logout = try h.client().request("POST", "/auth/logout", headers: [("Authorization", "Bearer \(access)")], body: "{}")
        XCTAssertEqual(logout.status, 503)
        XCTAssertEqual(logout.json["error_type"] as? String, "RevocationStoreUnavailableError")
        let upstreamSawLogout = h.upstream.requestsSeen
        XCTAssertEqual(upstreamSawLogout, 1, "only the first /profile reached the application")
        let metrics = try h.adminClient().request("GET", "/metrics").bodyText
        XCTAssertTrue(metrics.contains(#"portcullis_requests_total{outcome="forwarded"} 1"#), metrics)
        XCTAssertTrue(metrics.contains(#"reason="store_unavailable",error_type="RevocationStoreUnavailableError"} 1"#), metrics)
        await h.stop()
    }

    func testRefreshTokenHeaderAndInvalidRefreshTokens() async throws {
        let h = try await GatewayHarness(environment: ["PORTCULLIS_PROXY_LOGOUT_PATH": "/logout"])
        let access = h.token(jti: "hdr-access")
        let refresh = h.token(jti: "hdr-refresh", type: "refresh")
        XCTAssertEqual(try h.client().request("POST", "/logout", headers: [
            ("Authorization", "Bearer \(access)"), ("X-Refresh-Token", refresh),
        ]).status, 200)
        XCTAssertEqual(try h.adminClient().request("GET", "/v1/revocations/hdr-refresh", headers: auth).status, 200)

        // A forged refresh token is ignored: the logout of the valid access token still works.
        let access2 = h.token(jti: "hdr-access-2")
        XCTAssertEqual(try h.client().request("POST", "/logout", headers: [
            ("Authorization", "Bearer \(access2)"), ("X-Refresh-Token", "not.a.token"),
        ]).status, 200)
        XCTAssertEqual(try h.adminClient().request("GET", "/v1/revocations/hdr-access-2", headers: auth).status, 200)

        // Without a valid token the logout path is denied like any other path, and nothing is revoked.
        XCTAssertEqual(try h.client().request("POST", "/logout").status, 401)
        // Other paths revoke nothing.
        let access3 = h.token(jti: "hdr-access-3")
        XCTAssertEqual(try h.client().request("POST", "/logout/extra", headers: [("Authorization", "Bearer \(access3)")]).status, 200)
        XCTAssertEqual(try h.client().request("GET", "/", headers: [("Authorization", "Bearer \(access3)")]).status, 200)
        await h.stop()
    }
}
