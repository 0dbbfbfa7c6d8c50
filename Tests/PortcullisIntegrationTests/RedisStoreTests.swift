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
        // A token without jti is revoked under the token template, with the token's lifetime.
        let noJTI = h.token(jti: "", ttl: 900)
        let admin = [("Authorization", "Bearer \(GatewayHarness.adminToken)")]
        let byToken = try h.adminClient().request("POST", "/v1/revocations", headers: admin, body: #"{"token": "\#(noJTI)"}"#)
        XCTAssertEqual(byToken.status, 201, byToken.bodyText)
        let tokenTTL = Int(try redis.cli(["TTL", "revoked:\(noJTI)"])) ?? -100
        XCTAssertTrue((895...900).contains(tokenTTL), "token key TTL \(tokenTTL)")
        XCTAssertEqual(try status(h, noJTI), 401)
        // A subject cut-off lives for revocation.max_ttl (default 30d).
        XCTAssertEqual(try h.adminClient().request("POST", "/v1/subjects/frank/revocations", headers: admin).status, 201)
        let subjectTTL = Int(try redis.cli(["TTL", "portcullis:sub:frank"])) ?? -100
        XCTAssertTrue((2_591_990...2_592_000).contains(subjectTTL), "subject key TTL \(subjectTTL)")
        await h.stop()
    }

    func testReasonKeysAreNeverListedUnderABareJTITemplate() async throws {
        // `{jti}` alone: SCAN MATCH `*` returns every key, the reason keys included.
        let s = try await StoreUnderTest(.redis, environment: ["PORTCULLIS_REVOCATION_JTI_KEY": "{jti}"])
        let redis = try XCTUnwrap(s.redis)
        let expected = (1...25).map { "bare-\($0)" }
        for jti in expected {
            XCTAssertEqual(try s.admin("POST", "/v1/revocations", body: #"{"jti": "\#(jti)", "reason": "why \#(jti)"}"#).status, 201)
        }
        XCTAssertEqual(try redis.cli(["DBSIZE"]), "51", "a jti key and a reason key each, and the audit stream")
        XCTAssertEqual(try redis.cli(["GET", "bare-3"]), "1")
        XCTAssertEqual(try redis.cli(["GET", "portcullis:reason:bare-3"]), "why bare-3")
        for limit in [3, 1, 1000] {
            let listed = try s.listAll(limit: limit)
            XCTAssertEqual(listed.sorted(), expected.sorted(), "limit \(limit)")
        }
        XCTAssertEqual(try s.admin("GET", "/v1/revocations/bare-3").json["reason"] as? String, "why bare-3")
        XCTAssertEqual(try s.admin("DELETE", "/v1/revocations/bare-3").status, 204)
        XCTAssertEqual(try redis.cli(["EXISTS", "bare-3", "portcullis:reason:bare-3"]), "0")
        XCTAssertEqual(try s.listAll(limit: 4).count, 24)
        await s.stop()
    }

    func testKeysWrittenByHandCarryNoReason() async throws {
        let s = try await StoreUnderTest(.redis, environment: ["PORTCULLIS_REVOCATION_MAX_TTL": "2h"])
        let redis = try XCTUnwrap(s.redis)
        try redis.cli(["SETEX", "portcullis:jti:by-hand", "300", "revoked"])
        try redis.cli(["SET", "portcullis:jti:for-good", "yes"])
        let byHand = try s.admin("GET", "/v1/revocations/by-hand")
        XCTAssertEqual(byHand.status, 200)
        XCTAssertEqual(Set(byHand.json.keys), ["jti", "revoked", "ttl_seconds"], byHand.bodyText)
        let ttl = try XCTUnwrap(byHand.json["ttl_seconds"] as? Int)
        XCTAssertTrue((295...300).contains(ttl), "ttl \(ttl)")
        // A key without expiry is revoked for good; it reports revocation.max_ttl.
        XCTAssertEqual(try s.admin("GET", "/v1/revocations/for-good").json["ttl_seconds"] as? Int, 7200)
        XCTAssertEqual(Set(try s.listAll(limit: 1)), ["by-hand", "for-good"])
        XCTAssertEqual(try s.proxyStatus(s.harness.token(jti: "for-good")), 401)
        await s.stop()
    }

    /// While entries come and go between pages, Redis's own SCAN promise still holds: an entry
    /// present from the first page to the last is listed at least once.
    func testListingWhileEntriesChangeMissesNoLastingEntry() async throws {
        let s = try await StoreUnderTest(.redis)
        let lasting = (1...60).map { "lasting-\($0)" }
        let leaving = (1...30).map { "leaving-\($0)" }
        for jti in lasting + leaving {
            XCTAssertEqual(try s.admin("POST", "/v1/revocations", body: #"{"jti": "\#(jti)"}"#).status, 201)
        }
        var listed: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let page = try s.admin("GET", "/v1/revocations?limit=7" + (cursor.map { "&cursor=\($0)" } ?? ""))
            XCTAssertEqual(page.status, 200, page.bodyText)
            listed += (page.json["items"] as? [[String: Any]] ?? []).compactMap { $0["jti"] as? String }
            cursor = page.json["next_cursor"] as? String
            // Between pages: one entry leaves and one arrives.
            if pages < leaving.count {
                XCTAssertEqual(try s.admin("DELETE", "/v1/revocations/\(leaving[pages])").status, 204)
                XCTAssertEqual(try s.admin("POST", "/v1/revocations", body: #"{"jti": "arriving-\#(pages)"}"#).status, 201)
            }
            pages += 1
        } while cursor != nil && pages < 1000
        XCTAssertNil(cursor, "the pages end")
        XCTAssertEqual(Set(lasting).subtracting(listed), [], "lasting entries missed")
        await s.stop()
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

    func testTLSRedisWithAPrivateCA() async throws {
        let redis = try RedisServer(password: "tls-pass-0123", tls: true)
        let ca = try XCTUnwrap(redis.tlsCAFile)
        let h = try await gateway(redis, ["PORTCULLIS_REVOCATION_REDIS_TLS_CA_FILE": ca])
        let token = h.token(jti: "tls-jti")
        XCTAssertEqual(try status(h, token), 200)
        XCTAssertEqual(try h.revoke(jti: "tls-jti").status, 201)
        XCTAssertEqual(try status(h, token), 401)
        XCTAssertEqual(try redis.cli(["EXISTS", "portcullis:jti:tls-jti"]), "1")
        await h.stop()
        // Without the CA the server's certificate is not trusted: never ready, lookups fail closed.
        let untrusted = try await GatewayHarness(environment: [
            "PORTCULLIS_REVOCATION_STORE": "redis", "PORTCULLIS_REVOCATION_REDIS_URL": redis.url,
        ])
        try await Task.sleep(for: .milliseconds(300))
        XCTAssertEqual(try untrusted.adminClient().request("GET", "/readyz").status, 503)
        XCTAssertEqual(try status(untrusted, token), 503)
        await untrusted.stop()
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

/// Redis killed while requests flow: bounded loopback load (4 clients, 3 s), every answer
/// checked. A revoked token is never admitted; a valid one gets 200 or 503, never a hang.
final class RedisOutageUnderLoadTests: XCTestCase {
    func testKillAndRestartUnderLoad() async throws {
        let redis = try RedisServer(persistent: true)
        let h = try await GatewayHarness(environment: [
            "PORTCULLIS_REVOCATION_STORE": "redis", "PORTCULLIS_REVOCATION_REDIS_URL": redis.url,
            "PORTCULLIS_REVOCATION_TIMEOUT": "150ms",
        ])
        let deadline = Date().addingTimeInterval(5)
        while (try? h.adminClient().request("GET", "/readyz"))?.status != 200 && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertEqual(try h.revoke(jti: "load-revoked").status, 201)
        let revoked = h.token(jti: "load-revoked", ttl: 600)
        let valid = h.token(jti: "load-valid", ttl: 600)
        let port = h.proxyPort

        // The outage runs on its own thread: the blocking clients below fill the cooperative pool.
        nonisolated(unsafe) let server = redis
        let outage = Thread {
            usleep(1_000_000)
            server.stop()
            usleep(1_000_000)
            try? server.start()
        }
        outage.start()
        let counts = try await withThrowingTaskGroup(of: [String: Int].self) { group in
            for worker in 0..<4 {
                group.addTask {
                    var counts: [String: Int] = [:]
                    var client = try RawHTTPClient(port: port, timeoutSeconds: 5)
                    let end = Date().addingTimeInterval(3)
                    var index = 0
                    while Date() < end {
                        let useRevoked = (index + worker) % 2 == 0
                        index += 1
                        let started = Date()
                        let response: RawHTTPClient.Response
                        do {
                            response = try client.request("GET", "/", headers: [("Authorization", "Bearer \(useRevoked ? revoked : valid)")])
                        } catch {
                            counts["transport error", default: 0] += 1
                            client = try RawHTTPClient(port: port, timeoutSeconds: 5)
                            continue
                        }
                        if Date().timeIntervalSince(started) > 2 { counts["slow", default: 0] += 1 }
                        counts["\(useRevoked ? "revoked" : "valid") \(response.status)", default: 0] += 1
                    }
                    return counts
                }
            }
            var total: [String: Int] = [:]
            for try await part in group { total.merge(part) { $0 + $1 } }
            return total
        }
        XCTAssertNil(counts["revoked 200"], "a revoked token was admitted: \(counts)")
        XCTAssertNil(counts["slow"], "an answer took over 2 s: \(counts)")
        XCTAssertNil(counts["transport error"], "\(counts)")
        XCTAssertGreaterThan(counts["valid 503"] ?? 0, 0, "the outage was seen: \(counts)")
        XCTAssertGreaterThan(counts["revoked 401"] ?? 0, 0, "\(counts)")
        XCTAssertEqual(Set(counts.keys).subtracting(["revoked 401", "revoked 503", "valid 200", "valid 503"]), [], "\(counts)")
        // Recovered: valid tokens pass again without a restart of Portcullis.
        let recovered = Date().addingTimeInterval(3)
        var status = 0
        while Date() < recovered {
            status = try h.client().request("GET", "/", headers: [("Authorization", "Bearer \(valid)")]).status
            if status == 200 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTAssertEqual(status, 200)
        await h.stop()
    }
}
