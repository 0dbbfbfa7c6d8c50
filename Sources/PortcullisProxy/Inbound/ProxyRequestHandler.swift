import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PortcullisCore

/// One client connection: runs the gate inline on the event loop for each request, then
/// either answers with the denial or streams the request to an upstream connection of the
/// same event loop and the response back, with backpressure both ways.
///
/// Requests on one connection are handled one at a time. Reads go on while a request is with
/// the upstream (so the common case never touches epoll between requests); parts of a pipelined
/// next request that arrive meanwhile are queued, reading stops until they are taken, and they
/// are handled in order once the current response has ended.
///
/// One timer per connection serves every deadline: the upstream's response head, the client's
/// request head (`headerReadTimeout`), and an idle connection or a stalled request body
/// (`idleTimeout`). It is not cancelled or rescheduled per request: when it fires it acts on
/// what has passed and re-arms for the earliest deadline left; only a deadline earlier than
/// the pending firing reschedules it.
final class ProxyRequestHandler: ChannelDuplexHandler, UpstreamResponseReceiver {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Phase {
        case idle
        /// The store has not answered yet; request parts are buffered, reads paused.
        case awaitingVerdict
        /// Waiting for a new upstream connection; request parts are buffered, reads paused.
        case connecting
        case forwarding
        /// A locally generated answer (denial) was written; waiting for the request's end.
        case answeredLocally
        case closing
    }

    private let snapshots: GateSnapshotBox
    private let pool: UpstreamConnectionPool
    private let tokenCache: VerifiedTokenCache
    private let limits: ClientConnectionLimits
    private let metrics: ProxyMetrics
    private let logger: Logger
    private var context: ChannelHandlerContext?
    private var clientAddress: String?

    private var phase = Phase.idle
    private var requestStart = NIODeadline.uptimeNanoseconds(0)
    private var upstreamStart = NIODeadline.uptimeNanoseconds(0)
    /// Distinguishes late callbacks (store answer, connect) of an earlier request.
    private var serial: UInt64 = 0
    private var snapshot: GateSnapshot?

    // The request being handled.
    private var clientHead: HTTPRequestHead?
    private var verifiedClaims: TokenClaims?
    /// Set when the request is a logout at the gate: what to revoke before forwarding.
    private var logoutRevocations: [LogoutPlan.Revocation] = []
    private var upstreamHead: HTTPRequestHead?
    private var buffered = CircularBuffer<HTTPClientRequestPart>(initialCapacity: 4)
    private var requestEnded = false
    private var requestBodySent = false
    private var retried = false
    private var discardedBytes = 0

    /// After a denial, this much of the request body is read and dropped to keep the
    /// connection; a larger body closes it instead.
    private static let discardLimit = 64 * 1024
    private static let failOpenWarning = RateLimitedWarning()

    // Its upstream side.
    private var upstream: UpstreamConnection?
    private var responseStarted = false
    private var upstreamKeepAlive = true
    private var responseStatus = 0
    /// When the current request's upstream must have answered; nil when nothing is awaited.
    private var responseDeadline: NIODeadline?
    /// When the request head being received must be complete: set at accept, and when bytes
    /// arrive on an idle connection; nil once the head is in.
    private var headDeadline: NIODeadline?
    /// When the client last sent something, or a wait on it began: an idle keep-alive connection
    /// and a request body being read are closed `idleTimeout` after it (see `activityDeadline`).
    private var lastActivity = NIODeadline.uptimeNanoseconds(0)
    /// Set when a request part was delivered since the last read completed; a read that delivered
    /// none while idle has begun the next head.
    private var partsDelivered = false
    /// The one pending timer of this connection; see the type's comment.
    private var timer: Scheduled<Void>?
    private var timerFiresAt: NIODeadline?
    private var upstreamNeedsFlush = false
    private var clientNeedsFlush = false

    // Backpressure on the client's reads.
    private var readsPaused = false
    private var readPending = false

    /// Parts of requests after the current one (pipelining), in arrival order.
    private var pipelined = CircularBuffer<HTTPServerRequestPart>(initialCapacity: 2)
    private var takingPipelined = false
    /// A malformed request after the one in progress: answered once that one's answer is out.
    private var queuedParserError: HTTPParserError?
    /// Set by a graceful shutdown: close after the current response instead of keeping alive.
    private var quiescing = false

