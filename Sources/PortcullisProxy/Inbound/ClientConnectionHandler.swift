import Foundation
import Logging
import NIOCore
import PortcullisCore

/// The channel handler of one client connection: it feeds bytes and events to the
/// connection's state machine and carries out the actions it returns — the gate, the store,
/// the upstream pool, writes, the timer. No decision about framing is made here. An open
/// tunnel is registered with its loop's `TunnelRegistry`, and its token checked again here.
final class ClientConnectionHandler: ChannelDuplexHandler, UpstreamResponseReceiver, TunnelEndpoint {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let snapshots: GateSnapshotBox
    private let pool: UpstreamConnectionPool
    private let tokenCache: VerifiedTokenCache
    private let metrics: ProxyMetrics
    private let logger: Logger
    private let tunnels: TunnelRegistry
    /// Touched only on this connection's event loop and never re-entered (see `runActions`), so
    /// the dynamic exclusivity check on every access is skipped.
    @exclusivity(unchecked) private var machine: ProxyConnectionStateMachine
    private var context: ChannelHandlerContext?
    private var clientAddress: String?
    private var snapshot: GateSnapshot
    private var upstream: UpstreamConnection?
    private var timer: Scheduled<Void>?
    private var readPending = false
    private var upstreamHeadBuffer: ByteBuffer?
    private var draining = false
    private var requestStart = NIODeadline.uptimeNanoseconds(0)
    private var upstreamStart = NIODeadline.uptimeNanoseconds(0)
    private var verifiedJTI: String?
    /// The token of a WebSocket handshake in progress, then of the open tunnel: checked again
    /// every `proxy.tunnel_recheck_interval`, and when a revocation may concern it.
    private var tunnelToken: TunnelToken?
    /// Registered with `tunnels` and counted in `portcullis_open_tunnels`.
    private var tunnelOpen = false
    /// Method and path of the request in progress, kept only when access logging is on.
    private var accessLine: (method: String, path: Substring)?
    private static let failOpenWarning = RateLimitedWarning()

