import Foundation
import NIOConcurrencyHelpers
import XCTest

/// `revocation.redis_sentinels` against real processes on loopback: a master, a replica and
/// three Sentinels. Under bounded load (2 clients, one per core, a mix of valid and revoked tokens) the
/// master is failed over, once by `SENTINEL FAILOVER` and once by killing it. Every answer is
/// checked: no revoked token is ever admitted, and Portcullis is on the new master within 5 s
/// of the first Sentinel naming it.
final class RedisSentinelTests: XCTestCase {
    private func gateway(_ deployment: SentinelDeployment, _ extra: [String: String] = [:]) async throws -> GatewayHarness {
        let h = try await GatewayHarness(environment: [
            "PORTCULLIS_REVOCATION_STORE": "redis",
            // Only the scheme, credentials and db count: the Sentinels say where the master is.
            "PORTCULLIS_REVOCATION_REDIS_URL": "redis://127.0.0.1:1/0",
            "PORTCULLIS_REVOCATION_REDIS_SENTINELS": deployment.sentinelList,
            "PORTCULLIS_REVOCATION_TIMEOUT": "150ms",
        ].merging(extra) { $1 })
        let deadline = Date().addingTimeInterval(5)
        while (try? h.adminClient().request("GET", "/readyz"))?.status != 200 && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertEqual(try h.adminClient().request("GET", "/readyz").status, 200, "ready through the Sentinels")
        return h
    }

    /// Sentinels with their own password: found with it, never without it.
    func testFindsTheMasterThroughPasswordProtectedSentinels() async throws {
        let deployment = try SentinelDeployment(sentinelPassword: "sentinel-pass-0123")
        let h = try await gateway(deployment, ["PORTCULLIS_REVOCATION_REDIS_SENTINEL_PASSWORD": "sentinel-pass-0123"])
        XCTAssertEqual(try h.revoke(jti: "sp-1").status, 201)
        XCTAssertEqual(try deployment.master.cli(["EXISTS", "portcullis:jti:sp-1"]), "1", "written on the master")
        let token = h.token(jti: "sp-1")
        XCTAssertEqual(try h.client().request("GET", "/", headers: [("Authorization", "Bearer \(token)")]).status, 401)
        XCTAssertEqual(SentinelDeployment.portcullisConnections(on: deployment.master), 3, "2 lookup connections and the admin one")
        XCTAssertEqual(SentinelDeployment.portcullisConnections(on: deployment.replica), 0, "nothing on the replica")

        let wrong = try await GatewayHarness(environment: [
            "PORTCULLIS_REVOCATION_STORE": "redis", "PORTCULLIS_REVOCATION_REDIS_URL": "redis://127.0.0.1:1/0",
            "PORTCULLIS_REVOCATION_REDIS_SENTINELS": deployment.sentinelList,
            "PORTCULLIS_REVOCATION_REDIS_SENTINEL_PASSWORD": "wrong",
        ])
        // Showing that something does not happen: a bounded wait, then still not ready.
        try await Task.sleep(for: .seconds(1))
        XCTAssertEqual(try wrong.adminClient().request("GET", "/readyz").status, 503)
        XCTAssertEqual(try wrong.client().request("GET", "/", headers: [("Authorization", "Bearer \(h.token(jti: "sp-2"))")]).status, 503)
        await wrong.stop()
        await h.stop()
    }

    func testForcedFailoverUnderLoad() async throws {
        let deployment = try SentinelDeployment()
        let h = try await gateway(deployment)
        try await failOver(deployment, h, by: .sentinelFailover)
    }

    func testKilledMasterUnderLoad() async throws {
        let deployment = try SentinelDeployment()
        let h = try await gateway(deployment)
        try await failOver(deployment, h, by: .killingTheMaster)
    }

