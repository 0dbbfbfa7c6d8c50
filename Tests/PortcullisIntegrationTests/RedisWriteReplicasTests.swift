import Foundation
import XCTest

/// INTERFACE §4, `revocation.write_replicas`: a 201 only once Redis confirmed the write on that
/// many replicas (`WAIT`, 1 s); otherwise 503 `RevocationNotReplicatedError`.
final class RedisWriteReplicasTests: XCTestCase {
    private let auth = [("Authorization", "Bearer \(GatewayHarness.adminToken)")]

    private func waitReady(_ h: GatewayHarness) async throws {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if (try? h.adminClient().request("GET", "/readyz"))?.status == 200 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTFail("not ready within 5s")
    }

    func testRevocationWaitsForTheReplicaAndIsRefusedWhenItIsStopped() async throws {
        let master = try RedisServer()
        let replica = try master.startReplica()
        let h = try await GatewayHarness(environment: [
            "PORTCULLIS_REVOCATION_STORE": "redis", "PORTCULLIS_REVOCATION_REDIS_URL": master.url,
            "PORTCULLIS_REVOCATION_WRITE_REPLICAS": "1",
        ])
        try await waitReady(h)

        // With the replica up: 201, and the key is on the replica when the answer comes.
        let replicated = try h.revoke(jti: "wr-1")
        XCTAssertEqual(replicated.status, 201, replicated.bodyText)
        XCTAssertEqual(try replica.cli(["EXISTS", "portcullis:jti:wr-1"]), "1", "confirmed by the replica before the 201")
        let subject = try h.adminClient().request("POST", "/v1/subjects/wr-user/revocations", headers: auth)
        XCTAssertEqual(subject.status, 201, subject.bodyText)
        XCTAssertEqual(try replica.cli(["EXISTS", "portcullis:sub:wr-user"]), "1")

        // Replica stopped: the master still takes the write, but nobody confirms it.
        replica.stop()
        try master.waitUntil(seconds: 10, "the master notices the replica is gone") {
            (try? master.cli(["INFO", "replication"]))?.contains("connected_slaves:0") == true
        }
        let started = Date()
        let refused = try h.revoke(jti: "wr-2")
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(refused.status, 503, refused.bodyText)
        XCTAssertEqual(refused.json["error_type"] as? String, "RevocationNotReplicatedError")
        XCTAssertEqual(refused.json["message"] as? String, "Revocation not replicated")
        XCTAssertGreaterThanOrEqual(elapsed, 0.9, "WAIT gave the replicas 1 s")
        XCTAssertLessThan(elapsed, 3, "and no more than that (plus the round trip)")
        let refusedSubject = try h.adminClient().request("POST", "/v1/subjects/wr-user-2/revocations", headers: auth)
        XCTAssertEqual(refusedSubject.status, 503, refusedSubject.bodyText)
        XCTAssertEqual(refusedSubject.json["error_type"] as? String, "RevocationNotReplicatedError")
        // "May or may not be in force": here the master has it, so the token is refused...
        XCTAssertEqual(try h.client().request("GET", "/", headers: [("Authorization", "Bearer \(h.token(jti: "wr-2"))")]).status, 401)
        // ...and lookups, which never wait for replicas, keep answering.
        XCTAssertEqual(try h.client().request("GET", "/", headers: [("Authorization", "Bearer \(h.token(jti: "wr-3"))")]).status, 200)

        // The replica back: retrying is safe, and answers 201 again.
        try replica.start()
        try replica.waitUntil(seconds: 10, "the replica syncs again") {
            (try? replica.cli(["INFO", "replication"]))?.contains("master_link_status:up") == true
        }
        let retried = try h.revoke(jti: "wr-2")
        XCTAssertEqual(retried.status, 201, retried.bodyText)
        XCTAssertEqual(try replica.cli(["EXISTS", "portcullis:jti:wr-2"]), "1")
        await h.stop()
    }
}
