import Foundation
import CoreMetrics
import Logging
import Prometheus
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import PortcullisAdmin
import PortcullisCore
import PortcullisJWKS
import PortcullisProxy
import PortcullisRedis
import ServiceLifecycle

public struct StartupError: Error, CustomStringConvertible {
    public var description: String
}

/// The composition root: builds the store, the gate and both listeners from a validated
/// configuration, and runs them as services in dependency order (store, admin, proxy).
/// ServiceGroup stops them in reverse, so the proxy drains before the admin API closes.
public final class Gateway: Sendable {
    public let configuration: Configuration
    public let proxy: ProxyServer
    public let admin: AdminServer
    /// The forward-auth listener, when `authz.listen` is set.
    public let forwardAuth: ForwardAuthServer?
    public let store: RevocationStore
    /// The audit, in the same store.
    public let auditTrail: AuditTrail
    /// The embedded store, when that is the one in use (it needs the expiry sweeper).
    private let memoryStore: MemoryRevocationStore?
    /// The Redis store's connections, when that is the store in use: the first service, so
    /// they close after the listeners have drained.
    private let redisService: Service?
    private let logger: Logger
    private let serviceGroup = NIOLockedValueBox<ServiceGroup?>(nil)
    /// A shutdown asked for before `run` built its group (a caller that starts `run` in a task
    /// and stops at once): `run` then shuts down as soon as it starts, instead of never.
    private let shutdownRequested = NIOLockedValueBox(false)
    /// The gate in force; reloads and JWKS refreshes replace it.
    private let live: LiveGate
    /// Fetches `jwt.jwks_url`, when configured.
    public let jwks: JWKSRefresher?
    private let reloader: Reloader

    /// The configuration in force (the start one, after any reloads).
    public var currentConfiguration: Configuration { live.configuration }

    public var proxyPort: Int? { proxy.localAddress?.port }
    public var adminPort: Int? { admin.localAddress?.port }
    public var forwardAuthPort: Int? { forwardAuth?.localAddress?.port }

    /// Loads the store and binds both listeners; requests are served from here on.
    /// Every metric of this gateway; `GET /metrics` on the admin listener renders it.
    public let metrics = PrometheusCollectorRegistry()