    init(snapshots: GateSnapshotBox, pool: UpstreamConnectionPool, tokenCache: VerifiedTokenCache,
         limits: ClientConnectionLimits, metrics: ProxyMetrics, logger: Logger) {
        self.limits = limits
        self.metrics = metrics
        self.snapshots = snapshots
        self.pool = pool
        self.tokenCache = tokenCache
        self.logger = logger
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        clientAddress = context.channel.remoteAddress?.ipAddress
        metrics.openConnections.increment()
        // The first request head is due `headerReadTimeout` after accept.
        lastActivity = .now()
        headDeadline = lastActivity + limits.headerReadTimeout
        rearmTimer(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partsDelivered = true
        let part = unwrapInboundIn(data)
        // The current request is complete and its answer not yet: this belongs to the next one.
        if !pipelined.isEmpty || (requestEnded && phase != .idle) {
            if phase != .closing { pipelined.append(part) }
            return
        }
        handle(part, context: context)
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            headDeadline = nil
            guard phase == .idle else {
                context.close(promise: nil)
                return
            }
            begin(head)
        case .body(let body):
            switch phase {
            case .awaitingVerdict, .connecting:
                buffered.append(.body(.byteBuffer(body)))
            case .forwarding:
                guard let upstream else { return }
                requestBodySent = true
                upstream.write(.body(.byteBuffer(body)))
                upstreamNeedsFlush = true
                if !upstream.channel.isWritable { pauseClientReads() }
            case .answeredLocally:
                discardedBytes += body.readableBytes
                if discardedBytes > Self.discardLimit {
                    phase = .closing
                    context.close(promise: nil)
                }
            case .idle, .closing:
                break
            }
        case .end(let trailers):
            requestEnded = true
            switch phase {
            case .awaitingVerdict, .connecting:
                buffered.append(.end(trailers))
            case .forwarding:
                guard let upstream else { return }
                upstream.write(.end(trailers))
                upstream.flush()
                upstreamNeedsFlush = false
            case .answeredLocally:
                finishLocalAnswer()
            case .idle, .closing:
                break
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if upstreamNeedsFlush, let upstream {
            upstreamNeedsFlush = false
            upstream.flush()
        }
        // Bytes came in. The clock is read only where a deadline depends on it: a head begun on
        // an idle connection, or a request body still arriving (not for a whole request in one read).
        switch phase {
        case .idle where !partsDelivered && headDeadline == nil:
            headDeadline = .now() + limits.headerReadTimeout
            rearmTimer(context: context)
        case .forwarding where !requestEnded, .answeredLocally where !requestEnded:
            lastActivity = .now()
        default:
            break
        }
        partsDelivered = false
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let upstream {
            upstream.handler.resumeReads(context: upstream.context)
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if readsPaused || !pipelined.isEmpty {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        metrics.openConnections.decrement()
        phase = .closing
        cancelTimeout()
        timer?.cancel()
        timer = nil
        timerFiresAt = nil
        if let upstream {
            self.upstream = nil
            upstream.handler.receiver = nil
            upstream.close()
        }
        buffered.removeAll()
        pipelined.removeAll()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        // Graceful shutdown: an idle connection closes now, a busy one after its current answer.
        quiescing = true
        if phase == .idle, pipelined.isEmpty {
            phase = .closing
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let parserError = error as? HTTPParserError else {
            logger.debug("client connection error", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        if !pipelined.isEmpty || (requestEnded && phase != .idle && phase != .closing) {
            queuedParserError = parserError
            return
        }
        // A malformed request can't be forwarded or answered in order after a response has started.
        guard !responseStarted, phase != .answeredLocally, phase != .closing else {
            context.close(promise: nil)
            return
        }
        detachUpstream(reuse: false)
        let renderer = (snapshot ?? snapshots.snapshot).renderer
        let answer = parserError == .headerOverflow ? renderer.headerTooLarge : renderer.badRequest
        answerLocally(answer, forceClose: true)
    }

    // MARK: The gate

    private func begin(_ head: HTTPRequestHead) {
        serial &+= 1
        requestStart = .now()
        clientHead = head
        verifiedClaims = nil
        logoutRevocations = []
        upstreamHead = nil
        requestEnded = false
        requestBodySent = false
        retried = false
        discardedBytes = 0
        responseStarted = false
        upstreamKeepAlive = true
        let snapshot = snapshots.snapshot
        self.snapshot = snapshot

        // Checked with the head size and field count (those in the decoder), before the gate.
        guard head.uri.utf8.count <= limits.maxURIBytes else {
            answerLocally(snapshot.renderer.uriTooLong, forceClose: true)
            return
        }
        // Only origin-form targets are forwarded verbatim; anything else is not ours to route.
        guard head.uri.utf8.first == UInt8(ascii: "/") else {
            answerLocally(snapshot.renderer.badRequest, forceClose: true)
            return
        }
        let target = RequestTarget(head.uri)
        let now = Date().timeIntervalSince1970
        let decision = snapshot.gate.decide(
            method: head.method.rawValue, target: target,
            headers: head.headers, now: now, cache: tokenCache)
        switch decision {
        case .forwardPublic:
            metrics.forwardedPublic.increment()
            forward()
        case .deny(let denial):
            deny(denial, jti: nil)
        case .denyScope(let refusal):
            deny(refusal.denial, jti: nil, answer: snapshot.renderer.rendering(refusal))
        case .checkRevocation(let token, let query):
            verifiedClaims = token.claims
            logoutRevocations = snapshot.logout.applies(to: target)
                ? snapshot.logout.revocations(token: token, query: query, headers: head.headers, gate: snapshot.gate, now: now)
                : []
            if let verdict = snapshot.store.immediateVerdict(query) {
                conclude(verdict)
            } else {
                askStore(snapshot.store, query)
            }
        }
    }

    private func askStore(_ store: RevocationStore, _ query: RevocationQuery) {
        guard let context else { return }
        phase = .awaitingVerdict
        pauseClientReads()
        let expected = serial
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        store.check(query) { verdict in
            if loop.inEventLoop {
                bound.value.storeAnswered(verdict, serial: expected)
            } else {
                loop.execute { bound.value.storeAnswered(verdict, serial: expected) }
            }
        }
    }

    private func storeAnswered(_ verdict: RevocationVerdict, serial answered: UInt64) {
        guard answered == serial, phase == .awaitingVerdict else { return }
        conclude(verdict)
    }

    private func conclude(_ verdict: RevocationVerdict) {
        guard let snapshot else { return }
        if verdict == .unavailable { metrics.storeLookupErrors.increment() }
        switch snapshot.gate.conclude(verdict) {
        case .forward where !logoutRevocations.isEmpty:
            // Counted once the revocation is stored: forwarded then, denied (503) if it fails.
            revokeForLogout(snapshot.store)
        case .forward:
            metrics.forwarded.increment()
            forward()
        case .forwardFailOpen where !logoutRevocations.isEmpty:
            // fail_mode: open admits requests, but a logout still needs its revocation stored.
            revokeForLogout(snapshot.store)
        case .forwardFailOpen:
            metrics.forwardedFailOpen.increment()
            if let suppressed = Self.failOpenWarning.admit() {
                logger.warning("revocation store unavailable; request let through (fail_mode: open)",
                               metadata: ["jti": "\(verifiedClaims?.jti ?? "-")", "similar_since_last": "\(suppressed)"])
            }
            forward()
        case .deny(let denial):
            deny(denial, jti: verifiedClaims?.jti)
        }
    }

    /// Logout at the gate: revoke, then forward so the application's own logout runs too.
    /// The store writes off the event loop (they may fsync or wait for Redis); a logout whose
    /// revocation cannot be stored is answered 503, never forwarded as if it had worked.
    private func revokeForLogout(_ store: RevocationStore) {
        guard let context else { return }
        phase = .awaitingVerdict
        pauseClientReads()
        let expected = serial
        let revocations = logoutRevocations
        logoutRevocations = []
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.completeWithTask {
            for revocation in revocations {
                switch revocation {
                case .jti(let jti, let expiresAt):
                    _ = try await store.revoke(jti: jti, expiresAt: expiresAt, reason: "logout")
                case .rawToken(let token, let expiresAt):
                    _ = try await store.revoke(rawToken: token, expiresAt: expiresAt, reason: "logout")
                }
            }
        }
        promise.futureResult.assumeIsolated().whenComplete { result in
            guard expected == self.serial, self.phase == .awaitingVerdict else { return }
            switch result {
            case .success:
                self.metrics.forwarded.increment()
                self.forward()
            case .failure(let error):
                self.logger.error("logout revocation could not be stored", metadata: ["error": "\(error)"])
                self.deny(.storeUnavailable, jti: self.verifiedClaims?.jti)
            }
        }
    }

    // MARK: Forwarding

    private func forward() {
        guard let snapshot, let clientHead else { return }
        upstreamHead = snapshot.forwardedHead.make(
            from: clientHead, clientAddress: clientAddress, claims: verifiedClaims, plan: snapshot.gate.claimHeaders)
        if let connection = pool.takeIdle() {
            attach(connection)
        } else {
            connectUpstream()
        }
    }

    private func connectUpstream() {
        phase = .connecting
        pauseClientReads()
        let expected = serial
        pool.connect().assumeIsolated().whenComplete { result in
            switch result {
            case .success(let connection):
                guard expected == self.serial, self.phase == .connecting else {
                    connection.close()
                    return
                }
                self.attach(connection)
            case .failure(let error):
                guard expected == self.serial, self.phase == .connecting else { return }
                self.logger.debug("upstream connect failed", metadata: ["error": "\(error)"])
                self.deny(.upstreamUnavailable, jti: self.verifiedClaims?.jti)
            }
        }
    }

    private func attach(_ connection: UpstreamConnection) {
        guard let context, let upstreamHead, let snapshot else { return }
        phase = .forwarding
        upstream = connection
        connection.handler.receiver = self
        connection.handler.resumeReads(context: connection.context)
        connection.write(.head(upstreamHead))
        while let part = buffered.popFirst() {
            if case .body = part { requestBodySent = true }
            connection.write(part)
        }
        connection.flush()
        upstreamStart = .now()
        // The rest of the body (if any) is read from here on: a stall is measured from now.
        lastActivity = upstreamStart
        if connection.channel.isWritable { resumeClientReads() } else { pauseClientReads() }
        responseDeadline = upstreamStart + snapshot.upstreamTimeout
        rearmTimer(context: context)
    }

    /// Makes sure the timer fires no later than the earliest deadline; usually it already does.
    private func rearmTimer(context: ChannelHandlerContext) {
        guard let deadline = earliestDeadline else { return }
        if let firesAt = timerFiresAt, firesAt <= deadline { return }
        timer?.cancel()
        scheduleTimer(at: deadline, context: context)
    }

    private var earliestDeadline: NIODeadline? {
        func earlier(_ a: NIODeadline?, _ b: NIODeadline?) -> NIODeadline? {
            guard let a else { return b }
            guard let b else { return a }
            return min(a, b)
        }
        return earlier(earlier(responseDeadline, headDeadline), activityDeadline)
    }

    /// When the client's silence ends the connection: idle between requests, or while a request
    /// body is being read. Not while reads are paused for the upstream: that wait is not the client's.
    private var activityDeadline: NIODeadline? {
        switch phase {
        case .idle where headDeadline == nil:
            lastActivity + limits.idleTimeout
        case .forwarding where !requestEnded && !readsPaused, .answeredLocally where !requestEnded && !readsPaused:
            lastActivity + limits.idleTimeout
        default:
            nil
        }
    }

    private func scheduleTimer(at deadline: NIODeadline, context: ChannelHandlerContext) {
        timerFiresAt = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.timerFired()
        }
    }

    private func timerFired() {
        timer = nil
        timerFiresAt = nil
        guard let context, phase != .closing else { return }
        let now = NIODeadline.now()
        if let deadline = responseDeadline, deadline <= now {
            responseDeadline = nil
            if phase == .forwarding, !responseStarted {
                detachUpstream(reuse: false)
                deny(.upstreamTimeout, jti: verifiedClaims?.jti)
            }
        }
        if let deadline = headDeadline, deadline <= now, phase == .idle {
            headReadTimedOut(context: context)
            return
        }
        if let deadline = activityDeadline, deadline <= now {
            let idle = phase == .idle
            (idle ? metrics.idleTimeouts : metrics.bodyStallTimeouts).increment()
            logger.debug(idle ? "idle client connection closed" : "request body stalled; connection closed",
                         metadata: ["client": "\(clientAddress ?? "-")"])
            phase = .closing
            context.close(promise: nil)
            return
        }
        rearmTimer(context: context)
    }

    /// The head did not arrive in time (a slowloris, or a client that never sent one). No request
    /// reached the HTTP layers, so the 408 is written as bytes below them, then the connection closes.
    private func headReadTimedOut(context: ChannelHandlerContext) {
        metrics.headerReadTimeouts.increment()
        logger.debug("request head not complete in time; 408", metadata: ["client": "\(clientAddress ?? "-")"])
        phase = .closing
        headDeadline = nil
        guard let encoder = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self) else {
            context.close(promise: nil)
            return
        }
        encoder.writeAndFlush(NIOAny(DenialRenderer.requestTimeoutWire)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    // MARK: UpstreamResponseReceiver

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        guard let context, phase == .forwarding else { return }
        switch part {
        case .head(let head):
            if head.status.code < 200 && head.status.code != 101 {
                // 100 Continue and friends go to the client, which may be waiting to send its body.
                context.write(wrapOutboundOut(.head(HopByHop.filterResponse(head))), promise: nil)
                clientNeedsFlush = true
                return
            }
            cancelTimeout()
            responseStarted = true
            responseStatus = Int(head.status.code)
            metrics.recordUpstreamStatus(head.status.code)
            metrics.upstreamDuration.recordNanoseconds((NIODeadline.now() - upstreamStart).nanoseconds)
            upstreamKeepAlive = head.isKeepAlive
            var response = HopByHop.filterResponse(head)
            if let clientHead, clientHead.version.minor == 0 {
                // An HTTP/1.0 client can't read chunked framing: end the body by closing.
                response.version = clientHead.version
                response.headers.remove(name: "transfer-encoding")
                response.headers.replaceOrAdd(name: "connection", value: "close")
            } else if quiescing || !(clientHead?.isKeepAlive ?? false) || !requestEnded {
                response.headers.replaceOrAdd(name: "connection", value: "close")
            }
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            clientNeedsFlush = true
        case .body(let body):
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            clientNeedsFlush = true
            if !context.channel.isWritable {
                // Pause before flushing: the flush may make the channel writable again, and
                // that event must find the pause in place to lift it.
                upstream?.handler.pauseReads()
                clientNeedsFlush = false
                context.flush()
            }
        case .end(let trailers):
            responseEnded(trailers)
        }
    }

    func upstreamReadComplete() {
        if clientNeedsFlush, let context {
            clientNeedsFlush = false
            context.flush()
        }
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable {
            // The body's reading starts again: its stall is measured from now.
            if readsPaused { lastActivity = .now() }
            resumeClientReads()
            if let context { rearmTimer(context: context) }
        } else {
            pauseClientReads()
        }
    }

    func upstreamFailed(_ error: Error) {
        guard phase == .forwarding, let failed = upstream else { return }
        upstream = nil
        cancelTimeout()
        if responseStarted {
            // Part of the response is already with the client: closing is the only honest signal.
            logger.debug("upstream failed mid-response", metadata: ["error": "\(error)"])
            context?.close(promise: nil)
            phase = .closing
            return
        }
        if failed.hasBeenUsed, !requestBodySent, !retried {
            // Most likely the upstream closed an idle keep-alive connection as we reused it.
            retried = true
            buffered.removeAll()
            if requestEnded { buffered.append(.end(nil)) }
            connectUpstream()
            return
        }
        logger.debug("upstream failed", metadata: ["error": "\(error)"])
        deny(.upstreamUnavailable, jti: verifiedClaims?.jti)
    }

    private func responseEnded(_ trailers: HTTPHeaders?) {
        guard let context else { return }
        logAccess(status: responseStatus, outcome: "forwarded", reason: nil)
        let closeClient = quiescing || !requestEnded || !(clientHead?.isKeepAlive ?? false) || clientHead?.version.minor == 0
        detachUpstream(reuse: requestEnded && upstreamKeepAlive)
        let now = NIODeadline.now()
        metrics.requestDuration.recordNanoseconds((now - requestStart).nanoseconds)
        phase = closeClient ? .closing : .idle
        clientNeedsFlush = false
        if closeClient {
            context.writeAndFlush(wrapOutboundOut(.end(trailers))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        } else {
            lastActivity = now
            context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
            resumeClientReads()
            takePipelined(context: context)
            if phase == .idle { rearmTimer(context: context) }
        }
    }

    // MARK: Local answers

    private func deny(_ denial: Denial, jti: String?, answer: DenialRenderer.Rendered? = nil) {
        guard let snapshot else { return }
        let answer = answer ?? snapshot.renderer.rendering(denial)
        metrics.recordDenied(denial, since: requestStart)
        logAccess(status: answer.head.status.code, outcome: "denied", reason: denial.errorType)
        detachUpstream(reuse: false)
        answerLocally(answer)
    }

    private func answerLocally(_ answer: DenialRenderer.Rendered, forceClose: Bool = false) {
        guard let context else { return }
        cancelTimeout()
        buffered.removeAll()
        // Close when a large body is still coming (reading it only to drop it costs both sides),
        // or when the client sent `Expect: 100-continue` and so will not send it at all.
        var close = forceClose || quiescing || !(clientHead?.isKeepAlive ?? false)
        if !close, !requestEnded, let headers = clientHead?.headers {
            let declared = headers.first(name: "content-length").flatMap { Int($0) } ?? 0
            let expectsContinue = headers.first(name: "expect")?.lowercased() == "100-continue"
            close = expectsContinue || declared > Self.discardLimit
        }
        var head = answer.head
        if let clientHead, clientHead.version.minor == 0 { head.version = clientHead.version }
        if close { head.headers.add(name: "Connection", value: "close") }
        let current = serial
        phase = close ? .closing : .answeredLocally
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(answer.body))), promise: nil)
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if close {
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        } else if serial == current, requestEnded {
            finishLocalAnswer()
        } else if serial == current {
            // The rest of the body is read and dropped, even when reads were paused for the
            // store or the upstream; a stall is measured from now.
            lastActivity = .now()
            resumeClientReads()
            rearmTimer(context: context)
        }
    }

    private func finishLocalAnswer() {
        guard phase == .answeredLocally, requestEnded, let context else { return }
        if quiescing {
            phase = .closing
            context.close(promise: nil)
            return
        }
        phase = .idle
        lastActivity = .now()
        resumeClientReads()
        takePipelined(context: context)
        if phase == .idle { rearmTimer(context: context) }
    }

    /// Hands queued parts of the next requests to the gate, as long as each is the current
    /// request's; then lets reading go on. Not re-entered: a request answered at once (a
    /// denial, a verdict from the embedded store) comes back here through the loop.
    private func takePipelined(context: ChannelHandlerContext) {
        guard !takingPipelined else { return }
        takingPipelined = true
        defer { takingPipelined = false }
        while let part = pipelined.first, phase != .closing, !(requestEnded && phase != .idle) {
            pipelined.removeFirst()
            if case .head = part { partsDelivered = true }
            handle(part, context: context)
        }
        if phase == .closing { pipelined.removeAll() }
        if pipelined.isEmpty, phase == .idle, let error = queuedParserError {
            queuedParserError = nil
            let renderer = (snapshot ?? snapshots.snapshot).renderer
            answerLocally(error == .headerOverflow ? renderer.headerTooLarge : renderer.badRequest, forceClose: true)
            return
        }
        if pipelined.isEmpty, !readsPaused, readPending {
            readPending = false
            context.read()
        }
    }

    // MARK: Helpers

    /// One line per request at debug level. The path only: a query may carry the token.
    private func logAccess(status: some BinaryInteger, outcome: String, reason: String?) {
        guard logger.logLevel <= .debug, let clientHead else { return }
        let path = RequestTarget(clientHead.uri).path
        logger.debug("access", metadata: [
            "http.method": "\(clientHead.method.rawValue)", "http.path": "\(path)", "http.status": "\(status)",
            "outcome": "\(outcome)", "reason": "\(reason ?? "-")", "jti": "\(verifiedClaims?.jti ?? "-")",
            "duration_ms": "\(Double((NIODeadline.now() - requestStart).nanoseconds) / 1e6)",
            "client": "\(clientAddress ?? "-")",
        ])
    }

    private func detachUpstream(reuse: Bool) {
        cancelTimeout()
        guard let connection = upstream else { return }
        upstream = nil
        connection.handler.receiver = nil
        if reuse {
            pool.release(connection)
        } else {
            connection.close()
        }
    }

    private func cancelTimeout() {
        responseDeadline = nil
    }

    private func pauseClientReads() {
        readsPaused = true
    }

    private func resumeClientReads() {
        guard readsPaused else { return }
        readsPaused = false
        if readPending, pipelined.isEmpty, let context {
            readPending = false
            context.read()
        }
    }
}

/// The client-side limits a connection enforces itself; head size and field count are the decoder's.
struct ClientConnectionLimits: Sendable {
    var maxURIBytes: Int
    var headerReadTimeout: TimeAmount
    var idleTimeout: TimeAmount
}