    /// The local cache across a failover: its invalidation connection follows the master too,
    /// so after the switch a revocation written on the new master by hand still reaches it.
    func testLocalCacheFollowsTheFailover() async throws {
        let deployment = try SentinelDeployment()
        let h = try await gateway(deployment, ["PORTCULLIS_REVOCATION_LOCAL_CACHE": "tracking"])
        func inUse() throws -> Bool {
            try h.adminClient().request("GET", "/metrics").bodyText.contains("portcullis_revocation_cache_in_use 1")
        }
        func status(_ token: String) throws -> Int {
            try h.client().request("GET", "/", headers: [("Authorization", "Bearer \(token)")]).status
        }
        try deployment.master.waitUntil(seconds: 5, "the cache is in use") { (try? inUse()) == true }
        let token = h.token(jti: "cached-across")
        for _ in 0..<4 { XCTAssertEqual(try status(token), 200) }
        var answer = ""
        let deadline = Date().addingTimeInterval(10)
        while answer != "OK" && Date() < deadline {
            answer = try deployment.sentinels[0].cli(["SENTINEL", "FAILOVER", "mymaster"])
            if answer != "OK" { try await Task.sleep(for: .milliseconds(50)) }
        }
        XCTAssertEqual(answer, "OK")
        try deployment.replica.waitUntil(seconds: 10, "every Portcullis connection is on the new master") {
            SentinelDeployment.portcullisConnections(on: deployment.replica) >= 4
        }
        try deployment.replica.waitUntil(seconds: 5, "the cache is in use again") { (try? inUse()) == true }
        XCTAssertEqual(try status(token), 200)
        let change = ContinuousClock.now
        try deployment.replica.cli(["SETEX", "portcullis:jti:cached-across", "300", "1"])
        // Showing that the revoked token is not admitted past the 100 ms bound.
        try await Task.sleep(until: change + .milliseconds(100))
        for _ in 0..<5 { XCTAssertEqual(try status(token), 401) }
        await h.stop()
    }

    /// A master demoted behind Sentinel's back (`REPLICAOF` by hand): the next admin write gets
    /// `READONLY`, Portcullis leaves the node, `ROLE` keeps it from coming back while it is a
    /// replica, and nothing is acknowledged in between. Once it is master again, writes work.
    func testReadOnlyFromADemotedMasterIsNeverAcknowledged() async throws {
        let deployment = try SentinelDeployment()
        let h = try await gateway(deployment)
        func adminConnections(_ server: RedisServer) -> Int {
            ((try? server.cli(["CLIENT", "LIST"])) ?? "").split(separator: "\n").filter { $0.contains("name=portcullis-admin") }.count
        }
        XCTAssertEqual(try h.revoke(jti: "ro-before").status, 201)
        XCTAssertEqual(adminConnections(deployment.master), 1)
        // Swap the roles by hand; the Sentinels still name the old master.
        try deployment.replica.cli(["REPLICAOF", "NO", "ONE"])
        try deployment.master.cli(["REPLICAOF", "127.0.0.1", "\(deployment.replica.port)"])
        let refused = try h.revoke(jti: "ro-during")
        XCTAssertEqual(refused.status, 503, "READONLY is not a 201: \(refused.bodyText)")
        try deployment.master.waitUntil(seconds: 3, "the admin connection leaves the demoted master") {
            adminConnections(deployment.master) == 0
        }
        // Showing that it does not come back while the node is a replica (ROLE says slave).
        try await Task.sleep(for: .milliseconds(500))
        XCTAssertEqual(adminConnections(deployment.master), 0)
        XCTAssertNotEqual(try h.revoke(jti: "ro-during-2").status, 201)
        // Master again: Portcullis is back within its backoff.
        try deployment.master.cli(["REPLICAOF", "NO", "ONE"])
        try deployment.replica.cli(["REPLICAOF", "127.0.0.1", "\(deployment.master.port)"])
        var status = 0
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            status = try h.revoke(jti: "ro-after").status
            if status == 201 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTAssertEqual(status, 201)
        XCTAssertEqual(try deployment.master.cli(["EXISTS", "portcullis:jti:ro-after"]), "1")
        await h.stop()
    }

    private enum Failover {
        case sentinelFailover
        case killingTheMaster
    }

    private struct Timeline {
        var failoverStarted: Date?
        /// When the first Sentinel named the new master.
        var switched: Date?
        /// When the new master held every Portcullis connection (2 loops + admin).
        var moved: Date?
        var problem: String?
    }

