import Foundation
import NIOCore
import NIOPosix
import XCTest

final class UpstreamFailureTests: XCTestCase {
    func testRefusedConnectionIs502() async throws {
        // Bind a port, then close it: nothing listens there any more.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let placeholder = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = placeholder.localAddress!.port!
        try await placeholder.close()
        let h = try await GatewayHarness(upstreamURL: "http://127.0.0.1:\(port)")
        let response = try h.client().request("GET", "/", headers: [("Authorization", "Bearer \(h.token())")])
        XCTAssertEqual(response.status, 502)
        XCTAssertEqual(response.bodyText, #"{"message": "Upstream unavailable", "error_type": "UpstreamError"}"#)
        XCTAssertNil(response.header("www-authenticate"))
        await h.stop()
        try await group.shutdownGracefully()
    }

    func testResetBeforeResponseIs502() async throws {
        let h = try await GatewayHarness()
        let client = try h.client()
        let response = try client.request("GET", "/reset", headers: [("Authorization", "Bearer \(h.token())")])
        XCTAssertEqual(response.status, 502)
        XCTAssertEqual(response.json["error_type"] as? String, "UpstreamError")
        await h.stop()
    }

    func testSlowUpstreamIs504() async throws {
        let h = try await GatewayHarness(environment: ["PORTCULLIS_PROXY_UPSTREAM_TIMEOUT": "300ms"])
        let client = try h.client()
        let response = try client.request("GET", "/slow?ms=3000", headers: [("Authorization", "Bearer \(h.token())")])
        XCTAssertEqual(response.status, 504)
        XCTAssertEqual(response.bodyText, #"{"message": "Upstream timed out", "error_type": "UpstreamTimeoutError"}"#)
        // A fast request on the same client connection still works afterwards.
        XCTAssertEqual(try client.request("GET", "/slow?ms=10", headers: [("Authorization", "Bearer \(h.token())")]).status, 200)
        await h.stop()
    }

    func testUpstreamStatusPassesThrough() async throws {
        let h = try await GatewayHarness()
        let response = try h.client().request("GET", "/status/503", headers: [("Authorization", "Bearer \(h.token())")])
        XCTAssertEqual(response.status, 503)
        XCTAssertEqual(response.bodyText, #"{"status": 503}"#, "an upstream error is the upstream's, not ours")
        await h.stop()
    }
}
