import CoreMetrics
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// `revocation.redis_cluster_nodes`: a Redis Cluster. The slot map comes from `CLUSTER SHARDS`
/// (falling back to `CLUSTER SLOTS`) on a seed or a known master; each key goes to the master
/// of its slot.
///
/// - A lookup's commands (one key each) are grouped by node and each group is pipelined on that
///   node's connection of the calling loop, all groups at once: one round trip of latency
///   whatever the number of nodes.
/// - `MOVED` updates the slot at once (and the whole map is read again soon after), `ASK`
///   sends `ASKING` and the command to the importing node, `TRYAGAIN` waits 20 ms; each command
///   follows at most three redirections. A transaction refused with `TRYAGAIN` (a slot being
///   imported) is sent again as its single-key commands.
/// - Admin commands (one slot per call: a revocation's keys share a slot) go to that slot's
///   master on the admin loop, with the same redirections for the whole call.
/// - The map is read again every 5 s, after a `MOVED`, and after a failure to reach a node
///   (a failover), at most every 100 ms.
final class RedisCluster: RedisTopology, Service {
    struct Settings: Sendable {
        var seeds: [RedisAddress]
        var connection: RedisConnection.Settings
        var refreshInterval: TimeAmount = .seconds(5)
        var queryTimeout: TimeAmount = .milliseconds(500)
        var metrics: MetricsFactory
        /// `revocation.local_cache: tracking`, per master (see `RedisClusterTracking`).
        var cache: RedisTracking.Settings?
    }

    /// `portcullis_redis_cluster_redirects_total{kind}`: MOVED, ASK and TRYAGAIN followed.
    private let redirects: [String: Counter]

    private let settings: Settings
    private let loops: [EventLoop]
    private let lookups: [ObjectIdentifier: NIOLoopBound<RedisNodeConnections>]
    private let admin: NIOLoopBound<RedisNodeConnections>
    private let map = NIOLockedValueBox(RedisSlotMap.empty)
    private let tracking: RedisClusterTracking?
    private let loopTracking: [ObjectIdentifier: NIOLoopBound<RedisClusterLoopTracking>]
    /// One invalidation connection per master, on the admin loop (with the local cache).
    private let invalidations: NIOLoopBound<RedisNodeConnections>?
    private let refresh = NIOLockedValueBox(RefreshState())
    private let logger: Logger

    private struct RefreshState {
        var inFlight = false
        var last: NIODeadline = .distantPast
        var stopped = false
    }

    private init(settings: Settings, loops: [EventLoop], lookups: [ObjectIdentifier: NIOLoopBound<RedisNodeConnections>],
                 admin: NIOLoopBound<RedisNodeConnections>, tracking: RedisClusterTracking?,
                 loopTracking: [ObjectIdentifier: NIOLoopBound<RedisClusterLoopTracking>],
                 invalidations: NIOLoopBound<RedisNodeConnections>?, logger: Logger) {
        self.settings = settings
        self.tracking = tracking
        self.loopTracking = loopTracking
        self.invalidations = invalidations
        self.loops = loops
        self.lookups = lookups
        self.admin = admin
        self.logger = logger
        redirects = Dictionary(uniqueKeysWithValues: ["moved", "ask", "tryagain"].map {
            ($0, Counter(label: "portcullis_redis_cluster_redirects_total", dimensions: [("kind", $0)], factory: settings.metrics))
        })
    }

    private func count(_ redirect: RedisRedirect) {
        switch redirect {
        case .moved: redirects["moved"]?.increment()
        case .ask: redirects["ask"]?.increment()
        case .tryAgain: redirects["tryagain"]?.increment()
        }
    }

