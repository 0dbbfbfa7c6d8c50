import Foundation
import Logging
import NIOCore
import PortcullisCore

/// The channel handler of one forward-auth connection: it feeds bytes to the connection's
/// state machine and, for each request, runs the same gate as the proxy on the original
/// request the ingress describes, inline on the event loop (the store's answer, when it is
/// not immediate, comes back to this loop; a logout's revocation is written off it).
final class ForwardAuthHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let snapshots: ForwardAuthSnapshotBox
    private let tokenCache: VerifiedTokenCache
    private let metrics: ForwardAuthMetrics
    private let logger: Logger
    private var machine: ForwardAuthConnectionStateMachine
    private var context: ChannelHandlerContext?
    private var snapshot: ForwardAuthSnapshot
    private var requestStart = NIODeadline.uptimeNanoseconds(0)
    private var draining = false
    private var readPending = false

    init(snapshots: ForwardAuthSnapshotBox, tokenCache: VerifiedTokenCache,
         configuration: ForwardAuthConnectionStateMachine.Configuration, metrics: ForwardAuthMetrics, logger: Logger) {
        self.snapshots = snapshots
        self.tokenCache = tokenCache
        self.metrics = metrics
        self.logger = logger
        self.snapshot = snapshots.snapshot
        self.machine = ForwardAuthConnectionStateMachine(configuration: configuration)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        machine.read(unwrapInboundIn(data))
        runActions()
    }

    func channelInactive(context: ChannelHandlerContext) {
        machine.closed()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            machine.quiesce()
            runActions()
        } else if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            // Nothing arrived for proxy.idle_timeout: an idle kept connection, or a head or
            // body that stopped coming. A verdict never waits that long (the store has its timeout).
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("forward-auth connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    /// Reads are asked for only while the machine takes more bytes (a verdict pending with a
    /// full head waiting holds them).
    func read(context: ChannelHandlerContext) {
        if machine.readsAllowed { context.read() } else { readPending = true }
    }

    private func runActions() {
        guard !draining, let context else { return }
        draining = true
        defer { draining = false }
        var wrote = false
        while let action = machine.nextAction() {
            switch action {
            case .decide(let head, let bytes):
                decide(RequestHeadView(head: head, bytes: bytes), serial: machine.serial)
            case .write(let bytes):
                context.write(wrapOutboundOut(bytes), promise: nil)
                wrote = true
            case .close(let bytes):
                if let bytes { context.write(wrapOutboundOut(bytes), promise: nil) }
                let promise = context.eventLoop.makePromise(of: Void.self)
                context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: promise)
                promise.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                wrote = false
            }
        }
        if wrote { context.flush() }
        if readPending, machine.readsAllowed {
            readPending = false
            context.read()
        }
    }

    // MARK: The gate

    private func decide(_ request: RequestHeadView, serial: Int) {
        requestStart = .now()
        snapshot = snapshots.snapshot
        let original = OriginalRequest(describedBy: request, ownMethod: request.method, ownTarget: request.target)
        let target = RequestTarget(original.target)
        let now = Date().timeIntervalSince1970
        switch snapshot.gate.decide(method: original.method, target: target, headers: request, now: now, cache: tokenCache) {
        case .forwardPublic:
            metrics.publicPath.increment()
            answer(pass: nil, serial: serial)
        case .deny(let denial):
            deny(denial, serial: serial)
        case .denyScope(let refusal):
            metrics.denied[refusal.denial]?.increment()
            metrics.duration.recordNanoseconds((NIODeadline.now() - requestStart).nanoseconds)
            machine.answered(snapshot.answers.denial(refusal, closing: machine.closesAfterAnswer), serial: serial)
        case .checkRevocation(let token, let query):
            let logout = snapshot.logout.applies(to: target)
                ? snapshot.logout.revocations(token: token, query: query, headers: request, gate: snapshot.gate, now: now)
                : []
            if let verdict = snapshot.store.immediateVerdict(query) {
                conclude(verdict, claims: token.claims, logout: logout, serial: serial)
            } else {
                askStore(query, claims: token.claims, logout: logout, serial: serial)
            }
        }
    }

    private func askStore(_ query: RevocationQuery, claims: TokenClaims, logout: [LogoutPlan.Revocation], serial: Int) {
        guard let context else { return }
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let answered: @Sendable (RevocationVerdict) -> Void = { verdict in
            let handler = bound.value
            handler.conclude(verdict, claims: claims, logout: logout, serial: serial)
            handler.runActions()
        }
        snapshot.store.check(query) { verdict in
            if loop.inEventLoop { answered(verdict) } else { loop.execute { answered(verdict) } }
        }
    }

    private func conclude(_ verdict: RevocationVerdict, claims: TokenClaims, logout: [LogoutPlan.Revocation], serial: Int) {
        switch snapshot.gate.conclude(verdict) {
        case .forward where !logout.isEmpty, .forwardFailOpen where !logout.isEmpty:
            // fail_mode: open admits requests, but a logout still needs its revocation stored.
            revokeForLogout(logout, claims: claims, serial: serial)
        case .forward:
            metrics.allowed.increment()
            answer(pass: claims, serial: serial)
        case .forwardFailOpen:
            metrics.failOpen.increment()
            answer(pass: claims, serial: serial)
        case .deny(let denial):
            deny(denial, serial: serial)
        }
    }

    /// The logout path: revoke, then answer 200 (the ingress sends the request on to the
    /// application's own logout). A revocation that cannot be stored is a 503.
    private func revokeForLogout(_ revocations: [LogoutPlan.Revocation], claims: TokenClaims, serial: Int) {
        guard let context else { return }
        let store = snapshot.store
        let logout = snapshot.logout
        // The connection's peer: on this listener, the ingress that asks.
        let peer = context.channel.remoteAddress?.ipAddress
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.completeWithTask {
            try await logout.store(revocations, in: store, peer: peer)
        }
        promise.futureResult.assumeIsolated().whenComplete { result in
            switch result {
            case .success:
                self.metrics.logout.increment()
                self.answer(pass: claims, serial: serial)
            case .failure(let error):
                self.logger.error("logout revocation could not be stored", metadata: ["error": "\(error)"])
                self.deny(.storeUnavailable, serial: serial)
            }
            self.runActions()
        }
    }

    private func answer(pass claims: TokenClaims?, serial: Int) {
        guard let context else { return }
        metrics.duration.recordNanoseconds((NIODeadline.now() - requestStart).nanoseconds)
        machine.answered(snapshot.answers.pass(claims: claims, closing: machine.closesAfterAnswer,
                                               allocator: context.channel.allocator), serial: serial)
    }

    private func deny(_ denial: Denial, serial: Int) {
        metrics.denied[denial]?.increment()
        metrics.duration.recordNanoseconds((NIODeadline.now() - requestStart).nanoseconds)
        logger.debug("forward-auth denied", metadata: ["reason": "\(denial.errorType)"])
        machine.answered(snapshot.answers.denial(denial, closing: machine.closesAfterAnswer), serial: serial)
    }
}
