import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PortcullisCore
import CoreMetrics
import ServiceLifecycle

/// `revocation.store: redis`: the store several Portcullis replicas share (INTERFACE §5).
///
/// A lookup is one round trip: `EXISTS` of the jti (and raw-token) key and `GET` of the subject
/// cut-off, pipelined on the connection of the calling event loop with every other lookup of
/// that loop (see `RedisKeyLayout`). Where the connections go is the topology's business.
public final class RedisRevocationStore: RevocationStore {
    public struct Settings: Sendable {
        public var url: RedisURL
        public var jtiKey: String
        public var subjectKey: String
        public var tokenKey: String
        public var timeout: TimeAmount
        public var leewaySeconds: Double
        public var maxTTLSeconds: Double
        /// For `rediss://`: trust this PEM CA bundle instead of the system's roots.
        public var tlsCAFile: String?
        /// `revocation.write_replicas`: a revocation is acknowledged only once this many
        /// replicas confirmed it (`WAIT`, within `replicationTimeout`).
        public var writeReplicas: Int
        public var replicationTimeout: TimeAmount
        /// `revocation.redis_sentinels`: when not empty, the master is found through them.
        public var sentinels: [ListenAddress]
        public var sentinelMaster: String
        public var sentinelPassword: String?
        /// `revocation.local_cache: tracking` and `revocation.local_cache_entries`.
        public var localCache: Bool
        public var localCacheEntries: Int
        /// `revocation.redis_cluster_nodes`: when not empty, a Redis Cluster with these seeds.
        public var clusterNodes: [ListenAddress]

        public init(url: RedisURL, jtiKey: String, subjectKey: String, tokenKey: String, timeout: TimeAmount,
                    leewaySeconds: Double, maxTTLSeconds: Double, tlsCAFile: String? = nil,
                    writeReplicas: Int = 0, replicationTimeout: TimeAmount = .seconds(1),
                    sentinels: [ListenAddress] = [], sentinelMaster: String = "mymaster",
                    sentinelPassword: String? = nil, localCache: Bool = false, localCacheEntries: Int = 1_000_000,
                    clusterNodes: [ListenAddress] = []) {
            self.clusterNodes = clusterNodes
            self.localCache = localCache
            self.localCacheEntries = localCacheEntries
            self.tlsCAFile = tlsCAFile
            self.url = url
            self.jtiKey = jtiKey
            self.subjectKey = subjectKey
            self.tokenKey = tokenKey
            self.timeout = timeout
            self.leewaySeconds = leewaySeconds
            self.maxTTLSeconds = maxTTLSeconds
            self.writeReplicas = writeReplicas
            self.replicationTimeout = replicationTimeout
            self.sentinels = sentinels
            self.sentinelMaster = sentinelMaster
            self.sentinelPassword = sentinelPassword
        }
    }

    let layout: RedisKeyLayout
    let settings: Settings
    let topology: RedisTopology
    let now: @Sendable () -> Double

    /// The connections, as a service to run first in the service group: on graceful shutdown
    /// it closes them, after the listeners that use the store have drained.
    public var service: Service { topology }

    /// Counters of the local cache, when it is on.
    private let cacheMetrics: RedisCacheMetrics?

    /// `metricsFactory` is where the local cache's metrics go (when it is on).
    public init(settings: Settings, group: EventLoopGroup, logger: Logger, metricsFactory: MetricsFactory? = nil,
                now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) async throws {
        self.layout = try RedisKeyLayout(jtiKey: settings.jtiKey, subjectKey: settings.subjectKey, tokenKey: settings.tokenKey,
                                         cluster: !settings.clusterNodes.isEmpty)
        self.settings = settings
        self.now = now
        var tls: NIOSSLContext?
        if settings.url.tls {
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let caFile = settings.tlsCAFile {
                configuration.trustRoots = .file(caFile)
            }
            do {
                tls = try NIOSSLContext(configuration: configuration)
            } catch {
                throw RevocationStoreError(.unavailable, "revocation.redis_url: TLS setup failed: \(error)")
            }
        }
        let connectionSettings = RedisConnection.Settings(
            username: settings.url.username, password: settings.url.password, database: settings.url.database,
            timeout: settings.timeout, tls: tls)
        var cache: RedisTracking.Settings?
        if settings.localCache {
            let metrics = RedisCacheMetrics(factory: metricsFactory ?? MetricsSystem.factory)
            cache = RedisTracking.Settings(prefixes: layout.trackedPrefixes, layout: layout, entries: settings.localCacheEntries,
                                          metrics: metrics)
        }
        cacheMetrics = cache?.metrics
        if !settings.clusterNodes.isEmpty {
            topology = try await RedisCluster.start(
                group: group,
                settings: RedisCluster.Settings(seeds: settings.clusterNodes.map { RedisAddress(host: $0.host, port: $0.port) },
                                                connection: connectionSettings,
                                                metrics: metricsFactory ?? MetricsSystem.factory, cache: cache),
                logger: logger)
            return
        }
        let source: RedisAddressSource
        var companions: [RedisCompanion] = []
        if settings.sentinels.isEmpty {
            source = FixedRedisAddress(address: RedisAddress(host: settings.url.host, port: settings.url.port))
        } else {
            let sentinel = RedisSentinel(
                settings: RedisSentinel.Settings(
                    sentinels: settings.sentinels.map { RedisAddress(host: $0.host, port: $0.port) },
                    masterName: settings.sentinelMaster, password: settings.sentinelPassword, tls: tls),
                eventLoop: group.next(), logger: logger)
            source = sentinel
            companions.append(sentinel)
        }
        topology = try await RedisConnectionSet.start(
            group: group, settings: connectionSettings, source: source, cache: cache, companions: companions,
            logger: logger)
    }