    static func start(group: EventLoopGroup, settings: Settings, logger: Logger) async throws -> RedisCluster {
        let loops = Array(group.makeIterator())
        let tracking = settings.cache.map { RedisClusterTracking(settings: $0, loopCount: loops.count, logger: logger) }
        var lookups: [ObjectIdentifier: NIOLoopBound<RedisNodeConnections>] = [:]
        var loopTracking: [ObjectIdentifier: NIOLoopBound<RedisClusterLoopTracking>] = [:]
        for loop in loops {
            let (nodes, cache) = try await loop.submit {
                let nodes = RedisNodeConnections(eventLoop: loop, settings: settings.connection, logger: logger)
                let perLoop = tracking?.makeLoop()
                if let tracking, let perLoop {
                    nodes.configure = { connection, address in tracking.attach(lookup: connection, node: address, loop: perLoop) }
                }
                return (NIOLoopBound(nodes, eventLoop: loop), perLoop.map { NIOLoopBound($0, eventLoop: loop) })
            }.get()
            lookups[ObjectIdentifier(loop)] = nodes
            if let cache { loopTracking[ObjectIdentifier(loop)] = cache }
        }
        let adminLoop = loops[0]
        let adminSettings = settings.connection.withRole("admin")
        let admin = try await adminLoop.submit {
            NIOLoopBound(RedisNodeConnections(eventLoop: adminLoop, settings: adminSettings, logger: logger), eventLoop: adminLoop)
        }.get()
        var invalidations: NIOLoopBound<RedisNodeConnections>?
        if let tracking {
            let invalidationSettings = settings.connection.withRole("invalidation")
            let perLoop = loops.compactMap { loop -> (EventLoop, NIOLoopBound<RedisNodeConnections>, NIOLoopBound<RedisClusterLoopTracking>)? in
                guard let nodes = lookups[ObjectIdentifier(loop)], let cache = loopTracking[ObjectIdentifier(loop)] else { return nil }
                return (loop, nodes, cache)
            }
            let everyLoop = perLoop
            invalidations = try await adminLoop.submit {
                let nodes = RedisNodeConnections(eventLoop: adminLoop, settings: invalidationSettings, logger: logger)
                nodes.configure = { connection, address in
                    tracking.attach(invalidation: connection, node: address) { body in
                        for (loop, lookups, cache) in everyLoop {
                            loop.execute { body(lookups.value.existing(address), cache.value) }
                        }
                    }
                }
                return NIOLoopBound(nodes, eventLoop: adminLoop)
            }.get()
        }
        let cluster = RedisCluster(settings: settings, loops: loops, lookups: lookups, admin: admin, tracking: tracking,
                                   loopTracking: loopTracking, invalidations: invalidations, logger: logger)
        await cluster.readMap()
        return cluster
    }

    // MARK: The slot map

    /// Asks the known masters, then the seeds, in turn; the first map read is installed.
    func readMap() async {
        let known = map.withLockedValue { $0.masters }
        var candidates = known
        for seed in settings.seeds where !candidates.contains(seed) { candidates.append(seed) }
        let loop = loops[0]
        for node in candidates {
            guard let read = try? await readMap(from: node, on: loop) else { continue }
            install(read)
            return
        }
        logger.warning("cannot read the Redis Cluster slot map from any node", metadata: [
            "redis.nodes": "\(candidates.map(\.description).joined(separator: ","))"])
    }

    private func readMap(from node: RedisAddress, on loop: EventLoop) async throws -> RedisSlotMap {
        var commands: [[String]] = []
        let connection = settings.connection
        if let password = connection.password {
            commands.append(connection.username.map { ["AUTH", $0, password] } ?? ["AUTH", password])
        }
        let replies = try await RedisOneShot.run(commands + [["CLUSTER", "SHARDS"], ["CLUSTER", "SLOTS"]], at: node, on: loop,
                                                 tls: connection.tls, timeout: settings.queryTimeout).get()
        if let map = RedisSlotMap.parse(shards: replies[replies.count - 2]) ?? RedisSlotMap.parse(slots: replies[replies.count - 1]) {
            return map
        }
        throw RedisUnavailable(description: "no slot map from \(node): \(replies.last.map { "\($0)" } ?? "")")
    }

    private func install(_ new: RedisSlotMap) {
        let changed = map.withLockedValue { current -> Bool in
            defer { current = new }
            return current != new
        }
        if changed {
            logger.info("Redis Cluster slot map read", metadata: ["redis.masters": "\(new.masters.map(\.description).joined(separator: ","))"])
        }
        let masters = new.masters
        for loop in loops {
            guard let nodes = lookups[ObjectIdentifier(loop)] else { continue }
            let cache = loopTracking[ObjectIdentifier(loop)]
            loop.execute {
                cache?.value.require(masters)
                nodes.value.keep(only: masters)
            }
        }
        let admin = self.admin
        admin.eventLoop.execute { admin.value.keep(only: masters) }
        if let invalidations {
            invalidations.eventLoop.execute { invalidations.value.keep(only: masters) }
        }
    }

