import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOExtras
import NIOPosix
import NIOSSL
import PortcullisCore
import ServiceLifecycle

/// The client-facing listener. On graceful shutdown it stops accepting, lets every
/// in-flight request finish (idle keep-alive connections close at once), closes what is still
/// open after `drainTimeout`, then returns.
public final class ProxyServer: Service, Sendable {
    public struct Settings: Sendable {
        public var host: String
        public var port: Int
        public var maxHeaderBytes: Int
        public var upstream: UpstreamURL
        public var connectTimeout: TimeAmount
        public var maxHeaders: Int
        public var maxURIBytes: Int
        /// 0 means no limit.
        public var maxBodyBytes: Int
        public var headerReadTimeout: TimeAmount
        public var idleTimeout: TimeAmount
        /// 0 means no limit.
        public var maxConnections: Int
        public var drainTimeout: TimeAmount
        /// Set for an HTTPS listener.
        public var tls: ListenerTLS?
        /// Set for an `https://` upstream.
        public var upstreamTLS: NIOSSLContext?
        /// `proxy.websockets` and `proxy.tunnel_recheck_interval`.
        public var webSockets = true
        public var tunnelRecheckInterval: TimeAmount = .seconds(30)

        public init(host: String, port: Int, maxHeaderBytes: Int, upstream: UpstreamURL, connectTimeout: TimeAmount,
                    maxHeaders: Int = 100, maxURIBytes: Int = 8192, maxBodyBytes: Int = 0, headerReadTimeout: TimeAmount = .seconds(10),
                    idleTimeout: TimeAmount = .seconds(60), maxConnections: Int = 10000,
                    drainTimeout: TimeAmount = .seconds(30), tls: ListenerTLS? = nil,
                    upstreamTLS: NIOSSLContext? = nil) {
            self.tls = tls
            self.upstreamTLS = upstreamTLS
            self.host = host
            self.port = port
            self.maxHeaderBytes = maxHeaderBytes
            self.upstream = upstream
            self.connectTimeout = connectTimeout
            self.maxHeaders = maxHeaders
            self.maxURIBytes = maxURIBytes
            self.maxBodyBytes = maxBodyBytes
            self.headerReadTimeout = headerReadTimeout
            self.idleTimeout = idleTimeout
            self.maxConnections = maxConnections
            self.drainTimeout = drainTimeout
        }
    }

    private let group: EventLoopGroup
    private let settings: Settings
    private let snapshots: GateSnapshotBox
    private let logger: Logger
    private let serverChannel: Channel
    private let quiescing: ServerQuiescingHelper
    /// What each event loop owns (upstream pool, verified-token cache), keyed by the loop's
    /// identity; built once, read without locks.
    private let loops: [ObjectIdentifier: NIOLoopBound<LoopState>]

    public var localAddress: SocketAddress? { serverChannel.localAddress }

