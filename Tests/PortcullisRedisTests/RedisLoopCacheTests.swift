import XCTest
@testable import PortcullisCore
@testable import PortcullisRedis

/// The local cache and a lookup's use of it, with no Redis.
final class RedisLoopCacheTests: XCTestCase {
    private func cache(capacity: Int = 100) -> (RedisLoopCache, () -> [Bool]) {
        final class Uses { var values: [Bool] = [] }
        let uses = Uses()
        let layout = try! RedisKeyLayout(jtiKey: "portcullis:jti:{jti}", subjectKey: "portcullis:sub:{sub}", tokenKey: "")
        let cache = RedisLoopCache(capacity: capacity, layout: layout) { uses.values.append($0) }
        return (cache, { uses.values })
    }

    func testFillsOnlyWhileInUseAndUnderTheSameEpoch() {
        let (cache, uses) = cache()
        cache.fill(.jti("k"), .absent, sentAt: cache.epoch)
        XCTAssertNil(cache.entry(.jti("k")), "not in use: nothing kept")
        cache.enable()
        XCTAssertEqual(uses(), [true])
        cache.fill(.jti("k"), .absent, sentAt: cache.epoch)
        XCTAssertEqual(cache.entry(.jti("k")), .absent)
    }

    /// The race: the request is sent, the key changes, the invalidation arrives before the
    /// (stale) reply. The reply must not fill the cache.
    func testAnInvalidationThatOvertakesTheReplyWins() {
        let (cache, _) = cache()
        cache.enable()
        let sent = cache.epoch
        cache.invalidate(["portcullis:jti:x"])
        cache.fill(.jti("x"), .absent, sentAt: sent)
        XCTAssertNil(cache.entry(.jti("x")))
        // Any invalidation counts, not only one of the same key (they are rare).
        let sentAgain = cache.epoch
        cache.invalidateAll()
        cache.fill(.jti("y"), .absent, sentAt: sentAgain)
        XCTAssertNil(cache.entry(.jti("y")))
    }

    func testRequestsSentBeforeTrackingWasOnDoNotFill() {
        let (cache, _) = cache()
        let sentWhileOff = cache.epoch
        cache.enable()
        cache.fill(.jti("k"), .absent, sentAt: sentWhileOff)
        XCTAssertNil(cache.entry(.jti("k")))
    }

    func testDisableEmptiesAndReportsOnce() {
        let (cache, uses) = cache()
        cache.enable()
        cache.enable()
        cache.fill(.jti("k"), .absent, sentAt: cache.epoch)
        cache.disable()
        cache.disable()
        XCTAssertEqual(uses(), [true, false])
        XCTAssertFalse(cache.inUse)
        XCTAssertEqual(cache.count, 0)
        cache.enable()
        XCTAssertNil(cache.entry(.jti("k")), "re-enabled empty")
    }

    func testBoundedByTwoGenerationsKeepingRecentlyReadKeys() {
        let (cache, _) = cache(capacity: 4)
        cache.enable()
        for key in ["a", "b"] { cache.fill(.jti(key), .absent, sentAt: cache.epoch) }
        for key in ["c", "d"] { cache.fill(.jti(key), .absent, sentAt: cache.epoch) }
        XCTAssertEqual(cache.entry(.jti("a")), .absent, "read from the older generation: moved back")
        for key in ["e", "f", "g"] { cache.fill(.jti(key), .absent, sentAt: cache.epoch) }
        XCTAssertLessThanOrEqual(cache.count, 4)
        XCTAssertNil(cache.entry(.jti("b")), "not read since: dropped")
    }

    func testLookupVerdictsFromTheCache() throws {
        let layout = try RedisKeyLayout(jtiKey: "portcullis:jti:{jti}", subjectKey: "portcullis:sub:{sub}", tokenKey: "")
        let (cache, _) = cache()
        cache.enable()
        let query = RevocationQuery(jti: "j1", subject: "alice", issuedAt: 2_000)
        let lookup = try XCTUnwrap(layout.lookup(query))
        XCTAssertEqual(lookup.commands, [["EXISTS", "portcullis:jti:j1"], ["GET", "portcullis:sub:alice"]])
        XCTAssertNil(layout.cachedVerdict(query, in: cache), "nothing cached yet")
        lookup.fill(cache, from: [.integer(0), .string(Array("1000".utf8))], sentAt: cache.epoch)
        XCTAssertEqual(layout.cachedVerdict(query, in: cache), .allowed, "issued after the cut-off")
        let olderQuery = RevocationQuery(jti: "j2", subject: "alice", issuedAt: 500)
        let older = try XCTUnwrap(layout.lookup(olderQuery))
        older.fill(cache, from: [.integer(0), .string(Array("1000".utf8))], sentAt: cache.epoch)
        XCTAssertEqual(layout.cachedVerdict(olderQuery, in: cache), .revoked, "the cached cut-off still applies per token")
        XCTAssertEqual(layout.cachedVerdict(RevocationQuery(jti: "j2", subject: "alice", issuedAt: nil), in: cache), .revoked,
                       "no iat: revoked by a cached cut-off")
        // A revoked jti is never kept.
        let revoked = try XCTUnwrap(layout.lookup(RevocationQuery(jti: "j3", subject: "bob", issuedAt: 500)))
        revoked.fill(cache, from: [.integer(1), .null], sentAt: cache.epoch)
        XCTAssertNil(cache.entry(.jti("j3")))
        XCTAssertEqual(cache.entry(.subject("bob")), .absent)
        XCTAssertNil(layout.cachedVerdict(RevocationQuery(jti: "j3", subject: "bob", issuedAt: 500), in: cache))
        // A cut-off that is not a number revokes every token of the subject, cached or not.
        let garbled = try XCTUnwrap(layout.lookup(RevocationQuery(jti: "j4", subject: "carol", issuedAt: 9_999)))
        garbled.fill(cache, from: [.integer(0), .string(Array("soon".utf8))], sentAt: cache.epoch)
        XCTAssertEqual(layout.cachedVerdict(RevocationQuery(jti: "j4", subject: "carol", issuedAt: 9_999), in: cache), .revoked)
    }

    /// Invalidations name Redis keys; the cache drops what each one was to it.
    func testInvalidationsByKeyNameReachEveryKind() throws {
        let layout = try RedisKeyLayout(jtiKey: "blocklist:{jti}", subjectKey: "portcullis:sub:{sub}", tokenKey: "revoked:{token}")
        let cache = RedisLoopCache(capacity: 100, layout: layout) { _ in }
        cache.enable()
        let query = RevocationQuery(jti: "j", subject: "s", issuedAt: 10, rawToken: "t.t.t")
        let lookup = try XCTUnwrap(layout.lookup(query))
        lookup.fill(cache, from: [.integer(0), .integer(0), .null], sentAt: cache.epoch)
        XCTAssertEqual(layout.cachedVerdict(query, in: cache), .allowed)
        for name in ["blocklist:j", "revoked:t.t.t", "portcullis:sub:s"] {
            lookup.fill(cache, from: [.integer(0), .integer(0), .null], sentAt: cache.epoch)
            cache.invalidate([name])
            XCTAssertNil(layout.cachedVerdict(query, in: cache), "\(name) invalidated: asked again")
        }
        XCTAssertEqual(layout.cachedKeys(of: "unrelated"), [])
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
