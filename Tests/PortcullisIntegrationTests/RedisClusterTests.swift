import Foundation
import NIOConcurrencyHelpers
import XCTest

/// `revocation.redis_cluster_nodes` against a real cluster on loopback (three masters with a
/// replica each): thousands of jtis over the slots, the seeds' layouts, a slot migrated under
/// load (`ASK`, then `MOVED`), and a master failed over under load.
final class RedisClusterTests: XCTestCase {
    private let auth = [("Authorization", "Bearer \(GatewayHarness.adminToken)")]

    private func gateway(_ cluster: RedisClusterDeployment, _ extra: [String: String] = [:]) async throws -> GatewayHarness {
        let h = try await GatewayHarness(environment: [
            "PORTCULLIS_REVOCATION_STORE": "redis",
            "PORTCULLIS_REVOCATION_REDIS_CLUSTER_NODES": cluster.seeds,
            "PORTCULLIS_REVOCATION_TIMEOUT": "150ms",
        ].merging(extra) { $1 })
        let deadline = Date().addingTimeInterval(5)
        while (try? h.adminClient().request("GET", "/readyz"))?.status != 200 && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        return h
    }

    private func status(_ h: GatewayHarness, _ token: String) throws -> Int {
        try h.client().request("GET", "/", headers: [("Authorization", "Bearer \(token)")]).status
    }

    private func listAll(_ h: GatewayHarness, limit: Int) throws -> [String] {
        var jtis: [String] = []
        var cursor: String?
        for _ in 0..<1_000 {
            let page = try h.adminClient().request("GET", "/v1/revocations?limit=\(limit)" + (cursor.map { "&cursor=\($0)" } ?? ""),
                                                   headers: auth)
            XCTAssertEqual(page.status, 200, page.bodyText)
            let items = try XCTUnwrap(page.json["items"] as? [[String: Any]])
            XCTAssertLessThanOrEqual(items.count, limit)
            jtis += items.compactMap { $0["jti"] as? String }
            guard let next = page.json["next_cursor"] as? String else { return jtis }
            cursor = next
        }
        XCTFail("the pages did not end")
        return jtis
    }

