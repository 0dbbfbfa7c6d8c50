import Foundation
import XCTest

/// Requests that pass the gate reach the upstream as the client sent them, minus hop-by-hop
/// and spoofed identity headers, plus X-Forwarded-* and the claim headers.
final class ForwardingTests: XCTestCase {
    func testMethodsBodiesAndVerbatimTarget() async throws {
        let h = try await GatewayHarness()
        let token = h.token(sub: "alice", jti: "jti-forward-1")
        let client = try h.client()
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
            let body = method == "GET" ? nil : "payload for \(method) ✓"
            let response = try client.request(method, "/orders/a%20b/../c?x=1&y=%2F&z",
                                              headers: [("Authorization", "Bearer \(token)")], body: body)
            XCTAssertEqual(response.status, 200, method)
            let echo = response.json
            XCTAssertEqual(echo["method"] as? String, method)
            XCTAssertEqual(echo["uri"] as? String, "/orders/a%20b/../c?x=1&y=%2F&z", "target forwarded verbatim")
            XCTAssertEqual(echo["body_sha256"] as? String, Data((body ?? "").utf8).sha256Hex)
        }
        XCTAssertEqual(h.upstream.connectionsAccepted, 1, "one keep-alive upstream connection carried all requests")
        await h.stop()
    }

    func testHeadRequestGetsNoBody() async throws {
        let h = try await GatewayHarness()
        let client = try h.client()
        let response = try client.request("HEAD", "/anything", headers: [("Authorization", "Bearer \(h.token())")])
        XCTAssertEqual(response.status, 200)
        XCTAssertNotNil(response.header("content-length"))
        // The connection is still in sync: a second request on it works.
        let second = try client.request("GET", "/again", headers: [("Authorization", "Bearer \(h.token())")])
        XCTAssertEqual(second.json["uri"] as? String, "/again")
        await h.stop()
    }

    func testHeadersRewritten() async throws {
        let h = try await GatewayHarness()
        let response = try h.client().request("GET", "/headers", headers: [
            ("Authorization", "Bearer \(h.token(sub: "alice", jti: "jti-headers"))"),
            ("Connection", "keep-alive, X-Hop-Custom"),
            ("X-Hop-Custom", "must go"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"),
            ("Trailer", "X-Checksum"),
            ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
            ("Proxy-Connection", "keep-alive"),
            ("X-Auth-Subject", "mallory"),
            ("x-auth-subject", "mallory-lower"),
            ("X-AUTH-JTI", "forged"),
            ("X-Forwarded-For", "10.9.8.7"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "spoofed.example"),
            ("X-Kept", "yes"),
        ])
        XCTAssertEqual(response.status, 200)
        let headers = (response.json["headers"] as? [[String]] ?? []).map { ($0[0].lowercased(), $0[1]) }
        func values(_ name: String) -> [String] { headers.filter { $0.0 == name }.map(\.1) }
        for gone in ["connection", "x-hop-custom", "keep-alive", "te", "trailer", "proxy-authorization", "proxy-connection"] {
            XCTAssertEqual(values(gone), [], "\(gone) must not reach the upstream")
        }
        XCTAssertEqual(values("x-auth-subject"), ["alice"], "client copies removed, claim set")
        XCTAssertEqual(values("x-auth-jti"), ["jti-headers"])
        XCTAssertEqual(values("x-forwarded-for"), ["10.9.8.7, 127.0.0.1"])
        XCTAssertEqual(values("x-forwarded-proto"), ["http"])
        XCTAssertEqual(values("x-forwarded-host"), ["test.local"])
        XCTAssertEqual(values("x-kept"), ["yes"])
        XCTAssertEqual(response.header("x-upstream"), "test", "the upstream's answer comes back unchanged")
        await h.stop()
    }

    func testCustomClaimHeaders() async throws {
        let h = try await GatewayHarness(environment: [
            "PORTCULLIS_PROXY_CLAIM_HEADERS": "X-User=sub,X-Role=role,X-Token-Type=type"
        ])
        let token = h.token(sub: "bob", extra: [("role", "admin")])
        let response = try h.client().request("GET", "/", headers: [("Authorization", "Bearer \(token)"), ("X-Role", "forged")])
        let headers = (response.json["headers"] as? [[String]] ?? []).map { ($0[0].lowercased(), $0[1]) }
        XCTAssertEqual(headers.filter { $0.0 == "x-user" }.map(\.1), ["bob"])
        XCTAssertEqual(headers.filter { $0.0 == "x-role" }.map(\.1), ["admin"])
        XCTAssertEqual(headers.filter { $0.0 == "x-token-type" }.map(\.1), ["access"])
        XCTAssertEqual(headers.filter { $0.0 == "x-auth-subject" }.map(\.1), [], "the default mapping was replaced")
        await h.stop()
    }

    func testUpstreamPathPrefix() async throws {
        let upstream = try await GatewayHarness()
        let port = upstream.upstream.port
        let h = try await GatewayHarness(upstreamURL: "http://127.0.0.1:\(port)/api/v2")
        let response = try h.client().request("GET", "/orders?id=7", headers: [("Authorization", "Bearer \(h.token())")])
        XCTAssertEqual(response.json["uri"] as? String, "/api/v2/orders?id=7")
        await h.stop()
        await upstream.stop()
    }

    func testPublicPaths() async throws {
        let h = try await GatewayHarness(environment: ["PORTCULLIS_PROXY_PUBLIC_PATHS": "/login,/docs/*"])
        let client = try h.client()
        XCTAssertEqual(try client.request("POST", "/login", body: "{}").status, 200)
        XCTAssertEqual(try client.request("GET", "/docs/index.html").status, 200)
        XCTAssertEqual(try client.request("GET", "/docs/").status, 200)
        XCTAssertEqual(try client.request("GET", "/login/extra").status, 401, "exact pattern matches exactly")
        XCTAssertEqual(try client.request("GET", "/docs/../admin").status, 401, "dot segments never match")
        XCTAssertEqual(try client.request("GET", "/docs/%2e%2e/admin").status, 401, "encoded dots never match")
        XCTAssertEqual(try client.request("GET", "/private").status, 401)
        await h.stop()
    }

    func testPipelinedRequestsAnsweredInOrder() async throws {
        let h = try await GatewayHarness()
        let token = h.token()
        let client = try h.client()
        var batch = ""
        for index in 1...5 {
            batch += "GET /pipelined/\(index) HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(token)\r\n\r\n"
        }
        batch += "GET /pipelined/denied HTTP/1.1\r\nHost: t\r\n\r\n"
        batch += "GET /pipelined/7 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(token)\r\n\r\n"
        try client.send(batch)
        for index in 1...5 {
            let response = try client.readResponse()
            XCTAssertEqual(response.json["uri"] as? String, "/pipelined/\(index)")
        }
        XCTAssertEqual(try client.readResponse().status, 401)
        XCTAssertEqual(try client.readResponse().json["uri"] as? String, "/pipelined/7")
        await h.stop()
    }

    /// Pipelined requests behind a slow one, with bodies, wait their turn; a malformed one after
    /// them is answered 400 only once the earlier answers are out, then the connection closes.
    func testPipelinedBehindASlowRequestThenMalformed() async throws {
        let h = try await GatewayHarness()
        let token = h.token()
        let client = try h.client()
        try client.send("GET /slow?ms=300 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(token)\r\n\r\n"
            + "POST /echo-body HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(token)\r\nContent-Length: 5\r\n\r\nhello"
            + "POST /chunked HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(token)\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "3\r\nabc\r\n0\r\n\r\n"
            + "GET /bad HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
        let slow = try client.readResponse()
        XCTAssertEqual(slow.status, 200)
        XCTAssertEqual(slow.json["slow"] as? Bool, true)
        let second = try client.readResponse()
        XCTAssertEqual(second.json["uri"] as? String, "/echo-body")
        XCTAssertEqual(second.json["body_bytes"] as? Int, 5)
        let third = try client.readResponse()
        XCTAssertEqual(third.json["uri"] as? String, "/chunked")
        XCTAssertEqual(third.json["body_bytes"] as? Int, 3)
        let bad = try client.readResponse()
        XCTAssertEqual(bad.status, 400)
        XCTAssertTrue(client.isClosedByPeer())
        await h.stop()
    }

    func testConnectionCloseHonoured() async throws {
        let h = try await GatewayHarness()
        let client = try h.client()
        let response = try client.request("GET", "/", headers: [("Authorization", "Bearer \(h.token())"), ("Connection", "close")])
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("connection")?.lowercased(), "close")
        XCTAssertTrue(client.isClosedByPeer())
        await h.stop()
    }
}