    /// Binds the listener; requests are served from here on.
    public init(group: EventLoopGroup, settings: Settings, snapshot: GateSnapshotInput, metrics: ProxyMetrics,
                logger: Logger) async throws {
        self.group = group
        self.settings = settings
        self.logger = logger
        let snapshots = GateSnapshotBox(snapshot.build())
        self.snapshots = snapshots
        var loops: [ObjectIdentifier: NIOLoopBound<LoopState>] = [:]
        let poolSettings = UpstreamConnectionPool.Settings(
            host: settings.upstream.host, port: settings.upstream.port, connectTimeout: settings.connectTimeout,
            tls: settings.upstreamTLS)
        for loop in group.makeIterator() {
            loops[ObjectIdentifier(loop)] = try await loop.submit {
                NIOLoopBound(LoopState(pool: UpstreamConnectionPool(eventLoop: loop, settings: poolSettings),
                                       tokenCache: VerifiedTokenCache()), eventLoop: loop)
            }.get()
        }
        self.loops = loops
        // Tunnels close on a revocation at once where the store says when one happens.
        let tunnelWatch = TunnelRevocationWatch(loops: loops.values.map { state in
            (state.eventLoop, { state.value.tunnels })
        })
        (snapshot.store as? RevocationFeed)?.observeRevocations { tunnelWatch.notice($0) }
        let quiescing = ServerQuiescingHelper(group: group)
        self.quiescing = quiescing
        let frozenLoops = loops
        let handlerLogger = logger
        let listenerTLS = settings.tls
        let connectionLimit = ConnectionLimit(maximum: settings.maxConnections)
        let connectionConfiguration = ProxyConnectionStateMachine.Configuration(
            maxHeaderBytes: settings.maxHeaderBytes,
            requestParser: RequestHeadParser(limits: .init(maxFields: settings.maxHeaders,
                                                           maxTargetBytes: settings.maxURIBytes)),
            headerReadTimeout: settings.headerReadTimeout, idleTimeout: settings.idleTimeout,
            maxBodyBytes: settings.maxBodyBytes, webSockets: settings.webSockets,
            tunnelRecheckInterval: settings.tunnelRecheckInterval)
        self.serverChannel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let state = frozenLoops[ObjectIdentifier(channel.eventLoop)]?.value else {
                        throw ChannelError.ioOnClosedChannel
                    }
                    let admitted = connectionLimit.admit()
                    state.track(channel, release: connectionLimit)
                    if let listenerTLS {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: listenerTLS.context))
                    }
                    guard admitted else {
                        metrics.connectionsRefused.increment()
                        try channel.pipeline.syncOperations.addHandler(ConnectionRefusalHandler())
                        return
                    }
                    // Bytes only: the connection's state machine parses and frames HTTP/1.1 itself.
                    try channel.pipeline.syncOperations.addHandler(
                        ClientConnectionHandler(snapshots: snapshots, pool: state.pool, tokenCache: state.tokenCache,
                                                tunnels: state.tunnels, configuration: connectionConfiguration, metrics: metrics,
                                                logger: handlerLogger))
                }
            }
            .bind(host: settings.host, port: settings.port)
            .get()
    }

    /// Reads the listener's certificate and key again for the connections accepted from now on.
    public func reloadTLS(certificateFile: String, keyFile: String) throws {
        try settings.tls?.reload(certificateFile: certificateFile, keyFile: keyFile)
    }

    public var speaksTLS: Bool { settings.tls != nil }

    /// Swaps in a new configuration snapshot (keys, store, policy) for the next requests.
    public func replace(with snapshot: GateSnapshotInput) {
        snapshots.replace(with: snapshot.build())
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await serverChannel.closeFuture.get()
            } onCancel: {
                self.shutdown()
            }
        } onGracefulShutdown: {
            self.shutdown()
        }
        try await drained()
    }

    private let drainPromise = NIOLockedValueBoxStorage()

    /// Stops accepting and asks every connection to finish its current request and close;
    /// after `drainTimeout` the connections still open are closed.
    public func shutdown() {
        drainPromise.begin {
            let promise = self.group.next().makePromise(of: Void.self)
            self.quiescing.initiateShutdown(promise: promise)
            let bound = self.group.next().scheduleTask(in: self.settings.drainTimeout) {
                self.closeRemainingConnections()
            }
            promise.futureResult.whenComplete { _ in bound.cancel() }
            return promise.futureResult
        }
    }

    private func closeRemainingConnections() {
        for loop in group.makeIterator() {
            guard let state = loops[ObjectIdentifier(loop)] else { continue }
            loop.execute {
                let open = state.value.connections.values
                guard !open.isEmpty else { return }
                self.logger.warning("drain timeout passed; closing connections still open",
                                    metadata: ["connections": "\(open.count)"])
                for channel in open { channel.close(promise: nil) }
            }
        }
    }

    private func drained() async throws {
        shutdown()
        try await drainPromise.future?.get()
        for loop in group.makeIterator() {
            guard let state = loops[ObjectIdentifier(loop)] else { continue }
            try? await loop.flatSubmit { state.value.pool.closeAll() }.get()
        }
    }
}

/// Per-event-loop state, used only on its loop.
final class LoopState {
    let pool: UpstreamConnectionPool
    let tokenCache: VerifiedTokenCache
    let tunnels = TunnelRegistry()
    /// This loop's open client connections, so a drain past `drainTimeout` can close them.
    private(set) var connections: [ObjectIdentifier: Channel] = [:]

    init(pool: UpstreamConnectionPool, tokenCache: VerifiedTokenCache) {
        self.pool = pool
        self.tokenCache = tokenCache
    }

    /// Keeps `channel` until it closes, then gives its place in `limit` back.
    func track(_ channel: Channel, release limit: ConnectionLimit) {
        let id = ObjectIdentifier(channel)
        connections[id] = channel
        channel.closeFuture.assumeIsolated().whenComplete { _ in
            self.connections[id] = nil
            limit.release()
        }
    }
}

/// Holds the drain future once shutdown began, so a second call waits on the same drain.
final class NIOLockedValueBoxStorage: Sendable {
    private let box = NIOLockedValueBox<EventLoopFuture<Void>?>(nil)

    func begin(_ start: () -> EventLoopFuture<Void>) {
        box.withLockedValue { current in
            if current == nil { current = start() }
        }
    }

    var future: EventLoopFuture<Void>? { box.withLockedValue { $0 } }
}

/// The parts a snapshot is built from; the CLI assembles it from the configuration.
public struct GateSnapshotInput: Sendable {
    public var gate: Gate
    public var store: RevocationStore
    public var errorFormat: ErrorFormat
    public var pathPrefix: String
    public var upstreamTimeout: TimeAmount
    public var logoutPath: String
    /// Where the logout path's revocations are recorded.
    public var audit: AuditRecorder?
    /// The listener speaks HTTPS: `X-Forwarded-Proto: https`.
    public var listenerTLS: Bool

    public init(gate: Gate, store: RevocationStore, errorFormat: ErrorFormat, pathPrefix: String,
                upstreamTimeout: TimeAmount, logoutPath: String = "", audit: AuditRecorder? = nil,
                listenerTLS: Bool = false) {
        self.audit = audit
        self.listenerTLS = listenerTLS
        self.logoutPath = logoutPath
        self.gate = gate
        self.store = store
        self.errorFormat = errorFormat
        self.pathPrefix = pathPrefix
        self.upstreamTimeout = upstreamTimeout
    }

    func build() -> GateSnapshot {
        GateSnapshot(gate: gate, store: store, renderer: DenialRenderer(format: errorFormat),
                     upstreamHead: UpstreamRequestHead(claimHeaders: gate.claimHeaders, pathPrefix: pathPrefix,
                                                     tls: listenerTLS),
                     upstreamTimeout: upstreamTimeout, logout: LogoutPlan(path: logoutPath, audit: audit))
    }
}