    /// From a loop, after a `MOVED` or a node that cannot be reached: read the map again soon.
    func requestRefresh() {
        let now = NIODeadline.now()
        let go = refresh.withLockedValue { state -> Bool in
            guard !state.inFlight, !state.stopped, now - state.last > .milliseconds(100) else { return false }
            state.inFlight = true
            state.last = now
            return true
        }
        guard go else { return }
        Task {
            await self.readMap()
            self.refresh.withLockedValue { $0.inFlight = false }
        }
    }

    private func master(of key: String) -> RedisAddress? {
        let slot = RedisClusterSlots.slot(of: key)
        return map.withLockedValue { $0.master(of: slot) }
    }

    private func moved(_ slot: Int, to address: RedisAddress) {
        map.withLockedValue { $0.move(slot, to: address) }
        requestRefresh()
    }

    // MARK: Lookups

    func lookup(_ commands: [[String]], completion: @escaping (Result<[RedisReply], Error>) -> Void) {
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop, let nodes = lookups[ObjectIdentifier(loop)]?.value else {
            completion(.failure(RedisUnavailable(description: "no Redis connection on this thread")))
            return
        }
        var groups: [RedisAddress: [Int]] = [:]
        for (index, command) in commands.enumerated() {
            guard command.count > 1, let address = master(of: command[1]) else {
                requestRefresh()
                completion(.failure(RedisUnavailable(description: "no master serves the slot of a key")))
                return
            }
            groups[address, default: []].append(index)
        }
        let collector = RedisLookupCollector(count: commands.count, completion: completion)
        for (address, indices) in groups {
            nodes.connection(to: address).send(indices.map { commands[$0] }) { result in
                switch result {
                case .success(let replies):
                    for (index, reply) in zip(indices, replies) {
                        self.settle(index, commands[index], reply, on: nodes, collector, budget: 3)
                    }
                case .failure(let error):
                    self.requestRefresh()
                    collector.fail(error)
                }
            }
        }
    }

