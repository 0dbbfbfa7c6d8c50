import Foundation
import XCTest

/// `revocation.store: redis` against a real redis-server on a loopback port.
final class RedisStoreTests: XCTestCase {
    private let auth = [("Authorization", "Bearer \(GatewayHarness.adminToken)")]

    private func gateway(_ redis: RedisServer, _ extra: [String: String] = [:]) async throws -> GatewayHarness {
        let h = try await GatewayHarness(environment: [
            "PORTCULLIS_REVOCATION_STORE": "redis", "PORTCULLIS_REVOCATION_REDIS_URL": redis.url,
        ].merging(extra) { $1 })
        try await waitReady(h)
        return h
    }

    private func waitReady(_ h: GatewayHarness, seconds: Double = 5) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? h.adminClient().request("GET", "/readyz"))?.status == 200 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTFail("not ready within \(seconds)s")
    }

    private func status(_ h: GatewayHarness, _ token: String) throws -> Int {
        try h.client().request("GET", "/", headers: [("Authorization", "Bearer \(token)")]).status
    }

    func testRevokeIsRejectedOnTheNextRequestAndWrittenWithTheTokensTTL() async throws {
        let redis = try RedisServer()
        let h = try await gateway(redis, ["PORTCULLIS_JWT_LEEWAY": "30s"])
        let token = h.token(jti: "redis-jti-1", ttl: 600)
        XCTAssertEqual(try status(h, token), 200)
        let expiresAt = Int(Date().timeIntervalSince1970) + 600
        XCTAssertEqual(try h.revoke(jti: "redis-jti-1", expiresAt: Double(expiresAt)).status, 201)
        XCTAssertEqual(try status(h, token), 401)
        let ttl = Int(try redis.cli(["TTL", "portcullis:jti:redis-jti-1"])) ?? -100
        XCTAssertTrue((625...630).contains(ttl), "TTL is exp - now + leeway, got \(ttl)")
        // Lookup and un-revoke through the admin API.
        let found = try h.adminClient().request("GET", "/v1/revocations/redis-jti-1", headers: auth)
        XCTAssertEqual(found.json["revoked"] as? Bool, true)
        XCTAssertEqual(try h.adminClient().request("DELETE", "/v1/revocations/redis-jti-1", headers: auth).status, 204)
        XCTAssertEqual(try status(h, token), 200)
        // An already-expired token answers 201 and writes nothing.
        let expired = try h.adminClient().request("POST", "/v1/revocations", headers: auth, body: #"{"jti": "old", "expires_at": 1000}"#)
        XCTAssertEqual(expired.status, 201)
        XCTAssertEqual(try redis.cli(["EXISTS", "portcullis:jti:old"]), "0")
        await h.stop()
    }

    func testOperatorWrittenKeysAreHonouredAtOnce() async throws {
        let redis = try RedisServer()
        let h = try await gateway(redis)
        let byJTI = h.token(sub: "u1", jti: "op-jti")
        let bySubject = h.token(sub: "u2", jti: "op-sub", now: Date().timeIntervalSince1970 - 60)
        XCTAssertEqual(try status(h, byJTI), 200)
        XCTAssertEqual(try status(h, bySubject), 200)
        try redis.cli(["SETEX", "portcullis:jti:op-jti", "300", "revoked"])
        XCTAssertEqual(try status(h, byJTI), 401)
        try redis.cli(["SETEX", "portcullis:sub:u2", "300", "\(Int(Date().timeIntervalSince1970) - 30)"])
        XCTAssertEqual(try status(h, bySubject), 401, "issued before the cut-off")
        let newer = h.token(sub: "u2", jti: "op-sub-2", now: Date().timeIntervalSince1970 - 5)
        XCTAssertEqual(try status(h, newer), 200, "issued after the cut-off")
        await h.stop()
    }

    func testSeedLayoutsThroughTemplates() async throws {
        let redis = try RedisServer()
        let h = try await gateway(redis, ["PORTCULLIS_REVOCATION_JTI_KEY": "blocklist:{jti}",
                                          "PORTCULLIS_REVOCATION_TOKEN_KEY": "revoked:{token}"])
        let a = h.token(jti: "seed-a")
        let b = h.token(jti: "seed-b")
        try redis.cli(["SETEX", "blocklist:seed-a", "300", "revoked"])
        try redis.cli(["SETEX", "revoked:\(b)", "300", "1"])
        XCTAssertEqual(try status(h, a), 401)
        XCTAssertEqual(try status(h, b), 401)
        XCTAssertEqual(try status(h, h.token(jti: "seed-c")), 200)
        // Admin writes land in the application's own layout.
        XCTAssertEqual(try h.revoke(jti: "seed-d").status, 201)
        XCTAssertEqual(try redis.cli(["EXISTS", "blocklist:seed-d"]), "1")
        await h.stop()
    }

    func testTwoGatewaysShareRevocations() async throws {
        let redis = try RedisServer()
        let first = try await gateway(redis)
        let second = try await gateway(redis)
        let token = first.token(jti: "shared")
        XCTAssertEqual(try status(second, token), 200)
        XCTAssertEqual(try first.revoke(jti: "shared").status, 201)
        XCTAssertEqual(try status(second, token), 401, "a 201 from one is visible through the other")
        await first.stop()
        await second.stop()
    }

    func testOutageFailsClosedThenRecoversWithoutRestart() async throws {
        let redis = try RedisServer()
        let h = try await gateway(redis, ["PORTCULLIS_REVOCATION_TIMEOUT": "200ms"])
        let token = h.token(jti: "outage")
        XCTAssertEqual(try h.revoke(jti: "revoked-before-outage").status, 201)
        let revoked = h.token(jti: "revoked-before-outage")
        redis.stop()
        let started = Date()
        let response = try h.client().request("GET", "/", headers: [("Authorization", "Bearer \(token)")])
        XCTAssertEqual(response.status, 503)
        XCTAssertEqual(response.json["error_type"] as? String, "RevocationStoreUnavailableError")
        XCTAssertLessThan(Date().timeIntervalSince(started), 2, "no hang while the store is down")
        XCTAssertEqual(try h.adminClient().request("GET", "/readyz").status, 503)
        XCTAssertEqual(try status(h, revoked), 503, "a revoked token is never admitted")

        try redis.start()
        try await waitReady(h, seconds: 3)
        XCTAssertEqual(try status(h, token), 200)
        await h.stop()
    }

    func testFailOpenLetsRequestsThroughButNotKnownRevocations() async throws {
        let redis = try RedisServer()
        let h = try await gateway(redis, ["PORTCULLIS_REVOCATION_FAIL_MODE": "open"])
        let token = h.token(jti: "open")
        redis.stop()
        XCTAssertEqual(try status(h, token), 200)
        await h.stop()
    }

    func testPasswordProtectedRedis() async throws {
        let redis = try RedisServer(password: "s3cret-redis-pass")
        let h = try await gateway(redis)
        let token = h.token(jti: "auth-jti")
        XCTAssertEqual(try h.revoke(jti: "auth-jti").status, 201)
        XCTAssertEqual(try status(h, token), 401)
        await h.stop()
        // A wrong password never becomes ready.
        let wrong = try await GatewayHarness(environment: [
            "PORTCULLIS_REVOCATION_STORE": "redis",
            "PORTCULLIS_REVOCATION_REDIS_URL": "redis://:wrong@127.0.0.1:\(redis.port)/0",
        ])
        try await Task.sleep(for: .milliseconds(300))
        XCTAssertEqual(try wrong.adminClient().request("GET", "/readyz").status, 503)
        XCTAssertEqual(try status(wrong, token), 503)
        await wrong.stop()
    }
}
