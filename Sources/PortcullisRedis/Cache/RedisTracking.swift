import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Server-assisted client-side caching over RESP2 (hiredis here speaks no RESP3, so
/// invalidations cannot arrive on the lookup connections themselves):
///
/// 1. An invalidation connection asks `CLIENT ID`, then `SUBSCRIBE __redis__:invalidate`.
/// 2. Each loop's lookup connection, on the same node, sends `CLIENT TRACKING ON REDIRECT <id>
///    BCAST PREFIX <jti prefix> PREFIX <subject prefix> [PREFIX <token prefix>]`; once Redis
///    answers OK, that loop's cache is in use.
/// 3. Every write to a key under those prefixes (a revocation through any Portcullis,
///    `redis-cli SETEX`, `SADD`, an expiry) is published to the invalidation connection, which
///    drops the key from every loop's cache; a null message (`FLUSHALL`, `FLUSHDB`) empties them.
///
/// **BCAST, not the default mode**: in the default mode Redis remembers, per connection, every
/// key it was asked about, and a Portcullis in front of millions of distinct tokens would fill
/// Redis's tracking table (`tracking-table-max-keys`) with keys that are never revoked. BCAST
/// keeps no per-key state in Redis: it sends every change under the prefixes, and revocations
/// are rare writes. The cost is an invalidation for keys this process never cached (cheap, and
/// visible in `portcullis_revocation_cache_invalidations_total`).
///
/// **Never stale past a lost link**: both connections are pinged every 200 ms and dropped when
/// a ping is not answered within 800 ms (or `revocation.timeout`, when shorter). When the invalidation connection drops, every cache is
/// emptied and bypassed; when a lookup connection drops (its tracking is gone with it), that
/// loop's cache is. Tracking is turned on again, with the new connection's id, once both are
/// back on the same node.
final class RedisTracking: Sendable {
    struct Settings: Sendable {
        /// The key templates' constant prefixes, as given to `BCAST PREFIX` (see `prefixes(of:)`).
        var prefixes: [String]
        /// Maps invalidated key names back to what the cache holds.
        var layout: RedisKeyLayout
        var entries: Int
        var metrics: RedisCacheMetrics
        var pingInterval: TimeAmount = .milliseconds(200)
        var pingTimeout: TimeAmount = .milliseconds(800)
    }

    /// The invalidation connection that lookups may redirect to: its node and client id.
    private struct Target {
        var address: RedisAddress
        var id: Int64
        var generation: UInt64
    }

    private struct State {
        var target: Target?
        var generation: UInt64 = 0
        var loopsInUse = 0
        weak var set: RedisConnectionSet?
        var invalidation: NIOLoopBound<RedisConnection>?
    }

    let settings: Settings
    private let loopCount: Int
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    init(settings: Settings, loopCount: Int, logger: Logger) {
        self.settings = settings
        self.loopCount = max(1, loopCount)
        self.logger = logger
    }

    /// BCAST prefixes may not overlap (Redis refuses `a:` beside `a:b:`): keep the shortest of
    /// each family. An empty prefix (a template that starts with its placeholder) means every key.
    static func prefixes(of candidates: [String]) -> [String] {
        var kept: [String] = []
        for prefix in Set(candidates).sorted(by: { ($0.count, $0) < ($1.count, $1) }) where !kept.contains(where: { prefix.hasPrefix($0) }) {
            kept.append(prefix)
        }
        return kept.contains("") ? [] : kept
    }

    /// On the loop that will own it.
    func makeCache() -> RedisLoopCache {
        RedisLoopCache(capacity: max(1, settings.entries / loopCount), layout: settings.layout) { using in
            self.loopInUse(using)
        }
    }

    /// The gauge is written under the lock: two loops changing at once must not let the
    /// earlier one's value land last (a cache in use on every loop shown as bypassed).
    private func loopInUse(_ using: Bool) {
        state.withLockedValue { state in
            state.loopsInUse += using ? 1 : -1
            settings.metrics.inUse.record(state.loopsInUse == loopCount ? 1 : 0)
        }
    }

    // MARK: Lookup connections

    /// On the lookup connection's loop, before it starts.
    func attach(lookup: RedisConnection, cache: RedisLoopCache) {
        lookup.keepAlive = (settings.pingInterval, settings.pingTimeout)
        lookup.onLost = { cache.disable() }
        lookup.onReady = { [unowned lookup] address in self.enableTracking(on: lookup, cache: cache, at: address) }
    }

    /// On the lookup connection's loop: tracking on, redirected to the invalidation connection
    /// of the same node; the cache is used once Redis said OK, if nothing changed meanwhile.
    private func enableTracking(on lookup: RedisConnection, cache: RedisLoopCache, at address: RedisAddress) {
        guard let target = state.withLockedValue({ $0.target }), target.address == address else { return }
        let on = ["CLIENT", "TRACKING", "ON", "REDIRECT", String(target.id), "BCAST"]
            + settings.prefixes.flatMap { ["PREFIX", $0] }
        lookup.send([["CLIENT", "TRACKING", "OFF"], on]) { result in
            guard case .success(let replies) = result, replies.allSatisfy({ $0 == .status("OK") }) else {
                if case .success(let replies) = result {
                    self.logger.warning("Redis refused CLIENT TRACKING: local cache off", metadata: ["reply": "\(replies)"])
                }
                return
            }
            let current = self.state.withLockedValue { $0.target?.generation }
            guard current == target.generation, lookup.isReady, lookup.address == address else { return }
            cache.enable()
        }
    }

    // MARK: The invalidation connection

    /// On the invalidation connection's loop, before it starts.
    func attach(invalidation: RedisConnection, set: RedisConnectionSet) {
        state.withLockedValue { state in
            state.set = set
            state.invalidation = NIOLoopBound(invalidation, eventLoop: invalidation.eventLoop)
        }
        invalidation.keepAlive = (settings.pingInterval, settings.pingTimeout)
        invalidation.onPush = { reply in self.received(reply) }
        invalidation.onLost = { self.invalidationLost() }
        invalidation.onReady = { [unowned invalidation] address in
            invalidation.send([["CLIENT", "ID"], ["SUBSCRIBE", "__redis__:invalidate"]]) { result in
                guard case .success(let replies) = result, case .integer(let id) = replies[0],
                      case .array(let parts) = replies[1], parts.first?.text == "subscribe"
                else {
                    self.logger.error("cannot subscribe to Redis invalidations: local cache off", metadata: ["reply": "\(result)"])
                    return
                }
                self.invalidationReady(at: address, id: id)
            }
        }
    }

    private func invalidationReady(at address: RedisAddress, id: Int64) {
        let set = state.withLockedValue { state -> RedisConnectionSet? in
            state.generation += 1
            state.target = Target(address: address, id: id, generation: state.generation)
            return state.set
        }
        logger.debug("Redis invalidations subscribed", metadata: ["redis.node": "\(address)", "redis.client_id": "\(id)"])
        set?.forEachLookup { lookup, cache in
            guard let cache, lookup.isReady, lookup.address == address else { return }
            self.enableTracking(on: lookup, cache: cache, at: address)
        }
    }

    private func invalidationLost() {
        let set = state.withLockedValue { state -> RedisConnectionSet? in
            let wasUp = state.target != nil
            state.generation += 1
            state.target = nil
            return wasUp ? state.set : nil
        }
        guard let set else { return }
        logger.warning("Redis invalidation connection lost: local cache emptied and bypassed until it is back")
        set.forEachCache { $0.disable() }
    }

    private func received(_ reply: RedisReply) {
        guard case .array(let parts) = reply, parts.count == 3, parts[1].text == "__redis__:invalidate",
              let set = state.withLockedValue({ $0.set })
        else { return }
        switch parts[2] {
        case .array(let keys):
            let names = keys.compactMap(\.text)
            settings.metrics.invalidations.increment(by: Int64(max(1, names.count)))
            set.forEachCache { $0.invalidate(names) }
        default:
            // Null: the whole keyspace went (FLUSHALL, FLUSHDB).
            settings.metrics.invalidations.increment()
            set.forEachCache { $0.invalidateAll() }
        }
    }

    func masterChanged(to address: RedisAddress) {
        guard let invalidation = state.withLockedValue({ $0.invalidation }) else { return }
        invalidation.eventLoop.execute { invalidation.value.addressChanged(to: address) }
    }

    func shutdown() async {
        guard let invalidation = state.withLockedValue({ $0.invalidation }) else { return }
        try? await invalidation.eventLoop.submit { invalidation.value.shutdown() }.get()
    }
}
