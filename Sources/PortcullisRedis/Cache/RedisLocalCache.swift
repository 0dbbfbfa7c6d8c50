import CoreMetrics

/// `revocation.local_cache: tracking`: one event loop's "not revoked" answers, per Redis key,
/// used only on that loop. Redis invalidates them (`CLIENT TRACKING`, see `RedisTracking`).
///
/// Only what makes a token pass is kept: a jti or raw-token key that does not exist, and a
/// subject key's cut-off (or its absence). A revoked answer is never cached: it is asked
/// again, so an un-revocation is seen at once.
///
/// Entries are keyed by the value inside the Redis key (the jti, the subject, the raw token),
/// not by the key's name: a hit builds no string. Invalidations name Redis keys, which the
/// layout maps back (`RedisKeyLayout.cachedKeys(of:)`).
///
/// Two generations bound the size: when the current one is full it becomes the previous one
/// (the one before is dropped), and an entry read from the previous one moves back. Keys read
/// recently stay; the rest goes, a generation at a time.
final class RedisLoopCache {
    enum Entry: Equatable {
        case absent
        /// A subject's cut-off, as a Unix time; one that is not a number is kept as infinity
        /// (it revokes every token of that subject, as the uncached lookup decides).
        case cutoff(Double)
    }

    private var current: [RedisCachedKey: Entry] = [:]
    private var previous: [RedisCachedKey: Entry] = [:]
    private let generationSize: Int
    private let layout: RedisKeyLayout
    /// Bumped by every invalidation and every change of `inUse`: a reply may fill the cache
    /// only when the epoch is the one its request was sent under. An invalidation that
    /// overtakes the reply it concerns (it comes on another connection) thus wins.
    private(set) var epoch: UInt64 = 0
    /// True while both this loop's lookup connection (with tracking on) and the invalidation
    /// connection are up; false, the cache is empty and not used.
    private(set) var inUse = false
    private let onUse: (Bool) -> Void

    init(capacity: Int, layout: RedisKeyLayout, onUse: @escaping (Bool) -> Void) {
        generationSize = max(1, capacity / 2)
        self.layout = layout
        self.onUse = onUse
    }

    var count: Int { current.count + previous.count }

    func entry(_ key: RedisCachedKey) -> Entry? {
        if let entry = current[key] { return entry }
        guard let entry = previous.removeValue(forKey: key) else { return nil }
        insert(key, entry)
        return entry
    }

    /// Stores what a reply said, unless anything was invalidated since its request was sent.
    func fill(_ key: RedisCachedKey, _ entry: Entry, sentAt sentEpoch: UInt64) {
        guard inUse, sentEpoch == epoch else { return }
        insert(key, entry)
    }

    /// Redis key names, as an invalidation message lists them.
    func invalidate(_ keys: [String]) {
        epoch &+= 1
        for name in keys {
            for key in layout.cachedKeys(of: name) {
                current[key] = nil
                previous[key] = nil
            }
        }
    }

    /// A `FLUSHALL`/`FLUSHDB` (a null invalidation): nothing cached holds any more.
    func invalidateAll() {
        epoch &+= 1
        current = [:]
        previous = [:]
    }

    func enable() {
        epoch &+= 1
        guard !inUse else { return }
        inUse = true
        onUse(true)
    }

    /// Emptied and bypassed: a connection that delivers invalidations (or the tracking state)
    /// was lost, so invalidations may have been missed.
    func disable() {
        invalidateAll()
        guard inUse else { return }
        inUse = false
        onUse(false)
    }

    private func insert(_ key: RedisCachedKey, _ entry: Entry) {
        if current.count >= generationSize {
            previous = current
            current = [:]
        }
        current[key] = entry
    }
}

/// What the local cache is keyed by: which kind of key, and the value its template was filled
/// with. Hashing one is hashing that value, already at hand in the request's claims.
enum RedisCachedKey: Hashable {
    case jti(String)
    case token(String)
    case subject(String)
}

/// What `/metrics` shows of the local cache.
public struct RedisCacheMetrics: Sendable {
    let hits: Counter
    let misses: Counter
    let invalidations: Counter
    /// 1 while every event loop's cache is in use, else 0.
    let inUse: Gauge

    public init(factory: MetricsFactory) {
        hits = Counter(label: "portcullis_revocation_cache_hits_total", factory: factory)
        misses = Counter(label: "portcullis_revocation_cache_misses_total", factory: factory)
        invalidations = Counter(label: "portcullis_revocation_cache_invalidations_total", factory: factory)
        inUse = Gauge(label: "portcullis_revocation_cache_in_use", factory: factory)
        inUse.record(0)
    }
}
