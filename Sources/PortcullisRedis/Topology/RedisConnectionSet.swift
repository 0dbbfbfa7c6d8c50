import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// One master (a standalone Redis, or the one Sentinel names): a lookup connection per event
/// loop, pipelined with every other lookup of that loop, and one admin connection.
///
/// A `Service`: it runs until graceful shutdown, then closes its connections, so the store
/// goes down after the listeners that use it (it is the first service of the group).
final class RedisConnectionSet: RedisTopology, Service {
    private let lookups: [ObjectIdentifier: NIOLoopBound<RedisConnection>]
    private let loops: [EventLoop]
    private let admin: NIOLoopBound<RedisConnection>
    /// Background work tied to this set (the Sentinel watcher), stopped with it.
    private let companions: [RedisCompanion]
    private let stopped = NIOLockedValueBox(false)

    private init(lookups: [ObjectIdentifier: NIOLoopBound<RedisConnection>], loops: [EventLoop],
                 admin: NIOLoopBound<RedisConnection>, companions: [RedisCompanion]) {
        self.lookups = lookups
        self.loops = loops
        self.admin = admin
        self.companions = companions
    }

    /// Creates and starts every connection; they connect (and reconnect) by themselves.
    static func start(group: EventLoopGroup, settings: RedisConnection.Settings, source: RedisAddressSource,
                      companions: [RedisCompanion] = [], logger: Logger) async throws -> RedisConnectionSet {
        var lookups: [ObjectIdentifier: NIOLoopBound<RedisConnection>] = [:]
        var loops: [EventLoop] = []
        for loop in group.makeIterator() {
            loops.append(loop)
            lookups[ObjectIdentifier(loop)] = try await loop.submit {
                let connection = RedisConnection(eventLoop: loop, settings: settings, source: source, logger: logger)
                connection.start()
                return NIOLoopBound(connection, eventLoop: loop)
            }.get()
        }
        var adminSettings = settings
        adminSettings.role = "admin"
        let adminLoop = loops[0]
        let admin = try await adminLoop.submit {
            let connection = RedisConnection(eventLoop: adminLoop, settings: adminSettings, source: source, logger: logger)
            connection.start()
            return NIOLoopBound(connection, eventLoop: adminLoop)
        }.get()
        let set = RedisConnectionSet(lookups: lookups, loops: loops, admin: admin, companions: companions)
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

    func execute(_ commands: [[String]], timeout: TimeAmount?) async throws -> [RedisReply] {
        let admin = self.admin
        let loop = admin.eventLoop
        let promise = loop.makePromise(of: [RedisReply].self)
        loop.execute {
            admin.value.send(commands, timeout: timeout) { promise.completeWith($0) }
        }
        return try await promise.futureResult.get()
    }

    /// Every connection moves to `address` (unless already there): Sentinel announced a switch.
    func masterChanged(to address: RedisAddress) {
        for loop in loops {
            guard let connection = lookups[ObjectIdentifier(loop)] else { continue }
            loop.execute { connection.value.addressChanged(to: address) }
        }
        let admin = self.admin
        admin.eventLoop.execute { admin.value.addressChanged(to: address) }
    }

    func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    func shutdown() async {
        guard stopped.withLockedValue({ stopping in defer { stopping = true }; return !stopping }) else { return }
        for companion in companions { await companion.stop() }
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
