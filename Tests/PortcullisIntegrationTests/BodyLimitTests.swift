import Foundation
import XCTest

/// `proxy.max_body_bytes`: 413 `PayloadTooLargeError` before forwarding when Content-Length
/// says so; a chunked body is cut at the limit and the upstream never gets it whole.
final class BodyLimitTests: XCTestCase {
    func testDeclaredLengthOverTheLimitIsRefusedBeforeForwarding() async throws {
        let h = try await GatewayHarness(environment: ["PORTCULLIS_PROXY_MAX_BODY_BYTES": "1000"])
        let client = try h.client()
        try client.send("POST /upload HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(h.token())\r\nContent-Length: 1001\r\n\r\n")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 413)
        XCTAssertEqual(response.bodyText, #"{"message": "Request body too large", "error_type": "PayloadTooLargeError"}"#)
        XCTAssertEqual(response.header("content-type"), "application/json")
        XCTAssertEqual(h.upstream.requestsSeen, 0)
        // At the limit passes.
        let fits = try h.client().request("POST", "/upload", headers: [("Authorization", "Bearer \(h.token())")],
                                          body: String(repeating: "a", count: 1000))
        XCTAssertEqual(fits.status, 200)
        XCTAssertEqual(fits.json["body_bytes"] as? Int, 1000)
        await h.stop()
    }

    func testChunkedBodyIsCutAtTheLimit() async throws {
        let h = try await GatewayHarness(environment: ["PORTCULLIS_PROXY_MAX_BODY_BYTES": "1000"])
        let client = try h.client()
        try client.send("POST /upload HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(h.token())\r\nTransfer-Encoding: chunked\r\n\r\n")
        try client.send("258\r\n" + String(repeating: "a", count: 600) + "\r\n")
        try client.send("258\r\n" + String(repeating: "b", count: 600) + "\r\n0\r\n\r\n")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 413)
        XCTAssertEqual(response.json["error_type"] as? String, "PayloadTooLargeError")
        XCTAssertTrue(client.isClosedByPeer())
        // The upstream connection that carried part of the body is dropped, never reused.
        let deadline = Date().addingTimeInterval(5)
        while h.upstream.connectionsClosed < h.upstream.connectionsAccepted, Date() < deadline { usleep(10_000) }
        XCTAssertEqual(h.upstream.connectionsClosed, h.upstream.connectionsAccepted)
        // A chunked body within the limit still goes through whole.
        let small = try h.client()
        try small.send("POST /upload HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(h.token())\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" + String(repeating: "c", count: 1000) + "\r\n0\r\n\r\n")
        XCTAssertEqual(try small.readResponse().json["body_bytes"] as? Int, 1000)
        await h.stop()
    }
}