    // MARK: Per-request check

    /// Without a key to ask about, allowed; with the local cache in use and holding every key
    /// of the query, its verdict (no callback, no round trip).
    public func immediateVerdict(_ query: RevocationQuery) -> RevocationVerdict? {
        if layout.asksNothing(query) { return .allowed }
        guard let metrics = cacheMetrics, let cache = topology.localCache(), cache.inUse,
              let verdict = layout.cachedVerdict(query, in: cache)
        else { return nil }
        metrics.hits.increment()
        return verdict
    }

    public func check(_ query: RevocationQuery, answer: @escaping @Sendable (RevocationVerdict) -> Void) {
        if let metrics = cacheMetrics, let cache = topology.localCache(), cache.inUse {
            if let verdict = layout.cachedVerdict(query, in: cache) {
                metrics.hits.increment()
                answer(verdict)
                return
            }
            guard let lookup = layout.lookup(query) else {
                answer(.allowed)
                return
            }
            metrics.misses.increment()
            let epoch = cache.epoch
            topology.lookup(lookup.commands) { result in
                switch result {
                case .success(let replies):
                    lookup.fill(cache, from: replies, sentAt: epoch)
                    answer(lookup.verdict(replies))
                case .failure:
                    answer(.unavailable)
                }
            }
            return
        }
        guard let lookup = layout.lookup(query) else {
            answer(.allowed)
            return
        }
        topology.lookup(lookup.commands) { result in
            switch result {
            case .success(let replies): answer(lookup.verdict(replies))
            case .failure: answer(.unavailable)
            }
        }
    }

    // MARK: Admin operations

    /// The jti key and its reason key are written in one `MULTI`/`EXEC`, pipelined in one round
    /// trip: both exist with the same TTL, or neither. Without a reason, a reason left from an
    /// earlier revocation of the same jti is deleted.
    public func revoke(jti value: String, expiresAt: Double?, reason: String?) async throws(RevocationStoreError) -> RevocationRecord {
        let time = now()
        let until = expiresAt.map { $0 + settings.leewaySeconds } ?? time + settings.maxTTLSeconds
        let ttl = Self.ttl(until, now: time)
        if ttl > 0 {
            let key = layout.jti.key(value)
            var commands = [["SET", key, "1", "EX", String(ttl)]]
            if let reasonKey = layout.reasonKey(of: key) {
                commands.append(reason.map { ["SET", reasonKey, $0, "EX", String(ttl)] } ?? ["DEL", reasonKey])
            }
            let results = try await transaction(commands, replicated: true)
            try expectOK(results[0])
            await topology.invalidateLocally([key])
        }
        return RevocationRecord(jti: value, expiresAt: until, ttlSeconds: ttl, reason: reason)
    }

    public func revoke(rawToken: String, expiresAt: Double?, reason: String?) async throws(RevocationStoreError) -> Int {
        guard let token = layout.token else { throw RevocationStoreError(.unavailable, "revocation.token_key is not set") }
        let time = now()
        let ttl = Self.ttl(expiresAt.map { $0 + settings.leewaySeconds } ?? time + settings.maxTTLSeconds, now: time)
        if ttl > 0 {
            let key = token.key(rawToken)
            try expectOK(try await write(["SET", key, "1", "EX", String(ttl)]))
            await topology.invalidateLocally([key])
        }
        return ttl
    }

    /// `TTL` of the jti key and `GET` of its reason key, pipelined.
    public func lookup(jti value: String) async throws(RevocationStoreError) -> RevocationRecord? {
        let key = layout.jti.key(value)
        let reasonKey = layout.reasonKey(of: key)
        let replies = try await pipeline([["TTL", key]] + (reasonKey.map { [["GET", $0]] } ?? []))
        guard let seconds = try remainingSeconds(replies[0]) else { return nil }
        return RevocationRecord(jti: value, expiresAt: now() + Double(seconds), ttlSeconds: seconds,
                                reason: replies.count > 1 ? replies[1].text : nil)
    }

    public func unrevoke(jti value: String) async throws(RevocationStoreError) -> Bool {
        let key = layout.jti.key(value)
        let results = try await transaction([["DEL", key]] + (layout.reasonKey(of: key).map { [["DEL", $0]] } ?? []),
                                            replicated: false)
        guard case .integer(let removed) = results[0] else {
            throw RevocationStoreError(.unavailable, "unexpected reply to DEL")
        }
        return removed > 0
    }