    /// One command's reply, following a redirection when it is one.
    private func settle(_ index: Int, _ command: [String], _ reply: RedisReply, on nodes: RedisNodeConnections,
                        _ collector: RedisLookupCollector, budget: Int) {
        guard budget > 0, let redirect = RedisRedirect(reply) else {
            collector.set(index, reply)
            return
        }
        count(redirect)
        let retry: (RedisAddress, Bool) -> Void = { address, asking in
            let sent = asking ? [["ASKING"], command] : [command]
            nodes.connection(to: address).send(sent) { result in
                switch result {
                case .success(let replies):
                    self.settle(index, command, replies[replies.count - 1], on: nodes, collector, budget: budget - 1)
                case .failure(let error):
                    self.requestRefresh()
                    collector.fail(error)
                }
            }
        }
        switch redirect {
        case .moved(let slot, let address):
            moved(slot, to: address)
            retry(address, false)
        case .ask(_, let address):
            retry(address, true)
        case .tryAgain:
            nodes.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(20)) {
                guard let address = self.master(of: command[1]) else {
                    collector.set(index, reply)
                    return
                }
                retry(address, false)
            }
        }
    }

    // MARK: Admin commands

    /// The commands' keys share one slot (a revocation's keys do, `WAIT` and `MULTI` have none).
    func execute(_ commands: [[String]], timeout: TimeAmount?) async throws -> [RedisReply] {
        let key = commands.first { $0.count > 1 && !["MULTI", "EXEC", "WAIT", "PING", "SCAN"].contains($0[0]) }?[1]
        let target = key.flatMap(master(of:)) ?? map.withLockedValue { $0.masters.first }
        guard var address = target else {
            requestRefresh()
            throw RedisUnavailable(description: "no Redis Cluster master known")
        }
        var asking = false
        var unwrapped = false
        for attempt in 0..<6 {
            let plan = Self.plan(commands, asking: asking, unwrapped: unwrapped)
            var flat: [RedisReply]
            do {
                flat = try await send(plan.sent, to: address, timeout: timeout)
            } catch let error as RedisUnavailable where attempt < 5 {
                // A node just named by MOVED or a new map may still be connecting.
                logger.debug("Redis Cluster node not ready; trying again", metadata: ["redis.node": "\(address)", "error": "\(error)"])
                try await Task.sleep(for: .milliseconds(50))
                address = key.flatMap(master(of:)) ?? address
                continue
            }
            flat = zip(flat, plan.isAsking).filter { !$0.1 }.map(\.0)
            let replies = unwrapped ? Self.rewrapped(flat, for: commands) : flat
            guard let redirect = flat.lazy.compactMap(RedisRedirect.init).first else { return replies }
            count(redirect)
            switch redirect {
            case .moved(let slot, let to):
                moved(slot, to: to)
                address = to
                asking = false
            case .ask(_, let to):
                address = to
                asking = true
            case .tryAgain:
                // A transaction into a slot being imported: Redis refuses a multi-key request
                // there while any of its keys is missing, which a new revocation's keys always
                // are, until the migration ends (it may take minutes). After one wait, its
                // commands go one by one, each single-key and so allowed.
                try await Task.sleep(for: .milliseconds(50))
                if commands.first == ["MULTI"] { unwrapped = true }
            }
        }
        throw RedisUnavailable(description: "too many Redis Cluster redirections")
    }

    /// What is sent for `commands` to a node: when `asking` (an `ASK` named it), `ASKING`
    /// before each command that has a key (it holds for one command only), or once before a
    /// `MULTI` (inside a transaction it holds until `EXEC`, and would be queued). When
    /// `unwrapped`, a `MULTI`…`EXEC` block goes as its commands alone: not atomic, so a
    /// revocation's jti key and reason key may be written apart, which matters only when one
    /// of the writes fails (then the call fails, and retrying it is safe). `isAsking` marks the
    /// replies that answer an `ASKING`.
    static func plan(_ commands: [[String]], asking: Bool, unwrapped: Bool) -> (sent: [[String]], isAsking: [Bool]) {
        var sent: [[String]] = []
        var isAsking: [Bool] = []
        func add(_ command: [String], asked: Bool) {
            if asked {
                sent.append(["ASKING"])
                isAsking.append(true)
            }
            sent.append(command)
            isAsking.append(false)
        }
        var inside = false
        for command in commands {
            let keyed = command.count > 1 && !["WAIT", "PING", "SCAN"].contains(command[0])
            switch command.first {
            case "MULTI":
                inside = true
                if !unwrapped { add(command, asked: asking) }
            case "EXEC":
                inside = false
                if !unwrapped { add(command, asked: false) }
            default:
                add(command, asked: asking && keyed && (unwrapped || !inside))
            }
        }
        return (sent, isAsking)
    }

    /// The replies to an unwrapped block in the shape of the block's own: `OK` for `MULTI`,
    /// `QUEUED` per command, and `EXEC`'s array of their replies.
    static func rewrapped(_ replies: [RedisReply], for commands: [[String]]) -> [RedisReply] {
        var shaped: [RedisReply] = []
        var results: [RedisReply] = []
        var inside = false
        var next = replies.makeIterator()
        for command in commands {
            switch command.first {
            case "MULTI":
                inside = true
                shaped.append(.status("OK"))
            case "EXEC":
                inside = false
                shaped.append(.array(results))
            default:
                let reply = next.next() ?? .error("ERR no reply")
                if inside {
                    results.append(reply)
                    shaped.append(.status("QUEUED"))
                } else {
                    shaped.append(reply)
                }
            }
        }
        return shaped
    }

    var scanNodeCount: Int { map.withLockedValue { $0.masters.count } }

    func execute(_ commands: [[String]], timeout: TimeAmount?, onNode index: Int) async throws -> [RedisReply] {
        guard let address = map.withLockedValue({ index < $0.masters.count ? $0.masters[index] : nil }) else {
            throw RedisUnavailable(description: "the Redis Cluster has fewer masters than the cursor names")
        }
        return try await send(commands, to: address, timeout: timeout)
    }

    private func send(_ commands: [[String]], to address: RedisAddress, timeout: TimeAmount?) async throws -> [RedisReply] {
        let admin = self.admin
        let promise = admin.eventLoop.makePromise(of: [RedisReply].self)
        admin.eventLoop.execute {
            admin.value.connection(to: address).send(commands, timeout: timeout) { promise.completeWith($0) }
        }
        do {
            return try await promise.futureResult.get()
        } catch {
            requestRefresh()
            throw error
        }
    }

    func localCache() -> RedisLoopCache? {
        guard tracking != nil, let loop = MultiThreadedEventLoopGroup.currentEventLoop else { return nil }
        return loopTracking[ObjectIdentifier(loop)]?.value.cache
    }

    func invalidateLocally(_ keys: [String]) async {
        for loop in loops {
            guard let cache = loopTracking[ObjectIdentifier(loop)] else { continue }
            try? await loop.submit { cache.value.cache.invalidate(keys) }.get()
        }
    }

    // MARK: Lifecycle

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: .nanoseconds(self.settings.refreshInterval.nanoseconds))
                await self.readMap()
            }
        }
        await shutdown()
    }

    func shutdown() async {
        refresh.withLockedValue { $0.stopped = true }
        for loop in loops {
            guard let nodes = lookups[ObjectIdentifier(loop)] else { continue }
            try? await loop.submit { nodes.value.shutdown() }.get()
        }
        let admin = self.admin
        try? await admin.eventLoop.submit { admin.value.shutdown() }.get()
        if let invalidations {
            try? await invalidations.eventLoop.submit { invalidations.value.shutdown() }.get()
        }
    }
}

