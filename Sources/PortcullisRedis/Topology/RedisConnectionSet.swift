import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// One master (a standalone Redis, or the one Sentinel names): a lookup connection per event
/// loop, pipelined with every other lookup of that loop, and one admin connection. With
/// `revocation.local_cache: tracking`, also a cache per loop and the invalidation connection
/// that keeps it true (`RedisTracking`).
///
/// A `Service`: it runs until graceful shutdown, then closes its connections, so the store
/// goes down after the listeners that use it (it is the first service of the group).
final class RedisConnectionSet: RedisTopology, Service {
    private let lookups: [ObjectIdentifier: NIOLoopBound<RedisConnection>]
    private let caches: [ObjectIdentifier: NIOLoopBound<RedisLoopCache>]
    private let loops: [EventLoop]
    private let admin: NIOLoopBound<RedisConnection>
    private let tracking: RedisTracking?
    /// Background work tied to this set (the Sentinel watcher), stopped with it.
    private let companions: [RedisCompanion]
    private let stopped = NIOLockedValueBox(false)

    private init(lookups: [ObjectIdentifier: NIOLoopBound<RedisConnection>],
                 caches: [ObjectIdentifier: NIOLoopBound<RedisLoopCache>], loops: [EventLoop],
                 admin: NIOLoopBound<RedisConnection>, tracking: RedisTracking?, companions: [RedisCompanion]) {
        self.lookups = lookups
        self.caches = caches
        self.loops = loops
        self.admin = admin
        self.tracking = tracking
        self.companions = companions
    }

    /// Creates and starts every connection; they connect (and reconnect) by themselves.
    static func start(group: EventLoopGroup, settings: RedisConnection.Settings, source: RedisAddressSource,
                      cache: RedisTracking.Settings? = nil, companions: [RedisCompanion] = [],
                      logger: Logger) async throws -> RedisConnectionSet {
        let loops = Array(group.makeIterator())
        let tracking = cache.map { RedisTracking(settings: $0, loopCount: loops.count, logger: logger) }
        var lookups: [ObjectIdentifier: NIOLoopBound<RedisConnection>] = [:]
        var caches: [ObjectIdentifier: NIOLoopBound<RedisLoopCache>] = [:]
        for loop in loops {
            lookups[ObjectIdentifier(loop)] = try await loop.submit {
                NIOLoopBound(RedisConnection(eventLoop: loop, settings: settings, source: source, logger: logger), eventLoop: loop)
            }.get()
            if let tracking {
                caches[ObjectIdentifier(loop)] = try await loop.submit {
                    NIOLoopBound(tracking.makeCache(), eventLoop: loop)
                }.get()
            }
        }
        let adminSettings = settings.withRole("admin")
        let adminLoop = loops[0]
        let admin = try await adminLoop.submit {
            let connection = RedisConnection(eventLoop: adminLoop, settings: adminSettings, source: source, logger: logger)
            connection.start()
            return NIOLoopBound(connection, eventLoop: adminLoop)
        }.get()
        let set = RedisConnectionSet(lookups: lookups, caches: caches, loops: loops, admin: admin,
                                     tracking: tracking, companions: companions)
        for loop in loops {
            guard let connection = lookups[ObjectIdentifier(loop)] else { continue }
            let cache = caches[ObjectIdentifier(loop)]
            try await loop.submit {
                if let tracking, let cache {
                    tracking.attach(lookup: connection.value, cache: cache.value)
                }
                connection.value.start()
            }.get()
        }
        if let tracking {
            let invalidationSettings = settings.withRole("invalidation")
            try await adminLoop.submit {
                let connection = RedisConnection(eventLoop: adminLoop, settings: invalidationSettings, source: source,
                                                 logger: logger)
                tracking.attach(invalidation: connection, set: set)
                connection.start()
            }.get()
        }
        for companion in companions { companion.start(set) }
        return set
    }

    func lookup(_ commands: [[String]], completion: @escaping (Result<[RedisReply], Error>) -> Void) {
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop,
              let connection = lookups[ObjectIdentifier(loop)]?.value
        else {
            completion(.failure(RedisUnavailable(description: "no Redis connection on this thread")))
            return
        }
        connection.send(commands, completion: completion)
    }

    func localCache() -> RedisLoopCache? {
        guard tracking != nil, let loop = MultiThreadedEventLoopGroup.currentEventLoop else { return nil }
        return caches[ObjectIdentifier(loop)]?.value
    }

    var cacheMetrics: RedisCacheMetrics? { tracking?.settings.metrics }

    func execute(_ commands: [[String]], timeout: TimeAmount?) async throws -> [RedisReply] {
        let admin = self.admin
        let loop = admin.eventLoop
        let promise = loop.makePromise(of: [RedisReply].self)
        loop.execute {
            admin.value.send(commands, timeout: timeout) { promise.completeWith($0) }
        }
        return try await promise.futureResult.get()
    }

    var scanNodeCount: Int { 1 }

    func execute(_ commands: [[String]], timeout: TimeAmount?, onNode index: Int) async throws -> [RedisReply] {
        try await execute(commands, timeout: timeout)
    }

    /// Runs `body` with each loop's cache, on that loop.
    func forEachCache(_ body: @escaping @Sendable (RedisLoopCache) -> Void) {
        for loop in loops {
            guard let cache = caches[ObjectIdentifier(loop)] else { continue }
            loop.execute { body(cache.value) }
        }
    }

    /// The keys a revocation just wrote, out of every loop's cache before the admin API
    /// answers: this instance's next request sees the revocation, whatever Redis sends later.
    func invalidateLocally(_ keys: [String]) async {
        for loop in loops {
            guard let cache = caches[ObjectIdentifier(loop)] else { continue }
            try? await loop.submit { cache.value.invalidate(keys) }.get()
        }
    }

    /// Every lookup connection, on its loop (tracking turns on with the invalidation connection).
    func forEachLookup(_ body: @escaping @Sendable (RedisConnection, RedisLoopCache?) -> Void) {
        for loop in loops {
            guard let connection = lookups[ObjectIdentifier(loop)] else { continue }
            let cache = caches[ObjectIdentifier(loop)]
            loop.execute { body(connection.value, cache?.value) }
        }
    }

    /// Every connection moves to `address` (unless already there): Sentinel announced a switch.
    func masterChanged(to address: RedisAddress) {
        for loop in loops {
            guard let connection = lookups[ObjectIdentifier(loop)] else { continue }
            loop.execute { connection.value.addressChanged(to: address) }
        }
        let admin = self.admin
        admin.eventLoop.execute { admin.value.addressChanged(to: address) }
        tracking?.masterChanged(to: address)
    }

    func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    func shutdown() async {
        guard stopped.withLockedValue({ stopping in defer { stopping = true }; return !stopping }) else { return }
        for companion in companions { await companion.stop() }
        await tracking?.shutdown()
        for loop in loops {
            guard let connection = lookups[ObjectIdentifier(loop)] else { continue }
            try? await loop.submit { connection.value.shutdown() }.get()
        }
        let admin = self.admin
        try? await admin.eventLoop.submit { admin.value.shutdown() }.get()
    }
}

/// Something that runs beside a connection set for as long as it does (the Sentinel watcher).
protocol RedisCompanion: Sendable {
    func start(_ set: RedisConnectionSet)
    func stop() async
}