    private func failOver(_ deployment: SentinelDeployment, _ h: GatewayHarness, by way: Failover) async throws {
        let revokedResponse = try h.revoke(jti: "sentinel-revoked")
        XCTAssertEqual(revokedResponse.status, 201, revokedResponse.bodyText)
        try deployment.replica.waitUntil(seconds: 5, "the revocation reaches the replica") {
            (try? deployment.replica.cli(["EXISTS", "portcullis:jti:sentinel-revoked"])) == "1"
        }
        XCTAssertEqual(SentinelDeployment.portcullisConnections(on: deployment.master), 3)
        let revoked = h.token(jti: "sentinel-revoked", ttl: 600)
        let valid = h.token(jti: "sentinel-valid", ttl: 600)
        let port = h.proxyPort
        let newMasterPort = deployment.replica.port

        // The failover runs on its own thread: the blocking clients below fill the cooperative pool.
        let timeline = NIOLockedValueBox(Timeline())
        nonisolated(unsafe) let d = deployment
        let driver = Thread {
            usleep(1_000_000)
            timeline.withLockedValue { $0.failoverStarted = Date() }
            switch way {
            case .sentinelFailover:
                let deadline = Date().addingTimeInterval(10)
                var answer = ""
                while Date() < deadline {
                    answer = (try? d.sentinels[0].cli(["SENTINEL", "FAILOVER", "mymaster"])) ?? ""
                    if answer == "OK" { break }
                    usleep(50_000)
                }
                if answer != "OK" { timeline.withLockedValue { $0.problem = "SENTINEL FAILOVER: \(answer)" } }
            case .killingTheMaster:
                d.master.stop()
            }
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                if d.sentinels.contains(where: { $0.masterPortNamed == newMasterPort }) {
                    timeline.withLockedValue { $0.switched = Date() }
                    break
                }
                usleep(10_000)
            }
            while Date() < deadline {
                if SentinelDeployment.portcullisConnections(on: d.replica) >= 3 {
                    timeline.withLockedValue { $0.moved = Date() }
                    break
                }
                usleep(10_000)
            }
        }
        driver.start()

        let answers = try await withThrowingTaskGroup(of: [(Date, String)].self) { group in
            for worker in 0..<2 {
                group.addTask {
                    var answers: [(Date, String)] = []
                    var client = try RawHTTPClient(port: port, timeoutSeconds: 5)
                    let end = Date().addingTimeInterval(6)
                    var index = 0
                    while Date() < end {
                        let useRevoked = (index + worker) % 2 == 0
                        index += 1
                        let started = Date()
                        do {
                            let response = try client.request("GET", "/", headers: [("Authorization", "Bearer \(useRevoked ? revoked : valid)")])
                            if Date().timeIntervalSince(started) > 2 { answers.append((started, "slow")) }
                            answers.append((started, "\(useRevoked ? "revoked" : "valid") \(response.status)"))
                        } catch {
                            answers.append((started, "transport error"))
                            client = try RawHTTPClient(port: port, timeoutSeconds: 5)
                        }
                    }
                    return answers
                }
            }
            var all: [(Date, String)] = []
            for try await part in group { all += part }
            return all
        }
        let counts = answers.reduce(into: [String: Int]()) { $0[$1.1, default: 0] += 1 }
        let events = timeline.withLockedValue { $0 }
        XCTAssertNil(events.problem)
        XCTAssertNil(counts["revoked 200"], "a revoked token was admitted: \(counts)")
        XCTAssertNil(counts["slow"], "an answer took over 2 s: \(counts)")
        XCTAssertNil(counts["transport error"], "\(counts)")
        XCTAssertEqual(Set(counts.keys).subtracting(["revoked 401", "revoked 503", "valid 200", "valid 503"]), [], "\(counts)")
        XCTAssertGreaterThan(counts["revoked 401"] ?? 0, 0, "\(counts)")
        let switched = try XCTUnwrap(events.switched, "no Sentinel named the replica as master: \(events)")
        let moved = try XCTUnwrap(events.moved, "Portcullis never moved to the new master: \(events)")
        XCTAssertLessThanOrEqual(moved.timeIntervalSince(switched), 5, "on the new master within 5 s of the switch")
        // Once there, every valid token is answered again.
        let late = answers.filter { $0.0 > moved.addingTimeInterval(0.5) && $0.1.hasPrefix("valid") }
        XCTAssertFalse(late.isEmpty, "the load outlasted the move")
        XCTAssertEqual(late.filter { $0.1 != "valid 200" }.count, 0, "\(late.map(\.1))")
        if way == .sentinelFailover {
            // The demoted master holds none of Portcullis's connections any more.
            XCTAssertEqual(SentinelDeployment.portcullisConnections(on: deployment.master), 0)
        }

        // Writes go to the new master (a READONLY from the demoted one makes Portcullis look
        // again): a new revocation is in force at once.
        var status = 0
        let writable = Date().addingTimeInterval(5)
        while Date() < writable {
            status = try h.revoke(jti: "after-failover").status
            if status == 201 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTAssertEqual(status, 201)
        XCTAssertEqual(try deployment.replica.cli(["EXISTS", "portcullis:jti:after-failover"]), "1")
        let after = h.token(jti: "after-failover")
        XCTAssertEqual(try h.client().request("GET", "/", headers: [("Authorization", "Bearer \(after)")]).status, 401)
        await h.stop()
    }
}