    public init(configuration c: Configuration, group: EventLoopGroup, logger: Logger) async throws {
        self.configuration = c
        self.logger = logger
        let factory = PrometheusMetricsFactory(registry: metrics)
        let initialGate: Gate
        do {
            initialGate = try Gate(configuration: c)
        } catch {
            throw StartupError(description: error.description)
        }
        guard let upstream = c.proxy.upstream else { throw StartupError(description: "proxy.upstream: is required") }

        switch c.revocation.store {
        case .memory:
            let memory: MemoryRevocationStore
            do {
                memory = try MemoryRevocationStore(settings: .init(
                    file: c.revocation.file, leewaySeconds: c.jwt.leeway.seconds,
                    maxTTLSeconds: c.revocation.maxTTL.seconds, auditMaxEntries: c.admin.auditMaxEntries))
            } catch {
                throw StartupError(description: "revocation.file: \(error.detail)")
            }
            if memory.loadReport.skippedLines > 0 {
                logger.warning("revocation file had unreadable lines (a torn last write after a crash is expected)",
                               metadata: ["file": "\(c.revocation.file)", "skipped": "\(memory.loadReport.skippedLines)"])
            }
            logger.info("revocation store ready", metadata: [
                "store": "memory", "file": "\(c.revocation.file)", "entries": "\(memory.loadReport.liveEntries)",
                "audit_entries": "\(memory.loadReport.auditEntries)"])
            store = memory
            auditTrail = memory
            memoryStore = memory
            redisService = nil
        case .redis:
            let redis: RedisRevocationStore
            do {
                redis = try await RedisRevocationStore(
                    settings: .init(url: c.revocation.redisURL, jtiKey: c.revocation.jtiKey,
                                    subjectKey: c.revocation.subjectKey, tokenKey: c.revocation.tokenKey,
                                    timeout: TimeAmount(c.revocation.timeout), leewaySeconds: c.jwt.leeway.seconds,
                                    maxTTLSeconds: c.revocation.maxTTL.seconds, tlsCAFile: c.revocation.redisTLSCAFile,
                                    writeReplicas: c.revocation.writeReplicas,
                                    sentinels: c.revocation.redisSentinels,
                                    sentinelMaster: c.revocation.redisSentinelMaster,
                                    sentinelPassword: c.revocation.redisSentinelPassword,
                                    localCache: c.revocation.localCache == .tracking,
                                    localCacheEntries: c.revocation.localCacheEntries,
                                    clusterNodes: c.revocation.redisClusterNodes),
                    group: group, logger: logger, metricsFactory: factory)
            } catch let error as RevocationStoreError {
                throw StartupError(description: error.detail)
            }
            store = redis
            auditTrail = RedisAuditStream(store: redis, maxEntries: c.admin.auditMaxEntries)
            memoryStore = nil
            redisService = redis.service
            var metadata: Logger.Metadata = ["redis": "\(c.revocation.redisURL)"]
            if !c.revocation.redisSentinels.isEmpty {
                metadata["redis.sentinels"] = "\(c.revocation.redisSentinels.map(\.description).joined(separator: ","))"
                metadata["redis.master_name"] = "\(c.revocation.redisSentinelMaster)"
            }
            if c.revocation.localCache == .tracking { metadata["local_cache"] = "tracking" }
            if !c.revocation.redisClusterNodes.isEmpty {
                metadata["redis.cluster_nodes"] = "\(c.revocation.redisClusterNodes.map(\.description).joined(separator: ","))"
            }
            logger.info("revocation store: redis", metadata: metadata)
        }

        let auditFailures = Counter(label: "portcullis_audit_write_failures_total", factory: factory)
        let audit = AuditRecorder(trail: auditTrail, now: { Date().timeIntervalSince1970 }, failed: { entry, error in
            // The change itself is in force; the entry goes to the log so it is still on record.
            auditFailures.increment()
            logger.error("audit entry could not be stored", metadata: [
                "error": "\(error)", "audit.action": "\(entry.action.rawValue)", "audit.actor": "\(entry.actor)",
                "audit.target": "\(entry.target)", "audit.reason": "\(entry.reason ?? "-")",
                "audit.caller": "\(entry.peer ?? "unknown")", "audit.time": "\(entry.time)"])
        })
        let live = LiveGate(configuration: c, gate: initialGate, store: store, audit: audit)
        self.live = live
        reloader = Reloader(live: live, logger: logger, metricsFactory: factory)
        let jwks: JWKSRefresher?
        if let url = c.jwt.jwksURL {
            let client: JWKSClient
            do {
                client = try JWKSClient(url: url, caFile: c.jwt.jwksTLSCAFile)
            } catch {
                throw StartupError(description: error.description)
            }
            let refresher = JWKSRefresher(
                client: client,
                settings: .init(refreshInterval: TimeAmount(c.jwt.jwksRefreshInterval),
                                minRefetchInterval: TimeAmount(c.jwt.jwksMinRefetchInterval)),
                eventLoop: group.next(), metricsFactory: factory, logger: logger,
                install: { text in try live.rebuild(remoteJWKS: text) })
            live.attach(proxy: nil, unknownKeyObserver: refresher)
            // Again, now that the gate can tell the fetcher about unknown `kid`s.
            do {
                try live.rebuild()
            } catch {
                throw StartupError(description: error.description)
            }
            jwks = refresher
        } else {
            jwks = nil
        }
        self.jwks = jwks
        // TLS contexts, built before any listener binds so a bad file stops the start cleanly.
        let proxyTLS: ListenerTLS?
        let upstreamTLS: NIOSSLContext?
        let adminTLS: NIOSSLContext?
        do {
            proxyTLS = try c.proxy.tlsCertFile.map { try ListenerTLS(certificateFile: $0, keyFile: c.proxy.tlsKeyFile ?? "") }
            upstreamTLS = upstream.tls ? try ListenerTLS.upstreamContext(caFile: c.proxy.upstreamCAFile) : nil
            adminTLS = try c.admin.tlsCertFile.map {
                try ListenerTLS(certificateFile: $0, keyFile: c.admin.tlsKeyFile ?? "").context
            }
        } catch {
            throw StartupError(description: "TLS: \(error)")
        }
        var proxySettings = ProxyServer.Settings(
            host: c.proxy.listen.host, port: c.proxy.listen.port,
            maxHeaderBytes: c.proxy.maxHeaderBytes, upstream: upstream,
            connectTimeout: TimeAmount(c.proxy.connectTimeout),
            maxHeaders: c.proxy.maxHeaders, maxURIBytes: c.proxy.maxURIBytes,
            maxBodyBytes: c.proxy.maxBodyBytes,
            headerReadTimeout: TimeAmount(c.proxy.headerReadTimeout),
            idleTimeout: TimeAmount(c.proxy.idleTimeout),
            maxConnections: c.proxy.maxConnections,
            drainTimeout: TimeAmount(c.proxy.drainTimeout),
            tls: proxyTLS, upstreamTLS: upstreamTLS)
        proxySettings.webSockets = c.proxy.webSockets
        proxySettings.tunnelRecheckInterval = TimeAmount(c.proxy.tunnelRecheckInterval)
        do {
            proxy = try await ProxyServer(
                group: group,
                settings: proxySettings,
                snapshot: live.snapshotInput(c, live.gate), metrics: ProxyMetrics(factory: factory), logger: logger)
            live.attach(proxy: proxy, unknownKeyObserver: nil)
        } catch {
            await (store as? RedisRevocationStore)?.shutdown()
            throw StartupError(description: "proxy.listen \(c.proxy.listen.host):\(c.proxy.listen.port): \(error)")
        }
        if let listen = c.authz.listen {
            do {
                let server = try await ForwardAuthServer(
                    group: group,
                    settings: .init(host: listen.host, port: listen.port, maxHeaderBytes: c.proxy.maxHeaderBytes,
                                    maxHeaders: c.proxy.maxHeaders, maxURIBytes: c.proxy.maxURIBytes,
                                    idleTimeout: TimeAmount(c.proxy.idleTimeout),
                                    drainTimeout: TimeAmount(c.proxy.drainTimeout)),
                    snapshot: live.snapshotInput(c, live.gate), denyStatus: c.authz.denyStatus,
                    metrics: ForwardAuthMetrics(factory: factory), logger: logger)
                live.attach(forwardAuth: server)
                forwardAuth = server
            } catch {
                proxy.shutdown()
                await (store as? RedisRevocationStore)?.shutdown()
                throw StartupError(description: "authz.listen \(listen.host):\(listen.port): \(error)")
            }
        } else {
            forwardAuth = nil
        }
        // The admin listener binds last: once /readyz answers, every listener accepts.
        do {
            admin = try await AdminServer(
                group: group, host: c.admin.listen.host, port: c.admin.listen.port,
                api: AdminAPI(store: store, audit: audit, adminToken: c.admin.token, currentGate: { live.gate },
                              maxTTLSeconds: c.revocation.maxTTL.seconds,
                              metricsText: { [metrics] in metrics.emitToBuffer() },
                              revocationsWritten: Counter(label: "portcullis_revocations_written_total", factory: factory),
                              liveAdminToken: { live.configuration.admin.token },
                              liveCredentials: { live.configuration.admin.credentials },
                              keysReady: { jwks?.isLoaded ?? true },
                              console: OperatorsConsole(),
                              logger: logger),
                tls: adminTLS)
        } catch {
            proxy.shutdown()
            forwardAuth?.shutdown()
            await (store as? RedisRevocationStore)?.shutdown()
            throw StartupError(description: "admin.listen \(c.admin.listen.host):\(c.admin.listen.port): \(error)")
        }
        logger.info("listening", metadata: [
            "proxy": "\(proxy.localAddress?.description ?? "?")", "admin": "\(admin.localAddress?.description ?? "?")",
            "upstream": "http://\(upstream.host):\(upstream.port)\(upstream.pathPrefix)",
            "forward_auth": "\(forwardAuth?.localAddress?.description ?? "off")"])
        if c.admin.token == nil {
            logger.warning("admin.token is not set: every /v1/ admin endpoint answers 401")
        }
    }

