import XCTest
@testable import PortcullisCore
@testable import PortcullisRedis

/// Slots, hash tags, redirections and slot maps, against the values Redis's own
/// documentation and `CLUSTER KEYSLOT` give.
final class RedisClusterSlotsTests: XCTestCase {
    func testCRC16AndSlots() {
        XCTAssertEqual(RedisClusterSlots.crc16(Array("123456789".utf8)), 0x31C3)
        XCTAssertEqual(RedisClusterSlots.slot(of: "foo"), 12182)
        XCTAssertEqual(RedisClusterSlots.slot(of: "portcullis:jti:abc"), RedisClusterSlots.slot(of: "portcullis:jti:abc"))
    }

    func testHashTags() {
        let tag = RedisClusterSlots.slot(of: "user1000")
        XCTAssertEqual(RedisClusterSlots.slot(of: "{user1000}.following"), tag)
        XCTAssertEqual(RedisClusterSlots.slot(of: "{user1000}.followers"), tag)
        XCTAssertEqual(RedisClusterSlots.slot(of: "foo{bar}{zap}"), RedisClusterSlots.slot(of: "bar"), "the first tag")
        XCTAssertEqual(RedisClusterSlots.slot(of: "foo{{bar}}zap"), RedisClusterSlots.slot(of: "{bar"))
        XCTAssertEqual(RedisClusterSlots.crc16(Array("foo{}{bar}".utf8)) % 16384,
                       UInt16(RedisClusterSlots.slot(of: "foo{}{bar}")), "an empty tag: the whole key")
    }

    func testReasonKeysShareTheirJTIKeysSlot() throws {
        let layout = try RedisKeyLayout(jtiKey: "blocklist:{jti}", subjectKey: "portcullis:sub:{sub}", tokenKey: "", cluster: true)
        for jti in ["abc", "x{y", "{tagged}1", "a}b{c}"] {
            let key = layout.jti.key(jti)
            let reason = try XCTUnwrap(layout.reasonKey(of: key), key)
            XCTAssertEqual(RedisClusterSlots.slot(of: reason), RedisClusterSlots.slot(of: key), key)
        }
        let standalone = try RedisKeyLayout(jtiKey: "blocklist:{jti}", subjectKey: "portcullis:sub:{sub}", tokenKey: "")
        XCTAssertEqual(standalone.reasonKey(of: "blocklist:abc"), "portcullis:reason:blocklist:abc", "unchanged off a cluster")
    }

    func testRedirections() {
        XCTAssertEqual(RedisRedirect(.error("MOVED 3999 127.0.0.1:6381")), .moved(slot: 3999, to: RedisAddress(host: "127.0.0.1", port: 6381)))
        XCTAssertEqual(RedisRedirect(.error("ASK 3999 10.0.0.2:7000")), .ask(slot: 3999, to: RedisAddress(host: "10.0.0.2", port: 7000)))
        XCTAssertEqual(RedisRedirect(.error("MOVED 1 [::1]:7000")), .moved(slot: 1, to: RedisAddress(host: "::1", port: 7000)))
        XCTAssertEqual(RedisRedirect(.error("TRYAGAIN Multiple keys request during rehashing of slot")), .tryAgain)
        XCTAssertNil(RedisRedirect(.error("ERR unknown command")))
        XCTAssertNil(RedisRedirect(.integer(1)))
    }