/// One loop's connections to the cluster's masters, made on first use and kept while the node
/// is a master.
final class RedisNodeConnections {
    let eventLoop: EventLoop
    private let settings: RedisConnection.Settings
    private let logger: Logger
    private var connections: [RedisAddress: RedisConnection] = [:]
    private var stopped = false
    /// Called on each new connection before it starts (the local cache's hooks).
    var configure: ((RedisConnection, RedisAddress) -> Void)?

    init(eventLoop: EventLoop, settings: RedisConnection.Settings, logger: Logger) {
        self.eventLoop = eventLoop
        self.settings = settings
        self.logger = logger
    }

    func connection(to address: RedisAddress) -> RedisConnection {
        if let connection = connections[address] { return connection }
        let connection = RedisConnection(eventLoop: eventLoop, settings: settings, source: FixedRedisAddress(address: address),
                                         logger: logger)
        if !stopped {
            connections[address] = connection
            configure?(connection, address)
            connection.start()
        }
        return connection
    }

    func existing(_ address: RedisAddress) -> RedisConnection? { connections[address] }

    /// Connects to every master up front and closes connections to nodes no longer masters.
    func keep(only masters: [RedisAddress]) {
        guard !stopped else { return }
        for address in masters { _ = connection(to: address) }
        for (address, connection) in connections where !masters.contains(address) {
            connection.shutdown()
            connections[address] = nil
        }
    }

    func shutdown() {
        stopped = true
        for connection in connections.values { connection.shutdown() }
        connections = [:]
    }
}

/// Gathers a lookup's replies from several nodes; completes once, on the loop.
final class RedisLookupCollector {
    private var replies: [RedisReply?]
    private var pending: Int
    private var completion: ((Result<[RedisReply], Error>) -> Void)?

    init(count: Int, completion: @escaping (Result<[RedisReply], Error>) -> Void) {
        replies = Array(repeating: nil, count: count)
        pending = count
        self.completion = completion
    }

    func set(_ index: Int, _ reply: RedisReply) {
        guard completion != nil, replies[index] == nil else { return }
        replies[index] = reply
        pending -= 1
        if pending == 0, let completion {
            self.completion = nil
            completion(.success(replies.map { $0 ?? .null }))
        }
    }

    func fail(_ error: Error) {
        guard let completion else { return }
        self.completion = nil
        completion(.failure(error))
    }
}
