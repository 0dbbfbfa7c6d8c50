import Foundation
import XCTest

/// `GET /metrics` after known traffic: the counts match what was sent.
final class MetricsTests: XCTestCase {
    private func value(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    func testCountsMatchTraffic() async throws {
        let h = try await GatewayHarness(environment: ["PORTCULLIS_PROXY_PUBLIC_PATHS": "/health"])
        let client = try h.client()
        let token = h.token(jti: "metrics-revoked")
        for _ in 0..<3 { XCTAssertEqual(try client.request("GET", "/", headers: [("Authorization", "Bearer \(token)")]).status, 200) }
        XCTAssertEqual(try client.request("GET", "/health").status, 200)
        XCTAssertEqual(try client.request("GET", "/").status, 401)
        XCTAssertEqual(try client.request("GET", "/", headers: [("Authorization", "Bearer x.y.z")]).status, 422)
        XCTAssertEqual(try h.revoke(jti: "metrics-revoked").status, 201)
        XCTAssertEqual(try client.request("GET", "/", headers: [("Authorization", "Bearer \(token)")]).status, 401)
        XCTAssertEqual(try client.request("GET", "/status/503", headers: [("Authorization", "Bearer \(h.token())")]).status, 503)

        let response = try h.adminClient().request("GET", "/metrics")
        XCTAssertEqual(response.status, 200)
        XCTAssertTrue(response.header("content-type")?.hasPrefix("text/plain") == true)
        let text = response.bodyText
        XCTAssertEqual(value(text, #"portcullis_requests_total{outcome="forwarded"}"#), 4)
        XCTAssertEqual(value(text, #"portcullis_requests_total{outcome="public"}"#), 1)
        XCTAssertEqual(value(text, #"portcullis_requests_total{outcome="denied",reason="missing_token",error_type="MissingTokenError"}"#), 1)
        XCTAssertEqual(value(text, #"portcullis_requests_total{outcome="denied",reason="malformed",error_type="JWTDecodeError"}"#), 1)
        XCTAssertEqual(value(text, #"portcullis_requests_total{outcome="denied",reason="revoked",error_type="RevokedTokenError"}"#), 1)
        XCTAssertEqual(value(text, #"portcullis_upstream_responses_total{class="2xx"}"#), 4)
        XCTAssertEqual(value(text, #"portcullis_upstream_responses_total{class="5xx"}"#), 1)
        XCTAssertEqual(value(text, "portcullis_revocations_written_total"), 1)
        XCTAssertEqual(value(text, "portcullis_open_connections"), 1, "the one client connection")
        XCTAssertNotNil(value(text, "portcullis_request_duration_seconds_count"))
        XCTAssertFalse(text.contains("metrics-revoked"), "no jti in metrics")
        await h.stop()
    }
}