    func testThousandsOfJTIsOverTheSlotsAndTheSeedLayouts() async throws {
        let cluster = try RedisClusterDeployment()
        let h = try await gateway(cluster)
        let seeded = (0..<2000).map { "cluster-\($0)" }
        try cluster.cli(script: seeded.map { ["SETEX", "portcullis:jti:\($0)", "600", "1"] })
        for master in cluster.masters {
            XCTAssertGreaterThan(Int(try master.cli(["DBSIZE"])) ?? 0, 400, "every master holds a share")
        }
        // One request's keys (jti, subject) live in different slots, usually on different nodes.
        for index in stride(from: 0, to: 2000, by: 20) {
            XCTAssertEqual(try status(h, h.token(sub: "user-\(index)", jti: "cluster-\(index)")), 401)
            XCTAssertEqual(try status(h, h.token(sub: "user-\(index)", jti: "cluster-free-\(index)")), 200)
        }
        // Admin writes: a reason beside the jti key (one MULTI, so one slot), a subject cut-off.
        let revoked = try h.adminClient().request("POST", "/v1/revocations", headers: auth,
                                                  body: #"{"jti": "cluster-reason", "reason": "stolen laptop"}"#)
        XCTAssertEqual(revoked.status, 201, revoked.bodyText)
        let found = try h.adminClient().request("GET", "/v1/revocations/cluster-reason", headers: auth)
        XCTAssertEqual(found.json["reason"] as? String, "stolen laptop", found.bodyText)
        XCTAssertEqual(try status(h, h.token(jti: "cluster-reason")), 401)
        let old = h.token(sub: "cluster-sub", jti: "cs-1", now: Date().timeIntervalSince1970 - 60)
        XCTAssertEqual(try status(h, old), 200)
        XCTAssertEqual(try h.adminClient().request("POST", "/v1/subjects/cluster-sub/revocations", headers: auth).status, 201)
        XCTAssertEqual(try status(h, old), 401)
        // Listing walks every master: each jti exactly once.
        let listed = try listAll(h, limit: 500)
        XCTAssertEqual(listed.count, 2001)
        XCTAssertEqual(Set(listed), Set(seeded + ["cluster-reason"]))
        XCTAssertEqual(try h.adminClient().request("DELETE", "/v1/revocations/cluster-reason", headers: auth).status, 204)
        XCTAssertEqual(try status(h, h.token(jti: "cluster-reason")), 200)
        // The audit is one stream, on the master owning its slot.
        let audit = try h.adminClient().request("GET", "/v1/audit", headers: auth)
        XCTAssertEqual(audit.status, 200, audit.bodyText)
        XCTAssertEqual((audit.json["items"] as? [[String: Any]])?.map { $0["target"] as? String },
                       ["cluster-reason", "cluster-sub", "cluster-reason"], audit.bodyText)
        let owner = try XCTUnwrap(cluster.master(ofSlot: try cluster.slot(of: "portcullis:audit")))
        XCTAssertEqual(try owner.cli(["XLEN", "portcullis:audit"]), "3")
        await h.stop()

        // The seeds' layouts: blocklist:{jti} and a raw-token key, of any type.
        let app = try await gateway(cluster, ["PORTCULLIS_REVOCATION_JTI_KEY": "blocklist:{jti}",
                                              "PORTCULLIS_REVOCATION_TOKEN_KEY": "revoked:{token}"])
        let byToken = app.token(jti: "app-token")
        try cluster.cli(script: [["SETEX", "blocklist:app-1", "300", "revoked"], ["SADD", "blocklist:app-2", "x"],
                                 ["HSET", "revoked:\(byToken)", "by", "app"]])
        XCTAssertEqual(try status(app, app.token(jti: "app-1")), 401)
        XCTAssertEqual(try status(app, app.token(jti: "app-2")), 401)
        XCTAssertEqual(try status(app, byToken), 401)
        XCTAssertEqual(try status(app, app.token(jti: "app-3")), 200)
        let withReason = try app.adminClient().request("POST", "/v1/revocations", headers: auth,
                                                       body: #"{"jti": "app-4", "reason": "fraud"}"#)
        XCTAssertEqual(withReason.status, 201, withReason.bodyText)
        XCTAssertEqual(try app.adminClient().request("GET", "/v1/revocations/app-4", headers: auth).json["reason"] as? String, "fraud")
        XCTAssertEqual(try status(app, app.token(jti: "app-4")), 401)
        await app.stop()
    }

    /// Bounded load on loopback (2 clients, one per core) while `body` runs on its own thread.
    private func underLoad(_ h: GatewayHarness, revoked: String, valid: String, seconds: Double,
                           _ body: @escaping @Sendable () -> Void) async throws -> [String: Int] {
        let port = h.proxyPort
        let driver = Thread { body() }
        driver.start()
        return try await withThrowingTaskGroup(of: [String: Int].self) { group in
            for worker in 0..<2 {
                group.addTask {
                    var counts: [String: Int] = [:]
                    var client = try RawHTTPClient(port: port, timeoutSeconds: 5)
                    let end = Date().addingTimeInterval(seconds)
                    var index = 0
                    while Date() < end {
                        let useRevoked = (index + worker) % 2 == 0
                        index += 1
                        let started = Date()
                        do {
                            let response = try client.request("GET", "/", headers: [("Authorization", "Bearer \(useRevoked ? revoked : valid)")])
                            if Date().timeIntervalSince(started) > 2 { counts["slow", default: 0] += 1 }
                            counts["\(useRevoked ? "revoked" : "valid") \(response.status)", default: 0] += 1
                        } catch {
                            counts["transport error", default: 0] += 1
                            client = try RawHTTPClient(port: port, timeoutSeconds: 5)
                        }
                    }
                    return counts
                }
            }
            var total: [String: Int] = [:]
            for try await part in group { total.merge(part) { $0 + $1 } }
            return total
        }
    }

    private func redirects(_ h: GatewayHarness, _ kind: String) throws -> Double {
        let text = try h.adminClient().request("GET", "/metrics").bodyText
        let line = text.split(separator: "\n").first { $0.hasPrefix("portcullis_redis_cluster_redirects_total{kind=\"\(kind)\"}") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    /// A replica answers its own reads only after `READONLY`.
    private func exists(_ key: String, onReplica replica: RedisServer) -> Bool {
        (try? replica.cli(script: [["READONLY"], ["EXISTS", key]]))?.hasSuffix("1") == true
    }

    func testSlotMigrationUnderLoad() async throws {
        let cluster = try RedisClusterDeployment()
        let h = try await gateway(cluster)
        // One hash tag: the revoked and the valid token's jti keys share a slot.
        XCTAssertEqual(try h.revoke(jti: "{moving}revoked").status, 201)
        let key = "portcullis:jti:{moving}revoked"
        let slot = try cluster.slot(of: key)
        nonisolated(unsafe) let source = try XCTUnwrap(cluster.master(ofSlot: slot))
        nonisolated(unsafe) let target = try XCTUnwrap(cluster.masters.first { $0.port != source.port })
        let sourceID = try cluster.nodeID(source)
        let targetID = try cluster.nodeID(target)
        let revoked = h.token(sub: "mover", jti: "{moving}revoked")
        let valid = h.token(sub: "mover", jti: "{moving}valid")
        let problems = NIOLockedValueBox<[String]>([])
        nonisolated(unsafe) let c = cluster
        let counts = try await underLoad(h, revoked: revoked, valid: valid, seconds: 4) {
            func run(_ server: RedisServer, _ arguments: [String]) {
                let answer = (try? server.cli(arguments)) ?? "no answer"
                if answer != "OK" && answer != "NOKEY" { problems.withLockedValue { $0.append("\(arguments): \(answer)") } }
            }
            usleep(700_000)
            // Migrating: keys already gone from the source are asked with ASK.
            run(target, ["CLUSTER", "SETSLOT", "\(slot)", "IMPORTING", sourceID])
            run(source, ["CLUSTER", "SETSLOT", "\(slot)", "MIGRATING", targetID])
            usleep(700_000)
            run(source, ["MIGRATE", "127.0.0.1", "\(target.port)", "", "0", "5000", "KEYS", key])
            usleep(700_000)
            // Done: the source answers MOVED.
            for node in c.masters { run(node, ["CLUSTER", "SETSLOT", "\(slot)", "NODE", targetID]) }
        }
        XCTAssertEqual(problems.withLockedValue { $0 }, [])
        XCTAssertNil(counts["revoked 200"], "a revoked token was admitted: \(counts)")
        XCTAssertNil(counts["slow"], "\(counts)")
        XCTAssertNil(counts["transport error"], "\(counts)")
        XCTAssertEqual(Set(counts.keys).subtracting(["revoked 401", "revoked 503", "valid 200", "valid 503"]), [], "\(counts)")
        // Redirections cost a round trip, not an answer: on an idle machine there is no 503 at
        // all; a loaded one may see a few past revocation.timeout.
        XCTAssertLessThan(Double((counts["valid 503"] ?? 0) + (counts["revoked 503"] ?? 0)),
                          0.05 * Double(counts.values.reduce(0, +)), "\(counts)")
        XCTAssertGreaterThan(try redirects(h, "ask"), 0, "ASK was followed")
        XCTAssertGreaterThan(try redirects(h, "moved"), 0, "MOVED was followed")
        XCTAssertTrue((try target.cli(["INFO", "commandstats"])).contains("cmdstat_asking:"), "with ASKING")
        XCTAssertEqual(try target.cli(["EXISTS", key]), "1", "the key moved")
        // Writes follow the slot too.
        XCTAssertEqual(try h.revoke(jti: "{moving}later").status, 201)
        XCTAssertEqual(try target.cli(["EXISTS", "portcullis:jti:{moving}later"]), "1")
        XCTAssertEqual(try status(h, h.token(jti: "{moving}later")), 401)
        await h.stop()
    }

    /// While a slot is being migrated, the importing node refuses a transaction whose keys are
    /// not all there yet with `TRYAGAIN` (a new revocation's never are), for as long as the
    /// migration lasts. The revocation is written anyway, its commands one by one.
    func testRevocationsIntoASlotBeingMigrated() async throws {
        let cluster = try RedisClusterDeployment()
        let h = try await gateway(cluster)
        let jti = "{importing}new"
        let key = "portcullis:jti:\(jti)"
        let slot = try cluster.slot(of: key)
        let source = try XCTUnwrap(cluster.master(ofSlot: slot))
        let target = try XCTUnwrap(cluster.masters.first { $0.port != source.port })
        XCTAssertEqual(try target.cli(["CLUSTER", "SETSLOT", "\(slot)", "IMPORTING", try cluster.nodeID(source)]), "OK")
        XCTAssertEqual(try source.cli(["CLUSTER", "SETSLOT", "\(slot)", "MIGRATING", try cluster.nodeID(target)]), "OK")
        let token = h.token(sub: "importer", jti: jti)
        XCTAssertEqual(try status(h, token), 200)

        let revoked = try h.adminClient().request("POST", "/v1/revocations", headers: auth + [("Content-Type", "application/json")],
                                                  body: #"{"jti": "\#(jti)", "reason": "moving"}"#)
        XCTAssertEqual(revoked.status, 201, revoked.bodyText)
        XCTAssertGreaterThan(try redirects(h, "ask"), 0, "the source sent the new keys on with ASK")
        XCTAssertGreaterThan(try redirects(h, "tryagain"), 0, "the importing node refused the transaction")
        XCTAssertTrue(try target.cli(script: [["ASKING"], ["EXISTS", key]]).hasSuffix("1"), "written on the importing node")
        XCTAssertEqual(try status(h, token), 401, "the lookup follows ASK to it")
        let lookup = try h.adminClient().request("GET", "/v1/revocations/\(jti)", headers: auth)
        XCTAssertEqual(lookup.status, 200, lookup.bodyText)
        XCTAssertEqual(lookup.json["reason"] as? String, "moving", "the reason key too, read with ASKING before each command")

        XCTAssertEqual(try h.adminClient().request("DELETE", "/v1/revocations/\(jti)", headers: auth).status, 204)
        XCTAssertEqual(try status(h, token), 200, "un-revoked on the importing node")
        XCTAssertEqual(try h.revoke(jti: jti).status, 201)

        // The migration ends: the slot is the target's, and the revocation is there.
        for node in cluster.masters {
            XCTAssertEqual(try node.cli(["CLUSTER", "SETSLOT", "\(slot)", "NODE", try cluster.nodeID(target)]), "OK")
        }
        XCTAssertEqual(try status(h, token), 401)
        XCTAssertEqual(try target.cli(["EXISTS", key]), "1")
        await h.stop()
    }

    func testFailoverUnderLoad() async throws {
        let cluster = try RedisClusterDeployment()
        let h = try await gateway(cluster)
        XCTAssertEqual(try h.revoke(jti: "{failing}revoked").status, 201)
        let key = "portcullis:jti:{failing}revoked"
        let old = try XCTUnwrap(cluster.master(ofSlot: try cluster.slot(of: key)))
        nonisolated(unsafe) let promoted = try XCTUnwrap(try cluster.replica(of: old))
        try promoted.waitUntil(seconds: 5, "the replica has the revocation") { exists(key, onReplica: promoted) }
        let revoked = h.token(sub: "failing", jti: "{failing}revoked")
        let valid = h.token(sub: "failing", jti: "{failing}valid")
        let switched = NIOLockedValueBox<Date?>(nil)
        let counts = try await underLoad(h, revoked: revoked, valid: valid, seconds: 5) {
            usleep(700_000)
            _ = try? promoted.cli(["CLUSTER", "FAILOVER"])
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                if (try? promoted.cli(["ROLE"]))?.hasPrefix("master") == true {
                    switched.withLockedValue { $0 = Date() }
                    return
                }
                usleep(10_000)
            }
        }
        let at = try XCTUnwrap(switched.withLockedValue { $0 }, "the replica was not promoted")
        XCTAssertNil(counts["revoked 200"], "a revoked token was admitted: \(counts)")
        XCTAssertNil(counts["slow"], "\(counts)")
        XCTAssertNil(counts["transport error"], "\(counts)")
        XCTAssertEqual(Set(counts.keys).subtracting(["revoked 401", "revoked 503", "valid 200", "valid 503"]), [], "\(counts)")
        // Answered by the new master within 5 s of the switch.
        var answered = false
        while Date() < at.addingTimeInterval(5) {
            if try status(h, valid) == 200, SentinelDeployment.portcullisConnections(on: promoted) > 0 {
                answered = true
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertTrue(answered, "answers from the new master within 5 s")
        XCTAssertEqual(try status(h, revoked), 401)
        XCTAssertEqual(try h.revoke(jti: "{failing}later").status, 201)
        XCTAssertEqual(try promoted.cli(["EXISTS", "portcullis:jti:{failing}later"]), "1", "written on the new master")
        await h.stop()
    }
}

/// `revocation.local_cache: tracking` on a cluster: one invalidation connection per master.
final class RedisClusterLocalCacheTests: XCTestCase {
    func testChangesOnAnyMasterReachTheCacheAndALostLinkBypassesIt() async throws {
        let cluster = try RedisClusterDeployment()
        let h = try await GatewayHarness(environment: [
            "PORTCULLIS_REVOCATION_STORE": "redis", "PORTCULLIS_REVOCATION_REDIS_CLUSTER_NODES": cluster.seeds,
            "PORTCULLIS_REVOCATION_LOCAL_CACHE": "tracking",
        ])
        func metric(_ name: String) throws -> Double {
            let text = try h.adminClient().request("GET", "/metrics").bodyText
            let line = text.split(separator: "\n").first { $0.hasPrefix(name + " ") }
            return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? .nan
        }
        func status(_ client: RawHTTPClient, _ token: String) throws -> Int {
            try client.request("GET", "/", headers: [("Authorization", "Bearer \(token)")]).status
        }
        let deadline = Date().addingTimeInterval(10)
        while (try? metric("portcullis_revocation_cache_in_use")) != 1 && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertEqual(try metric("portcullis_revocation_cache_in_use"), 1, "tracked on every master")
        // Tokens whose keys live on different masters, cached on one loop.
        let client = try h.client()
        let tokens = (0..<12).map { h.token(sub: "cluster-cache-\($0)", jti: "cluster-cache-\($0)") }
        for token in tokens { XCTAssertEqual(try status(client, token), 200) }
        let hits = try metric("portcullis_revocation_cache_hits_total")
        for token in tokens { XCTAssertEqual(try status(client, token), 200) }
        XCTAssertEqual(try metric("portcullis_revocation_cache_hits_total"), hits + 12)
        // Revoked by hand on whichever master holds each key.
        let change = ContinuousClock.now
        try cluster.cli(script: (0..<12).map { ["SETEX", "portcullis:jti:cluster-cache-\($0)", "300", "1"] })
        try await Task.sleep(until: change + .milliseconds(100))
        for token in tokens { XCTAssertEqual(try status(client, token), 401) }

        // The invalidation connection of the master holding one cached key, killed with a
        // write in the same transaction: that write's invalidation is lost for sure.
        let token = h.token(sub: "cluster-cache-kill", jti: "cluster-cache-kill")
        let key = "portcullis:jti:cluster-cache-kill"
        XCTAssertEqual(try status(client, token), 200)
        XCTAssertEqual(try status(client, token), 200)
        let node = try XCTUnwrap(cluster.master(ofSlot: try cluster.slot(of: key)))
        let ids = try node.cli(["CLIENT", "LIST"]).split(separator: "\n").filter { $0.contains("name=portcullis-invalidation ") }
            .compactMap { $0.split(separator: " ").first { $0.hasPrefix("id=") }.map { String($0.dropFirst(3)) } }
        XCTAssertEqual(ids.count, 1)
        let killedAt = ContinuousClock.now
        let output = try node.cli(script: [["MULTI"]] + ids.map { ["CLIENT", "KILL", "ID", $0] } + [["SETEX", key, "300", "1"], ["EXEC"]])
        XCTAssertFalse(output.contains("ERR"), output)
        try await Task.sleep(until: killedAt + .milliseconds(100))
        XCTAssertNotEqual(try status(client, token), 200, "the lost invalidation is covered by emptying the cache")
        let back = Date().addingTimeInterval(5)
        while (try? metric("portcullis_revocation_cache_in_use")) != 1 && Date() < back {
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertEqual(try metric("portcullis_revocation_cache_in_use"), 1, "back in use")
        await h.stop()
    }
}
