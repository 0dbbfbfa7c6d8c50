import Foundation
import XCTest

final class ProtocolErrorTests: XCTestCase {
    func testOversizedHeadIs431AndCloses() async throws {
        let h = try await GatewayHarness(environment: ["PORTCULLIS_PROXY_MAX_HEADER_BYTES": "4096"])
        let client = try h.client()
        let response = try client.request("GET", "/", headers: [("Authorization", "Bearer \(h.token())"),
                                                                ("X-Big", String(repeating: "a", count: 6000))])
        XCTAssertEqual(response.status, 431)
        XCTAssertEqual(response.json["error_type"] as? String, "RequestHeaderFieldsTooLarge")
        XCTAssertTrue(client.isClosedByPeer())
        // Just under the limit passes.
        let fits = try h.client().request("GET", "/", headers: [("Authorization", "Bearer \(h.token())"),
                                                                ("X-Big", String(repeating: "a", count: 3000))])
        XCTAssertEqual(fits.status, 200)
        XCTAssertEqual(h.upstream.requestsSeen, 1)
        await h.stop()
    }

    func testGarbageIs400AndCloses() async throws {
        let h = try await GatewayHarness()
        let client = try h.client()
        try client.send("THIS IS NOT HTTP\r\n\r\n")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 400)
        XCTAssertEqual(response.json["error_type"] as? String, "BadRequest")
        XCTAssertTrue(client.isClosedByPeer())
        XCTAssertEqual(h.upstream.requestsSeen, 0)
        await h.stop()
    }

    func testAbsoluteFormTargetIs400() async throws {
        let h = try await GatewayHarness()
        let client = try h.client()
        let response = try client.request("GET", "http://elsewhere.example/", headers: [("Authorization", "Bearer \(h.token())")])
        XCTAssertEqual(response.status, 400)
        XCTAssertEqual(h.upstream.requestsSeen, 0)
        await h.stop()
    }

    /// Request smuggling between Portcullis and the upstream: an ambiguous body length is never
    /// forwarded. Each case gets 400 and a closed connection; the upstream sees nothing.
    func testAmbiguousBodyFramingIsRefused() async throws {
        let h = try await GatewayHarness(environment: ["PORTCULLIS_PROXY_PUBLIC_PATHS": "/open/*"])
        let cases = [
            ("Content-Length with Transfer-Encoding",
             "POST /open/a HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            ("two different Content-Length values",
             "POST /open/a HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
            ("invalid chunk size",
             "POST /open/a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
            ("chunked not last in Transfer-Encoding",
             "POST /open/a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"),
            ("negative Content-Length",
             "POST /open/a HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n"),
        ]
        for (name, request) in cases {
            let client = try h.client()
            try client.send(request)
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 400, name)
            XCTAssertTrue(client.isClosedByPeer(), "\(name): connection closed")
        }
        XCTAssertEqual(h.upstream.requestsSeen, 0, "nothing ambiguous reached the upstream")
        await h.stop()
    }
}
