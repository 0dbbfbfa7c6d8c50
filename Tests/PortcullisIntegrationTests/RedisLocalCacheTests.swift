import Foundation
import XCTest

/// `revocation.local_cache: tracking` against a real redis-server: "not revoked" answers are
/// kept in the process and Redis invalidates them (RESP2: `CLIENT TRACKING … REDIRECT` to a
/// `SUBSCRIBE __redis__:invalidate` connection). Every way a key can change, and every way a
/// connection can go, is tried; after the 100 ms bound a revoked token is never admitted.
final class RedisLocalCacheTests: XCTestCase {
    /// INTERFACE §7: a revocation reaches every cache within this.
    private let bound: Duration = .milliseconds(100)

    private func gateway(_ redis: RedisServer, _ extra: [String: String] = [:]) async throws -> GatewayHarness {
        let h = try await GatewayHarness(environment: [
            "PORTCULLIS_REVOCATION_STORE": "redis", "PORTCULLIS_REVOCATION_REDIS_URL": redis.url,
            "PORTCULLIS_REVOCATION_LOCAL_CACHE": "tracking",
        ].merging(extra) { $1 })
        try await waitUntilInUse(h)
        return h
    }

    private func metric(_ h: GatewayHarness, _ name: String) throws -> Double {
        let text = try h.adminClient().request("GET", "/metrics").bodyText
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last ?? "") ?? .nan
        }
        return .nan
    }

    private func waitUntilInUse(_ h: GatewayHarness, _ expected: Double = 1, seconds: Double = 20) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? metric(h, "portcullis_revocation_cache_in_use")) == expected { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        XCTFail("portcullis_revocation_cache_in_use did not become \(expected) within \(seconds)s")
    }

    private func status(_ h: GatewayHarness, _ token: String) throws -> Int {
        try h.client().request("GET", "/", headers: [("Authorization", "Bearer \(token)")]).status
    }

    /// Past the bound after a change, `token` is refused on every gateway, several times over.
    private func refusedEverywhere(_ gateways: [GatewayHarness], _ token: String, since change: ContinuousClock.Instant,
                                   _ what: String, file: StaticString = #filePath, line: UInt = #line) async throws {
        // Showing that a revoked token is not admitted past the bound: wait it out first.
        try await Task.sleep(until: change + bound)
        for h in gateways {
            for _ in 0..<5 {
                XCTAssertEqual(try status(h, token), 401, what, file: file, line: line)
            }
        }
    }

    func testEveryKindOfChangeReachesEveryCache() async throws {
        let redis = try RedisServer()
        let a = try await gateway(redis)
        let b = try await gateway(redis)
        let viaAdmin = a.token(sub: "cache-admin", jti: "cache-admin")
        let viaSETEX = a.token(sub: "cache-setex", jti: "cache-setex")
        let viaSADD = a.token(sub: "cache-sadd", jti: "cache-sadd")
        let viaSubject = a.token(sub: "cache-subject", jti: "cache-subject", now: Date().timeIntervalSince1970 - 60)
        let all = [viaAdmin, viaSETEX, viaSADD, viaSubject]
        // On one connection (one event loop, one cache): the first answer is a miss, the
        // second comes from the cache. Then on fresh connections, which reach every loop.
        for h in [a, b] {
            let client = try h.client()
            for token in all {
                XCTAssertEqual(try client.request("GET", "/", headers: [("Authorization", "Bearer \(token)")]).status, 200)
            }
            let hits = try metric(h, "portcullis_revocation_cache_hits_total")
            for token in all {
                XCTAssertEqual(try client.request("GET", "/", headers: [("Authorization", "Bearer \(token)")]).status, 200)
            }
            XCTAssertEqual(try metric(h, "portcullis_revocation_cache_hits_total"), hits + 4, "answered from the cache")
            for token in all + all { XCTAssertEqual(try status(h, token), 200) }
        }

        // Through another Portcullis's admin API: the issuing one's own cache at once...
        XCTAssertEqual(try a.revoke(jti: "cache-admin").status, 201)
        let revokedAt = ContinuousClock.now
        XCTAssertEqual(try status(a, viaAdmin), 401, "the issuing instance's next request")
        // ...and the other one's within the bound.
        try await refusedEverywhere([a, b], viaAdmin, since: revokedAt, "revoked through the admin API")

        var change = ContinuousClock.now
        try redis.cli(["SETEX", "portcullis:jti:cache-setex", "300", "revoked"])
        try await refusedEverywhere([a, b], viaSETEX, since: change, "redis-cli SETEX")

        change = ContinuousClock.now
        try redis.cli(["SADD", "portcullis:jti:cache-sadd", "revoked"])
        try await refusedEverywhere([a, b], viaSADD, since: change, "redis-cli SADD")

        change = ContinuousClock.now
        try redis.cli(["SET", "portcullis:sub:cache-subject", "\(Int(Date().timeIntervalSince1970) - 30)"])
        try await refusedEverywhere([a, b], viaSubject, since: change, "a subject cut-off by hand")
        XCTAssertGreaterThan(try metric(b, "portcullis_revocation_cache_invalidations_total"), 0)

        // FLUSHALL (a null invalidation) empties every cache: the next answers are misses...
        let fresh = a.token(sub: "cache-flush", jti: "cache-flush")
        for h in [a, b] {
            XCTAssertEqual(try status(h, fresh), 200)
            XCTAssertEqual(try status(h, fresh), 200)
        }
        try redis.cli(["FLUSHALL"])
        change = ContinuousClock.now
        try await Task.sleep(until: change + bound)
        for h in [a, b] {
            let misses = try metric(h, "portcullis_revocation_cache_misses_total")
            XCTAssertEqual(try status(h, fresh), 200, "nothing is revoked after FLUSHALL")
            XCTAssertEqual(try metric(h, "portcullis_revocation_cache_misses_total"), misses + 1, "emptied by FLUSHALL")
        }
        // ...and the application seeding its blocklist again is honoured as any write.
        change = ContinuousClock.now
        try redis.cli(["SETEX", "portcullis:jti:cache-flush", "300", "1"])
        try redis.cli(["SETEX", "portcullis:jti:cache-admin", "300", "1"])
        try await refusedEverywhere([a, b], fresh, since: change, "re-seeded after FLUSHALL")
        try await refusedEverywhere([a, b], viaAdmin, since: change, "re-seeded after FLUSHALL")

        // Un-revoked: a revoked answer is never cached, so it is accepted again at once.
        XCTAssertEqual(try a.adminClient().request("DELETE", "/v1/revocations/cache-flush",
                                                    headers: [("Authorization", "Bearer \(GatewayHarness.adminToken)")]).status, 204)
        XCTAssertEqual(try status(a, fresh), 200)
        await a.stop()
        await b.stop()
    }

    private func clientIDs(_ redis: RedisServer, named name: String) throws -> [String] {
        try redis.cli(["CLIENT", "LIST"]).split(separator: "\n").filter { $0.contains("name=\(name) ") }.compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("id=") }.map { String($0.dropFirst(3)) }
        }
    }

    /// `CLIENT KILL` of the invalidation connection, then of the tracking (lookup) connections:
    /// each time a write made while Portcullis is blind is still honoured, and the cache comes
    /// back by itself.
    func testKilledConnectionsEmptyAndBypassTheCache() async throws {
        let redis = try RedisServer()
        let h = try await gateway(redis)
        for (index, victim) in ["portcullis-invalidation", "portcullis-lookup"].enumerated() {
            let token = h.token(jti: "killed-\(index)")
            // Cached on every loop: a fresh connection may land on either.
            for _ in 0..<4 { XCTAssertEqual(try status(h, token), 200) }
            let cached = try h.client()
            XCTAssertEqual(try cached.request("GET", "/", headers: [("Authorization", "Bearer \(token)")]).status, 200)
            let hits = try metric(h, "portcullis_revocation_cache_hits_total")
            XCTAssertEqual(try cached.request("GET", "/", headers: [("Authorization", "Bearer \(token)")]).status, 200)
            XCTAssertEqual(try metric(h, "portcullis_revocation_cache_hits_total"), hits + 1, "cached before the kill")

            let ids = try clientIDs(redis, named: victim)
            XCTAssertFalse(ids.isEmpty, "\(victim) is connected")
            // The kill and a write in one transaction: the write's invalidation is lost for
            // sure (nobody is subscribed, or the tracking that would redirect it went with the
            // lookup connections), so only emptying the cache on the loss keeps this right.
            let change = ContinuousClock.now
            let output = try redis.cli(script: [["MULTI"]] + ids.map { ["CLIENT", "KILL", "ID", $0] }
                + [["SETEX", "portcullis:jti:killed-\(index)", "300", "1"], ["EXEC"]])
            XCTAssertFalse(output.contains("ERR"), output)
            try await Task.sleep(until: change + bound)
            XCTAssertNotEqual(try cached.request("GET", "/", headers: [("Authorization", "Bearer \(token)")]).status, 200,
                              "after killing \(victim), a write made meanwhile is honoured (the loop that had it cached)")
            for _ in 0..<5 {
                XCTAssertNotEqual(try status(h, token), 200, "after killing \(victim), a write made meanwhile is honoured")
            }
            // Back by itself: in use again, and answering from the cache.
            try await waitUntilInUse(h)
            let other = h.token(jti: "killed-other-\(index)")
            let client = try h.client()
            XCTAssertEqual(try client.request("GET", "/", headers: [("Authorization", "Bearer \(other)")]).status, 200)
            let before = try metric(h, "portcullis_revocation_cache_hits_total")
            XCTAssertEqual(try client.request("GET", "/", headers: [("Authorization", "Bearer \(other)")]).status, 200)
            XCTAssertEqual(try metric(h, "portcullis_revocation_cache_hits_total"), before + 1, "cache used again after \(victim)")
            XCTAssertEqual(try status(h, token), 401)
        }
        await h.stop()
    }

    /// Silent connections (`CLIENT PAUSE`: Redis answers nothing, not even the pings): past 1 s
    /// the cache is out of use, so a cached token gets 503 rather than a stale 200.
    func testSilentRedisTakesTheCacheOutOfUse() async throws {
        let redis = try RedisServer()
        let h = try await gateway(redis)
        let token = h.token(jti: "silent-1")
        XCTAssertEqual(try status(h, token), 200)
        XCTAssertEqual(try status(h, token), 200)
        try redis.cli(["CLIENT", "PAUSE", "2500", "ALL"])
        let paused = ContinuousClock.now
        try await waitUntilInUse(h, 0, seconds: 2)
        XCTAssertLessThan(ContinuousClock.now - paused, .milliseconds(1_500), "out of use soon after 1 s of silence")
        XCTAssertEqual(try status(h, token), 503, "not answered from the cache while Redis is silent")
        try await waitUntilInUse(h, 1, seconds: 6)
        XCTAssertEqual(try status(h, token), 200)
        await h.stop()
    }

    func testCacheOffByDefaultShowsNoCacheMetrics() async throws {
        let s = try await StoreUnderTest(.redis)
        XCTAssertEqual(try s.proxyStatus(s.harness.token(jti: "nocache")), 200)
        let text = try s.harness.adminClient().request("GET", "/metrics").bodyText
        XCTAssertFalse(text.contains("portcullis_revocation_cache_hits_total"), "no cache, no cache metrics")
        await s.stop()
    }
}
