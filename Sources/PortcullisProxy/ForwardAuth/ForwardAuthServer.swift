import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOExtras
import NIOPosix
import PortcullisCore
import ServiceLifecycle

/// What a forward-auth request reads, built at start and at reload and swapped as a whole:
/// the proxy's gate, store and logout plan, and the answers for `authz.deny_status`.
final class ForwardAuthSnapshot: Sendable {
    let gate: Gate
    let store: RevocationStore
    let logout: LogoutPlan
    let answers: ForwardAuthAnswers

    init(_ input: GateSnapshotInput, denyStatus: ForwardAuthDenyStatus) {
        gate = input.gate
        store = input.store
        logout = LogoutPlan(path: input.logoutPath, audit: input.audit)
        answers = ForwardAuthAnswers(format: input.errorFormat, denyStatus: denyStatus, claimHeaders: input.gate.claimHeaders)
    }
}

final class ForwardAuthSnapshotBox: Sendable {
    private let current: NIOLockedValueBox<ForwardAuthSnapshot>

    init(_ snapshot: ForwardAuthSnapshot) { current = NIOLockedValueBox(snapshot) }

    var snapshot: ForwardAuthSnapshot { current.withLockedValue { $0 } }

    func replace(with snapshot: ForwardAuthSnapshot) { current.withLockedValue { $0 = snapshot } }
}

/// The forward-auth listener (`authz.listen`): nginx `auth_request`, Caddy `forward_auth`,
/// Traefik `forwardAuth` and Envoy `ext_authz` ask it for a verdict per request. On graceful
/// shutdown it stops accepting and lets each connection finish its current answer.
public final class ForwardAuthServer: Service, Sendable {
    public struct Settings: Sendable {
        public var host: String
        public var port: Int
        public var maxHeaderBytes: Int
        public var maxHeaders: Int
        public var maxURIBytes: Int
        public var idleTimeout: TimeAmount
        public var drainTimeout: TimeAmount

        public init(host: String, port: Int, maxHeaderBytes: Int, maxHeaders: Int = 100, maxURIBytes: Int = 8192,
                    idleTimeout: TimeAmount = .seconds(60), drainTimeout: TimeAmount = .seconds(30)) {
            self.host = host
            self.port = port
            self.maxHeaderBytes = maxHeaderBytes
            self.maxHeaders = maxHeaders
            self.maxURIBytes = maxURIBytes
            self.idleTimeout = idleTimeout
            self.drainTimeout = drainTimeout
        }
    }

    private let group: EventLoopGroup
    private let settings: Settings
    private let snapshots: ForwardAuthSnapshotBox
    private let serverChannel: Channel
    private let quiescing: ServerQuiescingHelper
    private let drain = NIOLockedValueBoxStorage()

    public var localAddress: SocketAddress? { serverChannel.localAddress }

    public init(group: EventLoopGroup, settings: Settings, snapshot: GateSnapshotInput, denyStatus: ForwardAuthDenyStatus,
                metrics: ForwardAuthMetrics, logger: Logger) async throws {
        self.group = group
        self.settings = settings
        let snapshots = ForwardAuthSnapshotBox(ForwardAuthSnapshot(snapshot, denyStatus: denyStatus))
        self.snapshots = snapshots
        var caches: [ObjectIdentifier: NIOLoopBound<VerifiedTokenCache>] = [:]
        for loop in group.makeIterator() {
            caches[ObjectIdentifier(loop)] = try await loop.submit {
                NIOLoopBound(VerifiedTokenCache(), eventLoop: loop)
            }.get()
        }
        let frozenCaches = caches
        let quiescing = ServerQuiescingHelper(group: group)
        self.quiescing = quiescing
        let malformed = DenialRenderer(format: .authx)
        let configuration = ForwardAuthConnectionStateMachine.Configuration(
            maxHeaderBytes: settings.maxHeaderBytes,
            requestParser: RequestHeadParser(limits: .init(maxFields: settings.maxHeaders,
                                                           maxTargetBytes: settings.maxURIBytes)),
            badRequest: malformed.badRequest.close, headerTooLarge: malformed.headerTooLarge.close,
            uriTooLong: malformed.uriTooLong.close)
        let idleTimeout = settings.idleTimeout
        serverChannel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let cache = frozenCaches[ObjectIdentifier(channel.eventLoop)]?.value else {
                        throw ChannelError.ioOnClosedChannel
                    }
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                    try channel.pipeline.syncOperations.addHandler(
                        ForwardAuthHandler(snapshots: snapshots, tokenCache: cache, configuration: configuration,
                                           metrics: metrics, logger: logger))
                }
            }
            .bind(host: settings.host, port: settings.port)
            .get()
    }

    /// Swaps in the configuration of a reload for the next requests.
    public func replace(with snapshot: GateSnapshotInput, denyStatus: ForwardAuthDenyStatus) {
        snapshots.replace(with: ForwardAuthSnapshot(snapshot, denyStatus: denyStatus))
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
        shutdown()
        try await drain.future?.get()
    }

    /// Stops accepting; each connection closes after its current answer, at the latest after
    /// `drainTimeout`.
    public func shutdown() {
        drain.begin {
            let loop = group.next()
            let quiesced = loop.makePromise(of: Void.self)
            let drained = loop.makePromise(of: Void.self)
            let finished = NIOLockedValueBox(false)
            let finish: @Sendable () -> Void = {
                let first = finished.withLockedValue { done in
                    defer { done = true }
                    return !done
                }
                if first { drained.succeed(()) }
            }
            quiescing.initiateShutdown(promise: quiesced)
            let deadline = loop.scheduleTask(in: settings.drainTimeout) { finish() }
            quiesced.futureResult.whenComplete { _ in
                deadline.cancel()
                finish()
            }
            return drained.futureResult
        }
    }
}