    /// What goes to a node after `ASK`, and a transaction unwrapped after `TRYAGAIN`.
    func testAskingPlansAndUnwrappedTransactions() {
        let pipeline = [["TTL", "k"], ["GET", "r"]]
        XCTAssertEqual(RedisCluster.plan(pipeline, asking: false, unwrapped: false).sent, pipeline)
        let asked = RedisCluster.plan(pipeline, asking: true, unwrapped: false)
        XCTAssertEqual(asked.sent, [["ASKING"], ["TTL", "k"], ["ASKING"], ["GET", "r"]], "ASKING holds for one command")
        XCTAssertEqual(asked.isAsking, [true, false, true, false])

        let block = [["MULTI"], ["SET", "k", "1"], ["SET", "r", "why"], ["EXEC"], ["WAIT", "1", "1000"]]
        XCTAssertEqual(RedisCluster.plan(block, asking: true, unwrapped: false).sent,
                       [["ASKING"], ["MULTI"], ["SET", "k", "1"], ["SET", "r", "why"], ["EXEC"], ["WAIT", "1", "1000"]],
                       "inside MULTI it holds until EXEC (and would be queued)")
        let unwrapped = RedisCluster.plan(block, asking: true, unwrapped: true)
        XCTAssertEqual(unwrapped.sent, [["ASKING"], ["SET", "k", "1"], ["ASKING"], ["SET", "r", "why"], ["WAIT", "1", "1000"]])
        let flat: [RedisReply] = [.status("OK"), .status("OK"), .integer(1)]
        XCTAssertEqual(RedisCluster.rewrapped(flat, for: block),
                       [.status("OK"), .status("QUEUED"), .status("QUEUED"), .array([.status("OK"), .status("OK")]), .integer(1)],
                       "the replies keep the transaction's shape")
    }

    func testSlotMapsFromSlotsAndShards() throws {
        let a = RedisAddress(host: "127.0.0.1", port: 7000)
        let b = RedisAddress(host: "127.0.0.1", port: 7001)
        let slots = RedisReply.array([
            .array([.integer(0), .integer(8191), .array([.string(Array("127.0.0.1".utf8)), .integer(7000), .string([])])]),
            .array([.integer(8192), .integer(16383), .array([.string(Array("127.0.0.1".utf8)), .integer(7001), .string([])])]),
        ])
        let map = try XCTUnwrap(RedisSlotMap.parse(slots: slots))
        XCTAssertEqual(map.master(of: 0), a)
        XCTAssertEqual(map.master(of: 16383), b)
        func text(_ s: String) -> RedisReply { .string(Array(s.utf8)) }
        let shards = RedisReply.array([
            .array([text("slots"), .array([.integer(0), .integer(100), .integer(200), .integer(16383)]),
                    text("nodes"), .array([
                        .array([text("port"), .integer(7001), text("ip"), text("127.0.0.1"), text("role"), text("replica")]),
                        .array([text("port"), .integer(7000), text("ip"), text("127.0.0.1"), text("role"), text("master"),
                                text("health"), text("online")]),
                    ])]),
            .array([text("slots"), .array([.integer(101), .integer(199)]),
                    text("nodes"), .array([.array([text("port"), .integer(7001), text("ip"), text("127.0.0.1"), text("role"), text("master")])])]),
        ])
        var fromShards = try XCTUnwrap(RedisSlotMap.parse(shards: shards))
        XCTAssertEqual(fromShards.master(of: 50), a)
        XCTAssertEqual(fromShards.master(of: 150), b)
        XCTAssertEqual(fromShards.master(of: 300), a)
        fromShards.move(300, to: RedisAddress(host: "127.0.0.1", port: 7002))
        XCTAssertEqual(fromShards.master(of: 300), RedisAddress(host: "127.0.0.1", port: 7002))
        XCTAssertNil(RedisSlotMap.parse(shards: .error("ERR unknown subcommand")))
    }
}

final class ScanCursorNodeTests: XCTestCase {
    func testACursorCarriesItsClusterNode() throws {
        var cursor = ScanCursor(position: 42, count: 100, progress: .init(lastKey: "portcullis:jti:a:b", batchEnd: 7))
        XCTAssertEqual(ScanCursor(encoded: cursor.encoded), cursor, "node 0: the format of a standalone listing")
        cursor.node = 2
        let decoded = try XCTUnwrap(ScanCursor(encoded: cursor.encoded))
        XCTAssertEqual(decoded, cursor)
        XCTAssertEqual(decoded.node, 2)
        XCTAssertNil(ScanCursor(encoded: Base64URL.encode("n0.s1:0:100::".utf8)), "node 0 is never written out")
        XCTAssertNil(ScanCursor(encoded: Base64URL.encode("nx.s1:0:100::".utf8)))
    }
}
