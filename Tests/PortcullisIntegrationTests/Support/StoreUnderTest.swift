import Foundation
import XCTest

/// A whole gateway on one kind of revocation store, so one admin API scenario runs on each:
/// the embedded store, and Redis through a real `redis-server` started for the test.
final class StoreUnderTest {
    enum Kind: String {
        case memory
        case redis
    }

    let kind: Kind
    let harness: GatewayHarness
    /// The server behind the gateway, for reading keys back with redis-cli; nil on `memory`.
    let redis: RedisServer?

    /// `environment` holds PORTCULLIS_* overrides, as for `GatewayHarness`.
    init(_ kind: Kind, environment: [String: String] = [:]) async throws {
        self.kind = kind
        var environment = environment
        if kind == .redis {
            let redis = try RedisServer()
            environment["PORTCULLIS_REVOCATION_STORE"] = "redis"
            environment["PORTCULLIS_REVOCATION_REDIS_URL"] = redis.url
            self.redis = redis
        } else {
            self.redis = nil
        }
        harness = try await GatewayHarness(environment: environment)
        try await waitUntilReady()
    }

    /// A gateway on `kind` for `scenario`, stopped afterwards whatever happens.
    static func run(_ kind: Kind, environment: [String: String] = [:],
                    _ scenario: (StoreUnderTest) async throws -> Void) async throws {
        let store = try await StoreUnderTest(kind, environment: environment)
        do {
            try await scenario(store)
        } catch {
            await store.stop()
            throw error
        }
        await store.stop()
    }

    func stop() async {
        await harness.stop()
        redis?.stop()
    }

    /// Polls `/readyz`: the Redis connection is made in the background after start.
    private func waitUntilReady(seconds: Double = 5) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? harness.adminClient().request("GET", "/readyz"))?.status == 200 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw RawHTTPClient.ClientError(description: "\(kind) store not ready within \(seconds)s")
    }

    /// An admin API call with the admin token.
    @discardableResult
    func admin(_ method: String, _ target: String, body: String? = nil) throws -> RawHTTPClient.Response {
        try harness.adminClient().request(method, target,
                                          headers: [("Authorization", "Bearer \(GatewayHarness.adminToken)")], body: body)
    }

    /// The status the proxy answers for a request bearing `token`.
    func proxyStatus(_ token: String) throws -> Int {
        try harness.client().request("GET", "/", headers: [("Authorization", "Bearer \(token)")]).status
    }

    /// Every jti of `GET /v1/revocations`, following `next_cursor` to the end with `limit`.
    /// Fails when a page is larger than `limit` or the pages do not end.
    func listAll(limit: Int, file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        var jtis: [String] = []
        var cursor: String?
        for _ in 0..<1_000 {
            let target = "/v1/revocations?limit=\(limit)" + (cursor.map { "&cursor=\($0)" } ?? "")
            let page = try admin("GET", target)
            XCTAssertEqual(page.status, 200, "\(kind): \(target): \(page.bodyText)", file: file, line: line)
            let items = try XCTUnwrap(page.json["items"] as? [[String: Any]], "\(kind): \(page.bodyText)", file: file, line: line)
            XCTAssertLessThanOrEqual(items.count, limit, "\(kind): a page larger than limit", file: file, line: line)
            for item in items {
                jtis.append(try XCTUnwrap(item["jti"] as? String, file: file, line: line))
                let ttl = try XCTUnwrap(item["ttl_seconds"] as? Int, file: file, line: line)
                XCTAssertGreaterThan(ttl, 0, "\(kind): \(item)", file: file, line: line)
            }
            guard let next = page.json["next_cursor"] as? String else {
                XCTAssertTrue(page.json["next_cursor"] is NSNull, "\(kind): next_cursor is a string or null", file: file, line: line)
                return jtis
            }
            cursor = next
        }
        XCTFail("\(kind): the pages did not end", file: file, line: line)
        return jtis
    }
}
