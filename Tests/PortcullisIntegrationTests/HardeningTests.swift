import Foundation
import NIOCore
import NIOPosix
import XCTest

/// The client-side limits and timeouts (issue 6) over real sockets, with small values so each
/// test takes a moment. Nothing here asserts a duration: tests wait for a condition instead.
final class HardeningTests: XCTestCase {
    private func bearer(_ h: GatewayHarness) -> (String, String) { ("Authorization", "Bearer \(h.token())") }

    /// Polls `condition` every 20 ms for up to `seconds`.
    private func eventually(_ seconds: Double = 5, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(20_000)
        }
        return try condition()
    }

    func testTooManyHeaderFieldsIs431AndCloses() async throws {
        let h = try await GatewayHarness(environment: ["PORTCULLIS_PROXY_MAX_HEADERS": "20"])
        // Host and Authorization plus 18 more: exactly 20 fields pass.
        let fill = (1...18).map { ("X-Fill-\($0)", "v") }
        let fits = try h.client().request("GET", "/", headers: [bearer(h)] + fill)
        XCTAssertEqual(fits.status, 200)

        let client = try h.client()
        let response = try client.request("GET", "/", headers: [bearer(h)] + fill + [("X-Fill-19", "v")])
        XCTAssertEqual(response.status, 431)
        XCTAssertEqual(response.bodyText,
                       #"{"message": "Request Header Fields Too Large", "error_type": "RequestHeaderFieldsTooLarge"}"#)
        XCTAssertTrue(client.isClosedByPeer())
        XCTAssertEqual(h.upstream.requestsSeen, 1)
        await h.stop()
    }

    func testLongRequestTargetIs414AndClosesBeforeTheGate() async throws {
        let h = try await GatewayHarness(environment: ["PORTCULLIS_PROXY_MAX_URI_BYTES": "1024"])
        let fits = try h.client().request("GET", "/" + String(repeating: "a", count: 1023), headers: [bearer(h)])
        XCTAssertEqual(fits.status, 200)

        // No token at all: the limit is checked before the gate would answer 401.
        let client = try h.client()
        let response = try client.request("GET", "/" + String(repeating: "a", count: 1024))
        XCTAssertEqual(response.status, 414)
        XCTAssertEqual(response.bodyText, #"{"message": "URI too long", "error_type": "URITooLong"}"#)
        XCTAssertEqual(response.header("content-type"), "application/json")
        XCTAssertTrue(client.isClosedByPeer())
        XCTAssertEqual(h.upstream.requestsSeen, 1)
        await h.stop()
    }

    func testSlowlorisHeadIs408AndCloses() async throws {
        let h = try await GatewayHarness(environment: ["PORTCULLIS_PROXY_HEADER_READ_TIMEOUT": "300ms"])
        let client = try h.client()
        // One header byte every 100 ms: each gap is well inside the timeout, the head never ends.
        try client.send("GET / HTTP/1.1\r\nHost: t\r\n")
        var trickled = 0
        while trickled < 100, !client.waitReadable(milliseconds: 100) {
            try client.send("X")
            trickled += 1
        }
        XCTAssertLessThan(trickled, 100, "the gate answered while the head was still trickling in")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 408)
        XCTAssertEqual(response.bodyText, #"{"message": "Request timeout", "error_type": "RequestTimeout"}"#)
        XCTAssertEqual(response.header("connection")?.lowercased(), "close")
        XCTAssertTrue(client.isClosedByPeer())
        XCTAssertEqual(h.upstream.requestsSeen, 0)
        await h.stop()
    }

    func testSilentConnectionAndSlowSecondHeadGet408() async throws {
        let h = try await GatewayHarness(environment: ["PORTCULLIS_PROXY_HEADER_READ_TIMEOUT": "300ms"])
        // Nothing sent after accept.
        let silent = try h.client()
        XCTAssertEqual(try silent.readResponse().status, 408)
        XCTAssertTrue(silent.isClosedByPeer())

        // A keep-alive connection: the first request is served, the next head starts and stalls.
        let client = try h.client()
        XCTAssertEqual(try client.request("GET", "/", headers: [bearer(h)]).status, 200)
        try client.send("GET / HTTP/1.1\r\nHost: t\r\n")
        XCTAssertEqual(try client.readResponse().status, 408)
        XCTAssertTrue(client.isClosedByPeer())
        await h.stop()
    }

    func testIdleKeepAliveConnectionIsClosedSilently() async throws {
        // 6× the gap between the requests below, so a loaded CI machine cannot make them "idle".
        let h = try await GatewayHarness(environment: ["PORTCULLIS_PROXY_IDLE_TIMEOUT": "600ms"])
        let client = try h.client()
        XCTAssertEqual(try client.request("GET", "/", headers: [bearer(h)]).status, 200)
        // Requests keep it open while they come faster than the timeout.
        for _ in 0..<5 {
            usleep(100_000)
            XCTAssertEqual(try client.request("GET", "/", headers: [bearer(h)]).status, 200)
        }
        // Then nothing: closed, with no answer written (isClosedByPeer is false if a byte arrives).
        XCTAssertTrue(client.isClosedByPeer())
        await h.stop()
    }

    func testStalledRequestBodyClosesAndAbortsTheUpstreamRequest() async throws {
        let h = try await GatewayHarness(environment: ["PORTCULLIS_PROXY_IDLE_TIMEOUT": "600ms"])
        let head = "POST /echo HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(h.token())\r\nContent-Length: 20\r\n\r\n"

        // A body that keeps coming, slowly but within the timeout, is not cut.
        let steady = try h.client()
        try steady.send(head)
        for _ in 0..<10 {
            usleep(100_000)
            try steady.send("ab")
        }
        let response = try steady.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.json["body_bytes"] as? Int, 20)

        // A body that stops: the connection closes without an answer, the upstream request is dropped.
        let closedBefore = h.upstream.connectionsClosed
        let stalled = try h.client()
        try stalled.send(head + "only ten b")
        XCTAssertTrue(stalled.isClosedByPeer())
        XCTAssertTrue(eventually { h.upstream.connectionsClosed > closedBefore }, "the upstream connection is closed")
        XCTAssertEqual(h.upstream.requestsSeen, 2)
        await h.stop()
    }

    func testConnectionCapRefusesTheExtraConnectionUntilOneCloses() async throws {
        let h = try await GatewayHarness(environment: ["PORTCULLIS_PROXY_MAX_CONNECTIONS": "2"])
        var first: RawHTTPClient? = try h.client()
        let second = try h.client()
        // Served, so both are accepted and counted before the third connects.
        XCTAssertEqual(try first?.request("GET", "/", headers: [bearer(h)]).status, 200)
        XCTAssertEqual(try second.request("GET", "/", headers: [bearer(h)]).status, 200)

        let extra = try h.client()
        let refused = try extra.readResponse()
        XCTAssertEqual(refused.status, 503)
        XCTAssertEqual(refused.bodyText, #"{"message": "Too many connections", "error_type": "TooManyConnections"}"#)
        XCTAssertTrue(extra.isClosedByPeer())
        XCTAssertEqual(try second.request("GET", "/", headers: [bearer(h)]).status, 200, "open connections still work")

        first = nil
        let servedAgain = eventually {
            (try? h.client().request("GET", "/", headers: [bearer(h)]).status) == 200
        }
        XCTAssertTrue(servedAgain, "a new connection is served once one closed")
        let metrics = try h.adminClient().request("GET", "/metrics").bodyText
        XCTAssertTrue(metrics.contains("portcullis_connections_refused_total"), metrics)
        await h.stop()
    }

    func testDrainTimeoutCutsARequestStillWaitingForTheUpstream() async throws {
        let h = try await GatewayHarness(environment: ["PORTCULLIS_PROXY_DRAIN_TIMEOUT": "300ms"])
        let client = try h.client()
        try client.send("GET /slow?ms=10000 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(h.token())\r\n\r\n")
        XCTAssertTrue(eventually { h.upstream.requestsSeen == 1 }, "the request is with the upstream")

        await h.gateway.shutdown()
        // Closed without an answer long before the upstream's 10 s (the client's read timeout is 15 s).
        XCTAssertTrue(client.isClosedByPeer())
        XCTAssertTrue(eventually { h.upstream.connectionsClosed >= 1 }, "the upstream request is aborted")
        await h.stop()
    }

    func testDrainLetsAShortRequestFinish() async throws {
        let h = try await GatewayHarness(environment: ["PORTCULLIS_PROXY_DRAIN_TIMEOUT": "10s"])
        let client = try h.client()
        try client.send("GET /slow?ms=300 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(h.token())\r\n\r\n")
        XCTAssertTrue(eventually { h.upstream.requestsSeen == 1 })
        await h.gateway.shutdown()
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("connection")?.lowercased(), "close")
        await h.stop()
    }

    /// A denial that comes while reads are paused (here: waiting for an upstream connection that
    /// is refused) with the body still arriving: the rest is read and dropped, the connection is kept.
    func testDenialWhileReadsArePausedStillReadsTheRestOfTheBody() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let placeholder = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = placeholder.localAddress!.port!
        try await placeholder.close()
        let h = try await GatewayHarness(upstreamURL: "http://127.0.0.1:\(port)")
        let client = try h.client()
        try client.send("POST / HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(h.token())\r\nContent-Length: 10\r\n\r\nhello")
        XCTAssertEqual(try client.readResponse().status, 502)
        try client.send("world")
        XCTAssertEqual(try client.request("GET", "/", headers: [bearer(h)]).status, 502, "the connection still serves")
        await h.stop()
        try await group.shutdownGracefully()
    }
}