    public func revokeSubject(_ value: String, before: Double) async throws(RevocationStoreError) -> SubjectCutoff {
        let ttl = Int(settings.maxTTLSeconds.rounded(.up))
        let key = layout.subject.key(value)
        try expectOK(try await write(["SET", key, String(Int64(before)), "EX", String(ttl)]))
        await topology.invalidateLocally([key])
        return SubjectCutoff(subject: value, revokedBefore: before, ttlSeconds: ttl)
    }

    public func unrevokeSubject(_ value: String) async throws(RevocationStoreError) -> Bool {
        guard case .integer(let removed) = try await command(["DEL", layout.subject.key(value)]) else {
            throw RevocationStoreError(.unavailable, "unexpected reply to DEL")
        }
        return removed > 0
    }

    public func isReady() async -> Bool {
        guard case .status(let pong)? = try? await command(["PING"]) else { return false }
        return pong == "PONG"
    }

    public func shutdown() async {
        await topology.shutdown()
    }

    // MARK: Helpers

    /// Seconds a key has left from its `TTL` reply; nil when the key does not exist.
    func remainingSeconds(_ reply: RedisReply) throws(RevocationStoreError) -> Int? {
        guard case .integer(let ttl) = reply else { throw RevocationStoreError(.unavailable, "unexpected reply to TTL") }
        // -2: no such key; -1: a key without expiry (written by hand), revoked for good.
        guard ttl != -2 else { return nil }
        return ttl < 0 ? Int(settings.maxTTLSeconds) : Int(ttl)
    }

    /// Sends every command back to back on the admin connection: one round trip. Replies in
    /// order; a Redis error reply is returned, not thrown.
    func pipeline(_ commands: [[String]], timeout: TimeAmount? = nil) async throws(RevocationStoreError) -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        do {
            return try await topology.execute(commands, timeout: timeout)
        } catch {
            throw RevocationStoreError(.unavailable, "\(error)")
        }
    }

    /// `MULTI`, the commands, `EXEC`, pipelined: applied all or none. Returns `EXEC`'s results.
    /// With `replicated` and `revocation.write_replicas`, `WAIT` follows in the same round trip.
    private func transaction(_ commands: [[String]], replicated: Bool) async throws(RevocationStoreError) -> [RedisReply] {
        let waits = replicated && settings.writeReplicas > 0
        var all = [["MULTI"]] + commands + [["EXEC"]]
        if waits { all.append(waitCommand) }
        var replies = try await pipeline(all, timeout: waits ? waitDeadline : nil)
        let waitReply = waits ? replies.removeLast() : nil
        for reply in replies {
            if case .error(let message) = reply { throw RevocationStoreError(.unavailable, "Redis: \(message)") }
        }
        guard case .array(let results) = replies.last, results.count == commands.count else {
            throw RevocationStoreError(.unavailable, "unexpected reply to EXEC")
        }
        for result in results {
            if case .error(let message) = result { throw RevocationStoreError(.unavailable, "Redis: \(message)") }
        }
        if let waitReply { try expectReplicated(waitReply) }
        return results
    }

    /// One write that a revocation rests on: followed by `WAIT` when `revocation.write_replicas` asks.
    private func write(_ arguments: [String]) async throws(RevocationStoreError) -> RedisReply {
        guard settings.writeReplicas > 0 else { return try await command(arguments) }
        let replies = try await pipeline([arguments, waitCommand], timeout: waitDeadline)
        if case .error(let message) = replies[0] { throw RevocationStoreError(.unavailable, "Redis: \(message)") }
        try expectReplicated(replies[1])
        return replies[0]
    }

    private var waitCommand: [String] {
        let milliseconds = settings.replicationTimeout.nanoseconds / 1_000_000
        return ["WAIT", String(settings.writeReplicas), String(max(1, milliseconds))]
    }

    /// `WAIT` answers after its own timeout at the latest; the command deadline leaves it room.
    private var waitDeadline: TimeAmount { settings.replicationTimeout + settings.timeout + .milliseconds(500) }

    private func expectReplicated(_ reply: RedisReply) throws(RevocationStoreError) {
        guard case .integer(let confirmed) = reply else {
            throw RevocationStoreError(.notReplicated, "unexpected reply to WAIT: \(reply)")
        }
        guard confirmed >= settings.writeReplicas else {
            throw RevocationStoreError(.notReplicated,
                                       "\(confirmed) of \(settings.writeReplicas) replicas confirmed the revocation")
        }
    }

    /// Runs one command on the admin connection, from any thread; an error reply is thrown.
    func command(_ arguments: [String]) async throws(RevocationStoreError) -> RedisReply {
        let reply = try await pipeline([arguments])[0]
        if case .error(let message) = reply { throw RevocationStoreError(.unavailable, "Redis: \(message)") }
        return reply
    }

    private func expectOK(_ reply: RedisReply) throws(RevocationStoreError) {
        guard case .status("OK") = reply else { throw RevocationStoreError(.unavailable, "unexpected reply \(reply)") }
    }

    private static func ttl(_ until: Double, now time: Double) -> Int {
        let remaining = until - time
        return remaining > 0 ? Int(remaining.rounded(.up)) : 0
    }
}
