import Foundation
import NIOPosix
import XCTest

/// What crosses the proxy on the wire when the upstream or the client sends something unusual:
/// each case over real sockets, with an upstream that writes the bytes the test chose.
final class FramingTests: XCTestCase {
    private let group = GatewayHarness.sharedGroup

    private func gateway(_ upstream: ScriptedUpstream) async throws -> GatewayHarness {
        try await GatewayHarness(upstreamURL: "http://127.0.0.1:\(upstream.port)")
    }

    private func auth(_ h: GatewayHarness) -> [(String, String)] { [("Authorization", "Bearer \(h.token())")] }

    func testCloseDelimitedHTTP10AnswerIsReframedForAKeepAliveClient() async throws {
        let upstream = try ScriptedUpstream(group: group) { _ in
            .init("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nno length here", close: true)
        }
        let h = try await gateway(upstream)
        let client = try h.client()
        let first = try client.request("GET", "/a", headers: auth(h))
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(first.header("transfer-encoding"), "chunked")
        XCTAssertEqual(first.bodyText, "no length here")
        // The client's connection is still framed and usable.
        let second = try client.request("GET", "/b", headers: auth(h))
        XCTAssertEqual(second.bodyText, "no length here")
        XCTAssertEqual(upstream.requestHeads.count, 2)
        await h.stop()
        upstream.stop()
    }

    func testCloseDelimitedAnswerToAnHTTP10ClientEndsWithClose() async throws {
        let upstream = try ScriptedUpstream(group: group) { _ in
            .init("HTTP/1.0 200 OK\r\n\r\nraw body", close: true)
        }
        let h = try await gateway(upstream)
        let client = try h.client()
        try client.send("GET / HTTP/1.0\r\nAuthorization: Bearer \(h.token())\r\n\r\n")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.bodyText, "raw body")
        XCTAssertTrue(String(decoding: response.rawHead, as: UTF8.self).hasPrefix("HTTP/1.0 200"))
        await h.stop()
        upstream.stop()
    }

    func testUnrequestedUpgradeIs502() async throws {
        let upstream = try ScriptedUpstream(group: group) { _ in
            .init("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        }
        let h = try await gateway(upstream)
        let response = try h.client().request("GET", "/", headers: auth(h))
        XCTAssertEqual(response.status, 502)
        XCTAssertEqual(response.json["error_type"] as? String, "UpstreamError")
        XCTAssertNil(response.header("upgrade"))
        await h.stop()
        upstream.stop()
    }

    func testMalformedChunkSizeWithTheHeadIs502() async throws {
        for size in ["zz", "fffffffffffffffffffff"] {
            let upstream = try ScriptedUpstream(group: group) { _ in
                .init("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\(size)\r\nhello\r\n0\r\n\r\n")
            }
            let h = try await gateway(upstream)
            let response = try h.client().request("GET", "/", headers: auth(h))
            XCTAssertEqual(response.status, 502, size)
            XCTAssertEqual(response.json["error_type"] as? String, "UpstreamError", size)
            await h.stop()
            upstream.stop()
        }
    }

    func testObsTextValuesPassUnchangedBothWays() async throws {
        let cafe: [UInt8] = Array("caf".utf8) + [0xE9]
        let upstream = try ScriptedUpstream(group: group) { _ in
            .init(bytes: Array("HTTP/1.1 200 OK\r\nX-Name: ".utf8) + cafe + Array("\r\nContent-Length: 2\r\n\r\nok".utf8))
        }
        let h = try await gateway(upstream)
        let client = try h.client()
        try client.send(Array("GET / HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(h.token())\r\nX-Name: ".utf8)
                        + cafe + Array("\r\n\r\n".utf8))
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 200)
        let expected = Array("X-Name: ".utf8) + cafe + [13, 10]
        XCTAssertNotNil(find(expected, in: response.rawHead + [13, 10]), "the response field reached the client as bytes")
        XCTAssertNotNil(find(expected, in: upstream.requestHeads[0]), "the request field reached the upstream as bytes")
        await h.stop()
        upstream.stop()
    }

    func testDuplicateOrMissingHostIs400() async throws {
        let upstream = try ScriptedUpstream(group: group) { _ in .init("HTTP/1.1 204 No Content\r\n\r\n") }
        let h = try await gateway(upstream)
        for request in ["GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nAuthorization: Bearer \(h.token())\r\n\r\n",
                        "GET / HTTP/1.1\r\nAuthorization: Bearer \(h.token())\r\n\r\n"] {
            let client = try h.client()
            try client.send(request)
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 400)
            XCTAssertEqual(response.json["error_type"] as? String, "BadRequest")
            XCTAssertTrue(client.isClosedByPeer())
        }
        XCTAssertEqual(upstream.requestHeads.count, 0)
        await h.stop()
        upstream.stop()
    }

    func testUpgradeRequestAnsweredWithoutA101KeepsTheConnection() async throws {
        let upstream = try ScriptedUpstream(group: group) { _ in .init("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") }
        let h = try await gateway(upstream)
        let client = try h.client()
        let upgrade = try client.request("GET", "/ws", headers: auth(h) + [("Upgrade", "websocket"), ("Connection", "Upgrade")])
        XCTAssertEqual(upgrade.status, 200)
        let next = try client.request("GET", "/next", headers: auth(h))
        XCTAssertEqual(next.status, 200, "the next request on the connection is read and answered")
        // proxy.websockets (default true): the handshake went upstream with its upgrade.
        let head = String(decoding: upstream.requestHeads[0], as: UTF8.self).lowercased()
        XCTAssertTrue(head.contains("\r\nupgrade: websocket\r\n"), head)
        XCTAssertTrue(head.contains("\r\nconnection: upgrade\r\n"), head)
        await h.stop()
        upstream.stop()
    }

    func testOtherUpgradesAreNotForwardedAndTheir101IsA502() async throws {
        let upstream = try ScriptedUpstream(group: group) { _ in
            .init("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")
        }
        let h = try await gateway(upstream)
        let response = try h.client().request("GET", "/", headers: auth(h) + [("Upgrade", "h2c"), ("Connection", "Upgrade")])
        XCTAssertEqual(response.status, 502)
        XCTAssertFalse(String(decoding: upstream.requestHeads[0], as: UTF8.self).lowercased().contains("upgrade"))
        await h.stop()
        upstream.stop()
    }

    func testCONNECTIs400WithAJSONBody() async throws {
        let upstream = try ScriptedUpstream(group: group) { _ in .init("HTTP/1.1 204 No Content\r\n\r\n") }
        let h = try await gateway(upstream)
        let client = try h.client()
        try client.send("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 400)
        XCTAssertEqual(response.header("content-type"), "application/json")
        XCTAssertEqual(response.bodyText, #"{"message": "Bad Request", "error_type": "BadRequest"}"#)
        XCTAssertEqual(upstream.requestHeads.count, 0)
        await h.stop()
        upstream.stop()
    }

    private func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where Array(haystack[start..<start + needle.count]) == needle {
            return start
        }
        return nil
    }
}