    init(snapshots: GateSnapshotBox, pool: UpstreamConnectionPool, tokenCache: VerifiedTokenCache,
         tunnels: TunnelRegistry, configuration: ProxyConnectionStateMachine.Configuration, metrics: ProxyMetrics,
         logger: Logger) {
        self.tunnels = tunnels
        self.snapshots = snapshots
        self.pool = pool
        self.tokenCache = tokenCache
        self.metrics = metrics
        self.logger = logger
        let snapshot = snapshots.snapshot
        self.snapshot = snapshot
        self.machine = ProxyConnectionStateMachine(configuration: configuration, renderer: snapshot.renderer, now: .now())
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        clientAddress = context.channel.remoteAddress?.ipAddress
        metrics.openConnections.increment()
        runActions()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        machine.clientRead(unwrapInboundIn(data), now: .now())
        runActions()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        machine.clientReadComplete()
        runActions()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if machine.readsAllowed {
            context.read()
        } else {
            readPending = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        machine.clientWritabilityChanged(writable: context.channel.isWritable)
        runActions()
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        metrics.openConnections.decrement()
        machine.clientClosed()
        runActions()
        leaveTunnelRegistry()
        timer?.cancel()
        timer = nil
        if let upstream {
            self.upstream = nil
            upstream.handler.receiver = nil
            upstream.close()
        }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        machine.quiesce()
        runActions()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("client connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: UpstreamResponseReceiver

    func upstreamRead(_ bytes: ByteBuffer) {
        machine.upstreamRead(bytes, now: .now())
        runActions()
    }

    func upstreamReadComplete() {
        machine.upstreamReadComplete()
        runActions()
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        machine.upstreamWritabilityChanged(writable: isWritable, now: .now())
        runActions()
    }

    func upstreamClosed() {
        upstream = nil
        machine.upstreamClosed(now: .now())
        runActions()
    }

    // MARK: Carrying out actions

    /// Runs the machine's actions in order. Actions may feed the machine again (the gate's
    /// verdict, an idle upstream connection); what that queues is run by the same loop.
    private func runActions() {
        guard !draining else { return }
        draining = true
        defer { draining = false }
        while let action = machine.nextAction() {
            perform(action)
        }
    }

    private func perform(_ action: ProxyConnectionStateMachine.Action) {
        guard let context else { return }
        switch action {
        case .decide:
            guard let (head, bytes) = machine.currentRequest else { return }
            decide(RequestHeadView(head: head, bytes: bytes))
        case .acquireUpstream:
            if let connection = pool.takeIdle() {
                attach(connection)
            } else {
                connectUpstream()
            }
        case .connectUpstream:
            connectUpstream()
        case .writeUpstream(let bytes):
            upstream?.write(bytes)
        case .flushUpstream:
            upstream?.flush()
        case .releaseUpstream:
            detachUpstream(reuse: true)
        case .closeUpstream:
            detachUpstream(reuse: false)
        case .pauseUpstreamReads:
            upstream?.handler.pauseReads()
        case .resumeUpstreamReads:
            if let upstream { upstream.handler.resumeReads(context: upstream.context) }
        case .writeClient(let bytes):
            context.write(wrapOutboundOut(bytes), promise: nil)
            if !context.channel.isWritable {
                upstream?.handler.pauseReads()
            }
        case .flushClient:
            context.flush()
        case .closeClient(let bytes):
            timer?.cancel()
            timer = nil
            if let bytes { context.write(wrapOutboundOut(bytes), promise: nil) }
            let promise = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: promise)
            promise.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        case .resumeClientReads:
            if readPending {
                readPending = false
                context.read()
            }
        case .scheduleTimer(let deadline):
            timer?.cancel()
            timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
                guard let self else { return }
                self.timer = nil
                self.machine.timerFired(now: .now())
                self.runActions()
            }
        case .exchangeEnded(let status, let forwarded):
            exchangeEnded(status: status, forwarded: forwarded)
        case .count(let event):
            count(event)
        case .upstreamFailed(let denial):
            metrics.recordDenied(denial, since: requestStart)
            machine.answerUpstreamFailure(snapshot.renderer.rendering(denial), now: .now())
        case .tunnelOpened:
            tunnelOpened()
        case .recheckTunnel:
            recheckTunnel()
        }
    }

    // MARK: The gate

    private func decide(_ request: RequestHeadView) {
        requestStart = .now()
        verifiedJTI = nil
        tunnelToken = nil
        snapshot = snapshots.snapshot
        machine.renderer = snapshot.renderer
        let target = RequestTarget(request.target)
        accessLine = logger.logLevel <= .debug ? (request.method, target.path) : nil
        let now = Date().timeIntervalSince1970
        let decision = snapshot.gate.decide(
            method: request.method, target: target,
            headers: request, now: now, cache: tokenCache)
        switch decision {
        case .forwardPublic:
            metrics.forwardedPublic.increment()
            admit(request, claims: nil)
        case .deny(let denial):
            deny(denial)
        case .denyScope(let refusal):
            deny(refusal.denial, answer: snapshot.renderer.rendering(refusal))
        case .checkRevocation(let token, let query):
            verifiedJTI = token.claims.jti
            if machine.tunnelRequested, let found = snapshot.gate.extractor.extract(from: request, target: target) {
                tunnelToken = TunnelToken(raw: String(found.token), claims: token.claims,
                                          expiresAt: snapshot.gate.verifier.expiryInstant(of: token.claims),
                                          epoch: tunnels.epoch)
            }
            let logout = snapshot.logout.applies(to: target)
                ? snapshot.logout.revocations(token: token, query: query, headers: request, gate: snapshot.gate, now: now)
                : []
            if let verdict = snapshot.store.immediateVerdict(query) {
                conclude(verdict, request: request, claims: token.claims, logout: logout)
            } else {
                machine.requestPending()
                askStore(query, request: request, claims: token.claims, logout: logout)
            }
        }
    }

    private func askStore(_ query: RevocationQuery, request: RequestHeadView, claims: TokenClaims,
                          logout: [LogoutPlan.Revocation]) {
        guard let context else { return }
        let expected = machine.serial
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let answered: @Sendable (RevocationVerdict) -> Void = { verdict in
            let handler = bound.value
            guard handler.machine.serial == expected else { return }
            handler.conclude(verdict, request: request, claims: claims, logout: logout)
            handler.runActions()
        }
        snapshot.store.check(query) { verdict in
            if loop.inEventLoop {
                answered(verdict)
            } else {
                loop.execute { answered(verdict) }
            }
        }
    }

    private func conclude(_ verdict: RevocationVerdict, request: RequestHeadView, claims: TokenClaims,
                          logout: [LogoutPlan.Revocation]) {
        if verdict == .unavailable { metrics.storeLookupErrors.increment() }
        switch snapshot.gate.conclude(verdict) {
        case .forward where !logout.isEmpty, .forwardFailOpen where !logout.isEmpty:
            // Counted once the revocation is stored: forwarded then, denied (503) if it fails.
            // fail_mode: open admits requests, but a logout still needs its revocation stored.
            revokeForLogout(logout, request: request, claims: claims)
        case .forward:
            metrics.forwarded.increment()
            admit(request, claims: claims)
        case .forwardFailOpen:
            metrics.forwardedFailOpen.increment()
            if let suppressed = Self.failOpenWarning.admit() {
                logger.warning("revocation store unavailable; request forwarded (fail_mode: open)",
                               metadata: ["suppressed": "\(suppressed)"])
            }
            admit(request, claims: claims)
        case .deny(let denial):
            deny(denial)
        }
    }

    /// Logout at the gate: revoke, then forward so the application's own logout runs too.
    /// The store writes off the event loop (they may fsync or wait for Redis); a logout whose
    /// revocation cannot be stored is answered 503, never forwarded as if it had worked.
    private func revokeForLogout(_ revocations: [LogoutPlan.Revocation], request: RequestHeadView, claims: TokenClaims) {
        guard let context else { return }
        machine.requestPending()
        let expected = machine.serial
        let store = snapshot.store
        let logout = snapshot.logout
        let peer = clientAddress
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.completeWithTask {
            try await logout.store(revocations, in: store, peer: peer)
        }
        promise.futureResult.assumeIsolated().whenComplete { result in
            guard expected == self.machine.serial else { return }
            switch result {
            case .success:
                self.metrics.forwarded.increment()
                self.admit(request, claims: claims)
            case .failure(let error):
                self.logger.error("logout revocation could not be stored", metadata: ["error": "\(error)"])
                self.deny(.storeUnavailable)
            }
            self.runActions()
        }
    }

    private func admit(_ request: RequestHeadView, claims: TokenClaims?) {
        guard let context else { return }
        // The previous request's head buffer is reused: once its exchange ended nothing else
        // holds it, so clearing it does not copy.
        var head = upstreamHeadBuffer ?? context.channel.allocator.buffer(capacity: request.bytes.readableBytes + 256)
        upstreamHeadBuffer = nil
        head.clear()
        snapshot.upstreamHead.write(request.head, bytes: request.bytes, clientAddress: clientAddress,
                                    claims: claims, webSocketUpgrade: machine.tunnelRequested, into: &head)
        upstreamHeadBuffer = head
        machine.requestAdmitted(upstreamHead: head, upstreamTimeout: snapshot.upstreamTimeout)
    }

    /// `answer`, when given, is a denial rendered for this request (a scope refusal names the scopes).
    private func deny(_ denial: Denial, answer: DenialRenderer.Rendered? = nil) {
        let rendered = answer ?? snapshot.renderer.rendering(denial)
        metrics.recordDenied(denial, since: requestStart)
        logAccess(status: rendered.status, outcome: "denied", reason: denial.errorType)
        machine.requestDenied(rendered, now: .now())
    }

    // MARK: Upstream connections

    private func connectUpstream() {
        let expected = machine.serial
        pool.connect().assumeIsolated().whenComplete { result in
            switch result {
            case .success(let connection):
                guard expected == self.machine.serial, self.context != nil else {
                    connection.close()
                    return
                }
                self.attach(connection)
            case .failure(let error):
                guard expected == self.machine.serial else { return }
                self.logger.debug("upstream connect failed", metadata: ["error": "\(error)"])
                self.machine.upstreamConnectFailed()
            }
            self.runActions()
        }
    }

    private func attach(_ connection: UpstreamConnection) {
        upstream = connection
        connection.handler.receiver = self
        upstreamStart = .now()
        machine.upstreamAttached(reused: connection.hasBeenUsed, writable: connection.channel.isWritable,
                                 now: upstreamStart)
    }

    private func detachUpstream(reuse: Bool) {
        guard let connection = upstream else { return }
        upstream = nil
        connection.handler.receiver = nil
        if reuse {
            pool.release(connection)
        } else {
            connection.close()
        }
    }

    // MARK: Tunnels

    private func tunnelOpened() {
        tunnelOpen = true
        metrics.openTunnels.increment()
        metrics.tunnelsOpened.increment()
        tunnels.add(self, jti: tunnelToken?.claims.jti, subject: tunnelToken?.claims.sub)
        upstreamHeadBuffer = nil
        let now = NIODeadline.now()
        let expiry = tunnelToken?.expiresAt.map { instant in
            // Wall clock to the loop's clock, once; a far-off `exp` is capped at about 30 years.
            let seconds = instant.isFinite ? min(max(instant - Date().timeIntervalSince1970, 0), 1e9) : 1e9
            return now + .nanoseconds(Int64(seconds * 1e9))
        }
        machine.tunnelArmed(checksToken: tunnelToken != nil, tokenExpiresAt: expiry, now: now)
        // A revocation handled on this loop after the handshake read the store, before the
        // tunnel was registered, would be missed until the next recheck: check now instead.
        if let tunnelToken, tunnelToken.epoch != tunnels.epoch { recheckTunnel() }
    }

    func revocationNoticed() {
        recheckTunnel()
        runActions()
    }

    /// The tunnel's token, judged again as the gate judges a request now: today's keys and
    /// policy, its expiry, then the store (`fail_mode` applies to a store that cannot answer).
    private func recheckTunnel() {
        guard let token = tunnelToken, machine.isTunnel, let context else { return }
        let snapshot = snapshots.snapshot
        switch snapshot.gate.recheck(Substring(token.raw), now: Date().timeIntervalSince1970) {
        case .deny(let denial):
            machine.tunnelTokenRefused(denial == .expired ? .expired : .rejected)
        case .denyScope:
            machine.tunnelTokenRefused(.rejected)
        case .forwardPublic:
            machine.tunnelRecheckPassed(now: .now())
        case .checkRevocation(_, let query):
            if let verdict = snapshot.store.immediateVerdict(query) {
                concludeRecheck(verdict, gate: snapshot.gate)
                return
            }
            let loop = context.eventLoop
            let bound = NIOLoopBound(self, eventLoop: loop)
            let gate = snapshot.gate
            let answered: @Sendable (RevocationVerdict) -> Void = { verdict in
                let handler = bound.value
                handler.concludeRecheck(verdict, gate: gate)
                handler.runActions()
            }
            snapshot.store.check(query) { verdict in
                if loop.inEventLoop {
                    answered(verdict)
                } else {
                    loop.execute { answered(verdict) }
                }
            }
        }
    }

    private func concludeRecheck(_ verdict: RevocationVerdict, gate: Gate) {
        if verdict == .unavailable { metrics.storeLookupErrors.increment() }
        switch gate.conclude(verdict) {
        case .forward, .forwardFailOpen:
            machine.tunnelRecheckPassed(now: .now())
        case .deny(let denial):
            machine.tunnelTokenRefused(denial == .revoked ? .revoked : .rejected)
        }
    }

    private func leaveTunnelRegistry() {
        guard tunnelOpen else { return }
        tunnelOpen = false
        metrics.openTunnels.decrement()
        tunnels.remove(self)
    }

    // MARK: Metrics and logs

    private func exchangeEnded(status: Int, forwarded: Bool) {
        guard forwarded else { return }
        let now = NIODeadline.now()
        metrics.recordUpstreamStatus(UInt(status))
        metrics.upstreamDuration.recordNanoseconds((now - upstreamStart).nanoseconds)
        metrics.requestDuration.recordNanoseconds((now - requestStart).nanoseconds)
        logAccess(status: status, outcome: "forwarded", reason: nil)
    }

    private func count(_ event: ProxyConnectionStateMachine.Event) {
        switch event {
        case .headerReadTimeout:
            metrics.headerReadTimeouts.increment()
            logger.debug("request head not complete in time; 408", metadata: ["client": "\(clientAddress ?? "-")"])
        case .idleTimeout:
            metrics.idleTimeouts.increment()
            logger.debug("idle client connection closed", metadata: ["client": "\(clientAddress ?? "-")"])
        case .bodyStallTimeout:
            metrics.bodyStallTimeouts.increment()
            logger.debug("request body stalled; connection closed", metadata: ["client": "\(clientAddress ?? "-")"])
        case .malformedRequest:
            logger.debug("malformed request; answered and closed", metadata: ["client": "\(clientAddress ?? "-")"])
        case .malformedResponse:
            logger.debug("malformed upstream response", metadata: ["client": "\(clientAddress ?? "-")"])
        case .bodyTooLarge:
            metrics.recordDenied(.payloadTooLarge, since: requestStart)
            logger.debug("request body over proxy.max_body_bytes; 413", metadata: ["client": "\(clientAddress ?? "-")"])
        case .tunnelClosed(let reason):
            metrics.tunnelsClosed[reason]?.increment()
            leaveTunnelRegistry()
            logger.debug("tunnel closed", metadata: ["reason": "\(reason.rawValue)", "jti": "\(tunnelToken?.claims.jti ?? "-")",
                                                     "client": "\(clientAddress ?? "-")"])
        }
    }

    /// One line per request at debug level. The path only: a query may carry the token.
    private func logAccess(status: Int, outcome: String, reason: String?) {
        guard let (method, path) = accessLine else { return }
        logger.debug("access", metadata: [
            "http.method": "\(method)", "http.path": "\(path)", "http.status": "\(status)",
            "outcome": "\(outcome)", "reason": "\(reason ?? "-")", "jti": "\(verifiedJTI ?? "-")",
            "duration_ms": "\(Double((NIODeadline.now() - requestStart).nanoseconds) / 1e6)",
            "client": "\(clientAddress ?? "-")",
        ])
    }
}

/// The token a tunnel was opened with, kept to judge it again.
struct TunnelToken {
    /// The compact token as presented (re-verified at each recheck with the keys in force then).
    var raw: String
    var claims: TokenClaims
    /// When it expires (seconds since 1970, leeway included); the tunnel closes then.
    var expiresAt: Double?
    /// The loop's `TunnelRegistry.epoch` when the handshake was judged.
    var epoch: UInt64
}
