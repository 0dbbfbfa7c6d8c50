import Foundation
import XCTest

/// WebSocket tunnels over real sockets, through the whole gateway, to a real WebSocket server
/// (NIOWebSocket): the handshake judged like any request, the 101 relayed, frames both ways,
/// and the tunnel closed when its token is revoked or expires, or the gateway drains.
final class TunnelTests: XCTestCase {
    private let group = GatewayHarness.sharedGroup

    private func gateway(_ upstream: WebSocketUpstream, _ environment: [String: String] = [:]) async throws -> GatewayHarness {
        try await GatewayHarness(environment: environment, upstreamURL: "http://127.0.0.1:\(upstream.port)")
    }

    private func open(_ h: GatewayHarness, token: String) throws -> WebSocketTestClient {
        try WebSocketTestClient(port: h.proxyPort, headers: [("Authorization", "Bearer \(token)")])
    }

    private func metric(_ h: GatewayHarness, _ series: String) throws -> Double? {
        let text = try h.adminClient().request("GET", "/metrics").bodyText
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    /// Polls `condition` every 20 ms for up to `seconds`.
    private func eventually(_ seconds: Double = 5, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(20_000)
        }
        return try condition()
    }

    func testMessagesEchoThroughTheTunnel() async throws {
        let upstream = try WebSocketUpstream(group: group)
        let h = try await gateway(upstream)
        let ws = try open(h, token: h.token(sub: "alice", jti: "echo-jti"))
        XCTAssertEqual(ws.response.status, 101)
        XCTAssertEqual(ws.response.header("upgrade")?.lowercased(), "websocket")
        XCTAssertEqual(ws.response.header("connection")?.lowercased(), "upgrade")
        XCTAssertEqual(ws.response.header("sec-websocket-accept"), ws.expectedAccept, "the upstream's accept, relayed")
        XCTAssertEqual(try ws.echo("hello"), "hello")
        // Larger than a socket buffer both ways: the relay's backpressure carries it through.
        let large = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 % 251) }
        try ws.send(opcode: 0x2, payload: large)
        let echoed = try ws.readFrame()
        XCTAssertEqual(echoed.opcode, 0x2)
        XCTAssertTrue(echoed.payload == large, "3 MiB came back unchanged")
        XCTAssertEqual(try ws.echo("after"), "after")

        let handshake = try XCTUnwrap(upstream.handshakes.first)
        XCTAssertEqual(handshake.first(name: "upgrade"), "websocket")
        XCTAssertEqual(handshake.first(name: "x-auth-subject"), "alice", "claim headers reach the upstream")
        XCTAssertEqual(handshake.first(name: "x-auth-jti"), "echo-jti")
        XCTAssertEqual(try metric(h, "portcullis_open_tunnels"), 1)
        XCTAssertEqual(try metric(h, "portcullis_tunnels_opened_total"), 1)

        try ws.send(opcode: 0x8, payload: [0x03, 0xE8])
        XCTAssertTrue(ws.closes(within: 5000), "the upstream's close ends the tunnel")
        XCTAssertTrue(try eventually { try metric(h, "portcullis_open_tunnels") == 0 })
        XCTAssertEqual(try metric(h, #"portcullis_tunnels_closed_total{reason="upstream"}"#), 1)
        await h.stop()
        upstream.stop()
    }

    func testClosingTheClientClosesTheUpstreamConnection() async throws {
        let upstream = try WebSocketUpstream(group: group)
        let h = try await gateway(upstream)
        var ws: WebSocketTestClient? = try open(h, token: h.token())
        XCTAssertEqual(try ws?.echo("x"), "x")
        XCTAssertEqual(upstream.openWebSockets, 1)
        ws = nil  // closes the socket without a close frame
        XCTAssertTrue(eventually { upstream.openWebSockets == 0 }, "the upstream side was closed too")
        XCTAssertTrue(try eventually { try metric(h, #"portcullis_tunnels_closed_total{reason="client"}"#) == 1 })
        await h.stop()
        upstream.stop()
    }

    func testARevokedTokenIsRefusedAtTheHandshake() async throws {
        let upstream = try WebSocketUpstream(group: group)
        let h = try await gateway(upstream)
        XCTAssertEqual(try h.revoke(jti: "revoked-before").status, 201)
        let ws = try open(h, token: h.token(jti: "revoked-before"))
        XCTAssertEqual(ws.response.status, 401)
        XCTAssertEqual(ws.response.json["error_type"] as? String, "RevokedTokenError")
        let missing = try WebSocketTestClient(port: h.proxyPort, headers: [])
        XCTAssertEqual(missing.response.status, 401)
        XCTAssertEqual(missing.response.json["error_type"] as? String, "MissingTokenError")
        XCTAssertEqual(upstream.handshakes.count, 0, "no handshake reached the upstream")
        XCTAssertEqual(try metric(h, "portcullis_tunnels_opened_total"), 0)
        await h.stop()
        upstream.stop()
    }

    /// The memory store announces the revocation: the tunnel closes at once, not at the next
    /// recheck (30 s by default); a tunnel with another token stays.
    func testARevocationClosesTheOpenTunnelWithinASecond() async throws {
        let upstream = try WebSocketUpstream(group: group)
        let h = try await gateway(upstream)
        let ws = try open(h, token: h.token(jti: "revoke-me"))
        let other = try open(h, token: h.token(jti: "keep-me"))
        XCTAssertEqual(try ws.echo("before"), "before")
        XCTAssertEqual(try h.revoke(jti: "revoke-me").status, 201)
        XCTAssertTrue(ws.closes(within: 1000), "closed within 1 s of the 201")
        XCTAssertTrue(eventually { upstream.openWebSockets == 1 }, "its upstream connection is closed too")
        XCTAssertEqual(try other.echo("still here"), "still here")
        XCTAssertEqual(try metric(h, #"portcullis_tunnels_closed_total{reason="revoked"}"#), 1)
        XCTAssertEqual(try metric(h, "portcullis_open_tunnels"), 1)
        await h.stop()
        upstream.stop()
    }

    func testASubjectCutOffClosesThatSubjectsTunnels() async throws {
        let upstream = try WebSocketUpstream(group: group)
        let h = try await gateway(upstream)
        // Issued two seconds ago: the cut-off (now, in whole seconds) covers them.
        let issued = Date().timeIntervalSince1970 - 2
        let mallory = [try open(h, token: h.token(sub: "mallory", now: issued)),
                       try open(h, token: h.token(sub: "mallory", now: issued))]
        let alice = try open(h, token: h.token(sub: "alice", now: issued))
        let revoked = try h.adminClient().request(
            "POST", "/v1/subjects/mallory/revocations", headers: [("Authorization", "Bearer \(GatewayHarness.adminToken)")])
        XCTAssertEqual(revoked.status, 201)
        for ws in mallory { XCTAssertTrue(ws.closes(within: 1000)) }
        XCTAssertEqual(try alice.echo("alice"), "alice")
        await h.stop()
        upstream.stop()
    }

    /// A store that announces nothing (Redis written by someone else): the periodic recheck
    /// finds the revocation and closes the tunnel.
    func testARevocationWrittenStraightToRedisClosesTheTunnelAtTheNextRecheck() async throws {
        let redis = try RedisServer()
        let upstream = try WebSocketUpstream(group: group)
        let h = try await gateway(upstream, [
            "PORTCULLIS_REVOCATION_STORE": "redis", "PORTCULLIS_REVOCATION_REDIS_URL": redis.url,
            "PORTCULLIS_PROXY_TUNNEL_RECHECK_INTERVAL": "300ms",
        ])
        XCTAssertTrue(eventually { (try? h.adminClient().request("GET", "/readyz"))?.status == 200 })
        let ws = try open(h, token: h.token(jti: "redis-tunnel"))
        let other = try open(h, token: h.token(jti: "redis-other"))
        XCTAssertEqual(try ws.echo("before"), "before")
        XCTAssertFalse(ws.closes(within: 700), "two rechecks pass while the token is not revoked")
        try redis.cli(["SETEX", "portcullis:jti:redis-tunnel", "300", "revoked"])
        XCTAssertTrue(ws.closes(within: 3000), "closed by a recheck")
        XCTAssertEqual(try other.echo("other"), "other")
        XCTAssertEqual(try metric(h, #"portcullis_tunnels_closed_total{reason="revoked"}"#), 1)
        await h.stop()
        upstream.stop()
    }

    /// `fail_mode: closed` holds for a recheck too: a store that cannot answer closes the tunnel.
    func testARecheckTheStoreCannotAnswerClosesTheTunnelWhenFailingClosed() async throws {
        let redis = try RedisServer()
        let upstream = try WebSocketUpstream(group: group)
        let h = try await gateway(upstream, [
            "PORTCULLIS_REVOCATION_STORE": "redis", "PORTCULLIS_REVOCATION_REDIS_URL": redis.url,
            "PORTCULLIS_PROXY_TUNNEL_RECHECK_INTERVAL": "300ms", "PORTCULLIS_REVOCATION_TIMEOUT": "100ms",
        ])
        XCTAssertTrue(eventually { (try? h.adminClient().request("GET", "/readyz"))?.status == 200 })
        let ws = try open(h, token: h.token())
        XCTAssertEqual(try ws.echo("before"), "before")
        redis.stop()
        XCTAssertTrue(ws.closes(within: 3000), "closed by a recheck the store could not answer")
        XCTAssertEqual(try metric(h, #"portcullis_tunnels_closed_total{reason="rejected"}"#), 1)
        await h.stop()
        upstream.stop()
    }

    /// Closed at `exp`, long before the next recheck (30 s).
    func testTheTunnelClosesWhenItsTokenExpires() async throws {
        let upstream = try WebSocketUpstream(group: group)
        let h = try await gateway(upstream)
        let ws = try open(h, token: h.token(ttl: 2))
        XCTAssertEqual(ws.response.status, 101)
        XCTAssertEqual(try ws.echo("while valid"), "while valid")
        XCTAssertTrue(ws.closes(within: 4000), "closed at exp")
        XCTAssertTrue(try eventually { try metric(h, #"portcullis_tunnels_closed_total{reason="expired"}"#) == 1 })
        XCTAssertTrue(eventually { upstream.openWebSockets == 0 })
        await h.stop()
        upstream.stop()
    }

    func testWithWebSocketsOffTheUpgradeIsNotForwarded() async throws {
        let upstream = try WebSocketUpstream(group: group)
        let h = try await gateway(upstream, ["PORTCULLIS_PROXY_WEBSOCKETS": "false"])
        let ws = try open(h, token: h.token())
        XCTAssertEqual(ws.response.status, 426, "an ordinary request to a WebSocket-only endpoint")
        XCTAssertEqual(upstream.handshakes.count, 0)
        XCTAssertNil(upstream.plainRequests.first?.first(name: "upgrade"))
        await h.stop()
        upstream.stop()
    }

    /// 1,000 tunnels open at once: all counted, all usable, and the memory they cost (the whole
    /// test process: clients, proxy and upstream) stays within a small bound per tunnel.
    func testAThousandOpenTunnelsInBoundedMemory() async throws {
        let upstream = try WebSocketUpstream(group: group)
        let h = try await gateway(upstream)
        let token = h.token()
        // A few first, so one-time allocations (pools, caches) are not counted.
        var tunnels = try (0..<10).map { _ in try open(h, token: token) }
        let before = Self.residentBytes()
        for _ in 0..<990 { tunnels.append(try open(h, token: token)) }
        XCTAssertTrue(tunnels.allSatisfy(\.isOpen))
        XCTAssertEqual(try metric(h, "portcullis_open_tunnels"), 1000)
        for index in stride(from: 0, to: 1000, by: 97) {
            XCTAssertEqual(try tunnels[index].echo("n\(index)"), "n\(index)")
        }
        let perTunnel = (Self.residentBytes() - before) / 990
        XCTAssertLessThan(perTunnel, 64 * 1024, "\(perTunnel) bytes per open tunnel, both ends and the proxy included")
        tunnels.removeAll()
        XCTAssertTrue(try eventually(10) { try metric(h, "portcullis_open_tunnels") == 0 })
        await h.stop()
        upstream.stop()
    }

    /// A drain does not wait for tunnels (they have no end to wait for): it closes them.
    func testAGracefulDrainClosesOpenTunnelsAndEnds() async throws {
        let upstream = try WebSocketUpstream(group: group)
        let h = try await gateway(upstream, ["PORTCULLIS_PROXY_DRAIN_TIMEOUT": "120s"])
        let tunnels = try (0..<3).map { _ in try open(h, token: h.token()) }
        for ws in tunnels { XCTAssertEqual(try ws.echo("x"), "x") }
        let running = h.runTask
        await h.gateway.shutdown()
        for ws in tunnels { XCTAssertTrue(ws.closes(within: 5000), "closed by the drain") }
        let ended = await withTaskGroup(of: Bool.self) { group in
            group.addTask { _ = try? await running.value; return true }
            group.addTask { try? await Task.sleep(for: .seconds(10)); return false }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
        XCTAssertTrue(ended, "the drain ended long before proxy.drain_timeout")
        XCTAssertTrue(eventually { upstream.openWebSockets == 0 })
        let text = String(decoding: h.gateway.metrics.emitToBuffer(), as: UTF8.self)
        XCTAssertTrue(text.contains(#"portcullis_tunnels_closed_total{reason="drain"} 3"#), text)
        await h.stop()
        upstream.stop()
    }

    private static func residentBytes() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
