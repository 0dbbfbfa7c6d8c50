import XCTest
@testable import PortcullisCore
@testable import PortcullisRedis

/// The local cache and a lookup's use of it, with no Redis.
final class RedisLoopCacheTests: XCTestCase {
    private func cache(capacity: Int = 100) -> (RedisLoopCache, () -> [Bool]) {
        final class Uses { var values: [Bool] = [] }
        let uses = Uses()
        let cache = RedisLoopCache(capacity: capacity) { uses.values.append($0) }
        return (cache, { uses.values })
    }

    func testFillsOnlyWhileInUseAndUnderTheSameEpoch() {
        let (cache, uses) = cache()
        cache.fill("k", .absent, sentAt: cache.epoch)
        XCTAssertNil(cache.entry("k"), "not in use: nothing kept")
        cache.enable()
        XCTAssertEqual(uses(), [true])
        cache.fill("k", .absent, sentAt: cache.epoch)
        XCTAssertEqual(cache.entry("k"), .absent)
    }

    /// The race: the request is sent, the key changes, the invalidation arrives before the
    /// (stale) reply. The reply must not fill the cache.
    func testAnInvalidationThatOvertakesTheReplyWins() {
        let (cache, _) = cache()
        cache.enable()
        let sent = cache.epoch
        cache.invalidate(["portcullis:jti:x"])
        cache.fill("portcullis:jti:x", .absent, sentAt: sent)
        XCTAssertNil(cache.entry("portcullis:jti:x"))
        // Any invalidation counts, not only one of the same key (they are rare).
        let sentAgain = cache.epoch
        cache.invalidateAll()
        cache.fill("portcullis:jti:y", .absent, sentAt: sentAgain)
        XCTAssertNil(cache.entry("portcullis:jti:y"))
    }

    func testRequestsSentBeforeTrackingWasOnDoNotFill() {
        let (cache, _) = cache()
        let sentWhileOff = cache.epoch
        cache.enable()
        cache.fill("k", .absent, sentAt: sentWhileOff)
        XCTAssertNil(cache.entry("k"))
    }

    func testDisableEmptiesAndReportsOnce() {
        let (cache, uses) = cache()
        cache.enable()
        cache.enable()
        cache.fill("k", .absent, sentAt: cache.epoch)
        cache.disable()
        cache.disable()
        XCTAssertEqual(uses(), [true, false])
        XCTAssertFalse(cache.inUse)
        XCTAssertEqual(cache.count, 0)
        cache.enable()
        XCTAssertNil(cache.entry("k"), "re-enabled empty")
    }

    func testBoundedByTwoGenerationsKeepingRecentlyReadKeys() {
        let (cache, _) = cache(capacity: 4)
        cache.enable()
        for key in ["a", "b"] { cache.fill(key, .absent, sentAt: cache.epoch) }
        for key in ["c", "d"] { cache.fill(key, .absent, sentAt: cache.epoch) }
        XCTAssertEqual(cache.entry("a"), .absent, "read from the older generation: moved back")
        for key in ["e", "f", "g"] { cache.fill(key, .absent, sentAt: cache.epoch) }
        XCTAssertLessThanOrEqual(cache.count, 4)
        XCTAssertNil(cache.entry("b"), "not read since: dropped")
    }

    func testLookupVerdictsFromTheCache() throws {
        let layout = try RedisKeyLayout(jtiKey: "portcullis:jti:{jti}", subjectKey: "portcullis:sub:{sub}", tokenKey: "")
        let (cache, _) = cache()
        cache.enable()
        let query = RevocationQuery(jti: "j1", subject: "alice", issuedAt: 2_000)
        let lookup = try XCTUnwrap(layout.lookup(query))
        XCTAssertEqual(lookup.commands, [["EXISTS", "portcullis:jti:j1"], ["GET", "portcullis:sub:alice"]])
        XCTAssertNil(lookup.cachedVerdict(cache), "nothing cached yet")
        lookup.fill(cache, from: [.integer(0), .string(Array("1000".utf8))], sentAt: cache.epoch)
        XCTAssertEqual(lookup.cachedVerdict(cache), .allowed, "issued after the cut-off")
        let older = try XCTUnwrap(layout.lookup(RevocationQuery(jti: "j2", subject: "alice", issuedAt: 500)))
        older.fill(cache, from: [.integer(0), .string(Array("1000".utf8))], sentAt: cache.epoch)
        XCTAssertEqual(older.cachedVerdict(cache), .revoked, "the cached cut-off still applies per token")
        // A revoked jti is never kept.
        let revoked = try XCTUnwrap(layout.lookup(RevocationQuery(jti: "j3", subject: "bob", issuedAt: 500)))
        revoked.fill(cache, from: [.integer(1), .null], sentAt: cache.epoch)
        XCTAssertNil(cache.entry("portcullis:jti:j3"))
        XCTAssertEqual(cache.entry("portcullis:sub:bob"), .absent)
    }

    func testVerdictFromReplies() throws {
        let layout = try RedisKeyLayout(jtiKey: "blocklist:{jti}", subjectKey: "portcullis:sub:{sub}", tokenKey: "revoked:{token}")
        let lookup = try XCTUnwrap(layout.lookup(RevocationQuery(jti: "j", subject: "s", issuedAt: nil, rawToken: "t.t.t")))
        XCTAssertEqual(lookup.commands, [["EXISTS", "blocklist:j"], ["EXISTS", "revoked:t.t.t"], ["GET", "portcullis:sub:s"]])
        XCTAssertEqual(lookup.verdict([.integer(0), .integer(0), .null]), .allowed)
        XCTAssertEqual(lookup.verdict([.integer(0), .integer(1), .null]), .revoked, "the raw token exists")
        XCTAssertEqual(lookup.verdict([.integer(0), .integer(0), .string(Array("5".utf8))]), .revoked, "no iat: revoked by a cut-off")
        XCTAssertEqual(lookup.verdict([.integer(0), .integer(0), .error("WRONGTYPE Operation against a key")]), .revoked)
        XCTAssertEqual(lookup.verdict([.error("LOADING Redis is loading"), .integer(0), .null]), .unavailable)
        XCTAssertEqual(lookup.verdict([.integer(0)]), .unavailable)
    }

    func testTrackedPrefixesNeverOverlap() {
        XCTAssertEqual(RedisTracking.prefixes(of: ["portcullis:jti:", "portcullis:sub:"]), ["portcullis:jti:", "portcullis:sub:"])
        XCTAssertEqual(RedisTracking.prefixes(of: ["portcullis:", "portcullis:sub:", "portcullis:"]), ["portcullis:"])
        XCTAssertEqual(RedisTracking.prefixes(of: ["", "portcullis:sub:"]), [], "a bare {jti}: every key")
    }
}