    /// Serves until SIGTERM/SIGINT (when `signals`), or until the task is cancelled, then drains.
    /// With `reloadSource`, SIGHUP loads a new configuration from it and applies it (see `reload`).
    public func run(signals: Bool = true,
                    reloadSource: (@Sendable () throws(ConfigurationError) -> Configuration)? = nil) async throws {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let redisService { services.append(.init(service: redisService)) }
        if let memoryStore { services.append(.init(service: RevocationSweeper(store: memoryStore))) }
        if let jwks { services.append(.init(service: jwks)) }
        if let reloadSource { services.append(.init(service: ReloadOnHangup(reloader: reloader, load: reloadSource))) }
        services += [.init(service: admin), .init(service: proxy)]
        if let forwardAuth { services.append(.init(service: forwardAuth)) }
        let group = ServiceGroup(configuration: .init(
            services: services,
            gracefulShutdownSignals: signals ? [.sigterm, .sigint] : [],
            logger: logger))
        serviceGroup.withLockedValue { $0 = group }
        if shutdownRequested.withLockedValue({ $0 }) { await group.triggerGracefulShutdown() }
        try await group.run()
    }

    /// Applies a newly loaded configuration without dropping connections: live keys (JWT
    /// settings and keys, public paths, claim headers, upstream timeout, logout path, fail
    /// mode, error format, admin token) take effect for the next request; other changed keys
    /// are reported as needing a restart. A configuration that does not load, or whose keys do
    /// not, is refused and the running one stays.
    @discardableResult
    public func reload(_ load: () throws(ConfigurationError) -> Configuration) -> ReloadOutcome {
        reloader.reload(load)
    }

    /// Starts the same graceful shutdown as SIGTERM: stop accepting, drain, close.
    public func shutdown() async {
        let group = serviceGroup.withLockedValue { group in
            shutdownRequested.withLockedValue { $0 = true }
            return group
        }
        await group?.triggerGracefulShutdown()
    }
}

/// Drops expired entries from the embedded store once a minute.
struct RevocationSweeper: Service {
    let store: MemoryRevocationStore

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(60)) }
            } catch {
                return
            }
            store.sweep()
        }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
