import Foundation
import XCTest

/// INTERFACE §5: a jti or raw-token key revokes when it exists, whatever its type or value.
final class RedisExistsTests: XCTestCase {
    private func status(_ h: GatewayHarness, _ token: String) throws -> Int {
        try h.client().request("GET", "/", headers: [("Authorization", "Bearer \(token)")]).status
    }

    func testJTIAndTokenKeysOfAnyTypeRevoke() async throws {
        let s = try await StoreUnderTest(.redis, environment: ["PORTCULLIS_REVOCATION_JTI_KEY": "blocklist:{jti}",
                                                                "PORTCULLIS_REVOCATION_TOKEN_KEY": "revoked:{token}"])
        let redis = try XCTUnwrap(s.redis)
        let h = s.harness
        // One token per key type, each revoked by its jti key; one more by its raw-token key.
        let bySet = h.token(jti: "exists-set")
        let byHash = h.token(jti: "exists-hash")
        let byString = h.token(jti: "exists-string")
        let byList = h.token(jti: "exists-list")
        let byTokenSet = h.token(jti: "exists-token-set")
        let untouched = h.token(jti: "exists-untouched")
        for token in [bySet, byHash, byString, byList, byTokenSet, untouched] {
            XCTAssertEqual(try status(h, token), 200)
        }
        try redis.cli(["SADD", "blocklist:exists-set", "revoked"])
        try redis.cli(["HSET", "blocklist:exists-hash", "reason", "fraud", "at", "1700000000"])
        try redis.cli(["SET", "blocklist:exists-string", ""])
        try redis.cli(["RPUSH", "blocklist:exists-list", "x"])
        try redis.cli(["SADD", "revoked:\(byTokenSet)", "1"])
        XCTAssertEqual(try status(h, bySet), 401, "SADD revokes")
        XCTAssertEqual(try status(h, byHash), 401, "HSET revokes")
        XCTAssertEqual(try status(h, byString), 401, "SET to an empty string revokes")
        XCTAssertEqual(try status(h, byList), 401, "RPUSH revokes")
        XCTAssertEqual(try status(h, byTokenSet), 401, "a raw-token key of type set revokes")
        XCTAssertEqual(try status(h, untouched), 200)
        // The admin lookup agrees that a set-typed key is a revocation.
        let found = try s.admin("GET", "/v1/revocations/exists-set")
        XCTAssertEqual(found.status, 200, found.bodyText)
        XCTAssertEqual(found.json["revoked"] as? Bool, true)
        // Deleted again: accepted again.
        try redis.cli(["DEL", "blocklist:exists-set", "blocklist:exists-hash"])
        XCTAssertEqual(try status(h, bySet), 200)
        XCTAssertEqual(try status(h, byHash), 200)
        await s.stop()
    }

    /// A subject cut-off that is not a string value (written by hand as a set) cannot be read
    /// as a time: every token of that subject is refused, never admitted.
    func testSubjectKeyOfTheWrongTypeFailsSafe() async throws {
        let s = try await StoreUnderTest(.redis)
        let redis = try XCTUnwrap(s.redis)
        let token = s.harness.token(sub: "wrongtype", jti: "wt-1")
        XCTAssertEqual(try s.proxyStatus(token), 200)
        try redis.cli(["SADD", "portcullis:sub:wrongtype", "1700000000"])
        XCTAssertEqual(try s.proxyStatus(token), 401)
        XCTAssertEqual(try s.proxyStatus(s.harness.token(sub: "someone-else", jti: "wt-2")), 200)
        await s.stop()
    }
}
