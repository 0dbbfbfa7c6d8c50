import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The local cache on a Redis Cluster: `RedisTracking`'s scheme once per master. Each master
/// has its own invalidation connection (`CLIENT ID`, `SUBSCRIBE __redis__:invalidate`), and
/// every loop's lookup connection to that master redirects its `BCAST` tracking there. A
/// loop's cache is in use only while its lookup connection to **every** master of the slot
/// map is tracked and every master's invalidation connection is up: a change on any master
/// may concern a cached key.
final class RedisClusterTracking: Sendable {
    private struct Target {
        var id: Int64
        var generation: UInt64
    }

    private struct State {
        var targets: [RedisAddress: Target] = [:]
        var generation: UInt64 = 0
        var loopsInUse = 0
    }

    let settings: RedisTracking.Settings
    private let loopCount: Int
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    init(settings: RedisTracking.Settings, loopCount: Int, logger: Logger) {
        self.settings = settings
        self.loopCount = max(1, loopCount)
        self.logger = logger
    }

    /// On the loop that will own it.
    func makeLoop() -> RedisClusterLoopTracking {
        RedisClusterLoopTracking(cache: RedisLoopCache(capacity: max(1, settings.entries / loopCount),
                                                                layout: settings.layout) { using in
            // Under the lock, so that the last value written is the current one.
            self.state.withLockedValue { state in
                state.loopsInUse += using ? 1 : -1
                self.settings.metrics.inUse.record(state.loopsInUse == self.loopCount ? 1 : 0)
            }
        })
    }

    // MARK: Lookup connections

    /// On the lookup connection's loop, before it starts.
    func attach(lookup: RedisConnection, node: RedisAddress, loop: RedisClusterLoopTracking) {
        lookup.keepAlive = (settings.pingInterval, settings.pingTimeout)
        lookup.onLost = { loop.lost(node) }
        lookup.onReady = { [unowned lookup] _ in self.enableTracking(on: lookup, node: node, loop: loop) }
    }

    func enableTracking(on lookup: RedisConnection, node: RedisAddress, loop: RedisClusterLoopTracking) {
        guard lookup.isReady, let target = state.withLockedValue({ $0.targets[node] }) else { return }
        let on = ["CLIENT", "TRACKING", "ON", "REDIRECT", String(target.id), "BCAST"]
            + settings.prefixes.flatMap { ["PREFIX", $0] }
        lookup.send([["CLIENT", "TRACKING", "OFF"], on]) { result in
            guard case .success(let replies) = result, replies.allSatisfy({ $0 == .status("OK") }) else { return }
            let current = self.state.withLockedValue { $0.targets[node]?.generation }
            guard current == target.generation, lookup.isReady else { return }
            loop.tracked(node)
        }
    }

    // MARK: Invalidation connections

    /// On the invalidation connection's loop, before it starts. `lookups` runs a body with
    /// every loop's lookup connection to `node` (when one exists) and its loop tracking.
    func attach(invalidation: RedisConnection, node: RedisAddress,
                lookups: @escaping @Sendable (@escaping @Sendable (RedisConnection?, RedisClusterLoopTracking) -> Void) -> Void) {
        invalidation.keepAlive = (settings.pingInterval, settings.pingTimeout)
        invalidation.onPush = { reply in
            guard case .array(let parts) = reply, parts.count == 3, parts[1].text == "__redis__:invalidate" else { return }
            let keys: [String]? = if case .array(let names) = parts[2] { names.compactMap(\.text) } else { nil }
            self.settings.metrics.invalidations.increment(by: Int64(max(1, keys?.count ?? 1)))
            lookups { _, loop in
                if let keys { loop.cache.invalidate(keys) } else { loop.cache.invalidateAll() }
            }
        }
        invalidation.onLost = {
            let wasUp = self.state.withLockedValue { state -> Bool in
                state.generation += 1
                return state.targets.removeValue(forKey: node) != nil
            }
            guard wasUp else { return }
            self.logger.warning("Redis invalidation connection lost: local cache emptied and bypassed until it is back",
                                metadata: ["redis.node": "\(node)"])
            lookups { _, loop in loop.lost(node) }
        }
        invalidation.onReady = { [unowned invalidation] _ in
            invalidation.send([["CLIENT", "ID"], ["SUBSCRIBE", "__redis__:invalidate"]]) { result in
                guard case .success(let replies) = result, case .integer(let id) = replies[0],
                      case .array(let parts) = replies[1], parts.first?.text == "subscribe"
                else { return }
                self.state.withLockedValue { state in
                    state.generation += 1
                    state.targets[node] = Target(id: id, generation: state.generation)
                }
                lookups { lookup, loop in
                    guard let lookup else { return }
                    self.enableTracking(on: lookup, node: node, loop: loop)
                }
            }
        }
    }
}

/// One loop's side of the cluster cache: which masters its tracking covers.
final class RedisClusterLoopTracking {
    let cache: RedisLoopCache
    private var required: Set<RedisAddress> = []
    private var covered: Set<RedisAddress> = []

    init(cache: RedisLoopCache) { self.cache = cache }

    /// The masters of a new slot map.
    func require(_ masters: [RedisAddress]) {
        required = Set(masters)
        covered.formIntersection(required)
        update()
    }

    func tracked(_ node: RedisAddress) {
        covered.insert(node)
        update()
    }

    func lost(_ node: RedisAddress) {
        covered.remove(node)
        update()
    }

    private func update() {
        if !required.isEmpty && required.isSubset(of: covered) {
            cache.enable()
        } else {
            cache.disable()
        }
    }
}
