import NIOCore
import PortcullisCore

/// One client connection of the proxy, as a value that takes events (bytes from either side,
/// the gate's verdict, an upstream connection, the timer) and queues actions for the channel
/// handler to carry out. It owns the HTTP/1.1 framing of both sides: the request head is
/// parsed in place, the request body and the response are relayed as the bytes that arrived,
/// and only the heads are rewritten. No clock is read here: every event that needs the time
/// carries it.
///
/// Requests on one connection are handled one at a time. Bytes of a pipelined next request
/// stay in `inbound`, and reading pauses until the current response has ended.
///
/// A WebSocket handshake that the upstream answers `101` turns the connection into a tunnel:
/// from then on bytes go both ways unchanged, each side's reads paused while the other cannot
/// take more, until either side closes, the token expires, or a recheck refuses it.
struct ProxyConnectionStateMachine {
    struct Configuration {
        var maxHeaderBytes: Int
        var requestParser: RequestHeadParser
        var responseParser = ResponseHeadParser(maxFields: 256)
        var maxResponseHeadBytes = 64 * 1024
        var headerReadTimeout: TimeAmount
        var idleTimeout: TimeAmount
        /// `proxy.max_body_bytes`; 0: no limit.
        var maxBodyBytes = 0
        /// After a denial, this much of the request body is read and dropped to keep the
        /// connection; a larger body closes it instead.
        var discardLimit = 64 * 1024
        /// `proxy.websockets`: a WebSocket handshake is forwarded with its upgrade, and a 101
        /// to it opens a tunnel.
        var webSockets = true
        /// `proxy.tunnel_recheck_interval`.
        var tunnelRecheckInterval: TimeAmount = .seconds(30)
    }

    enum Action {
        /// Run the gate on `currentRequest`; answer with `requestAdmitted`, `requestDenied` or
        /// `requestPending`. (No payload: actions stay small, they are copied through a queue.)
        case decide
        /// Take an idle upstream connection or open one; answer with `upstreamAttached` or `upstreamConnectFailed`.
        case acquireUpstream
        /// Open a new upstream connection (the retry after a reused one failed).
        case connectUpstream
        case writeUpstream(ByteBuffer)
        case flushUpstream
        case releaseUpstream
        case closeUpstream
        case pauseUpstreamReads
        case resumeUpstreamReads
        case writeClient(ByteBuffer)
        case flushClient
        /// Flush what was written (plus these bytes), then close the client connection.
        case closeClient(ByteBuffer?)
        /// Reads of the client may go on (a read held back may be issued).
        case resumeClientReads
        case scheduleTimer(NIODeadline)
        /// The exchange ended: for metrics and the access log.
        case exchangeEnded(status: Int, forwarded: Bool)
        /// A connection-level event worth counting.
        case count(Event)
        /// Ask the handler to report an upstream failure as this denial (502/504).
        case upstreamFailed(Denial)
        /// The 101 is on its way to the client and the connection is a tunnel now: register it,
        /// then answer `tunnelArmed`.
        case tunnelOpened
        /// Check the tunnel's token again; answer `tunnelRecheckPassed` or `tunnelTokenRefused`.
        case recheckTunnel
    }

    enum Event: Equatable {
        case headerReadTimeout, idleTimeout, bodyStallTimeout, malformedRequest, malformedResponse
        /// A request body over `proxy.max_body_bytes` (answered 413).
        case bodyTooLarge
        /// A tunnel ended (both its connections are being closed), and why.
        case tunnelClosed(TunnelEnd)
    }

    private enum State {
        case idle
        case active(Exchange)
        /// Bytes relayed both ways after a 101; no more requests on this connection.
        case tunnel
        case closed
        /// Only while an exchange is taken out to be changed in place.
        case modifying
    }

    private enum Phase: Equatable {
        /// The gate or the store has not decided yet; the body waits in `inbound`, reads paused.
        case deciding
        /// Waiting for an upstream connection; the body waits in `inbound`, reads paused.
        case connecting
        case forwarding
        /// A local answer (denial) was written; the rest of the body is read and dropped.
        case answered
    }

    private enum RequestBody {
        case done
        case length(remaining: Int)
        case chunked(ChunkedBodyScanner)
    }

    private enum Response {
        case awaitingHead
        case relaying(ResponseRelay)
    }

    private struct Exchange {
        var head: RequestHead
        var headBytes: ByteBuffer
        var phase: Phase
        var body: RequestBody
        var upstreamHead: ByteBuffer?
        var upstreamTimeout: TimeAmount = .seconds(30)
        var upstreamReused = false
        var bodySent = false
        var retried = false
        var discarded = 0
        /// Chunk data of a chunked request body relayed so far, for `maxBodyBytes`.
        var chunkedBodyBytes = 0
        var closeAfter: Bool
        var response = Response.awaitingHead
        var responseStarted = false
        var upstreamReusable = true
        var status = 0
        var requestIsHead: Bool
        /// A WebSocket handshake forwarded with its upgrade: a 101 to it opens a tunnel.
        var opensTunnel = false

        var bodyDone: Bool {
            if case .done = body { return true }
            return false
        }
    }

    let configuration: Configuration
    private var state = State.idle
    /// Client bytes read but not yet consumed: a partial head, a body waiting for the verdict,
    /// or a pipelined next request.
    private var inbound: ByteBuffer?
    /// Where the last search for the head's end stopped, so a slow head is not rescanned.
    private var headScanned = 0
    /// Upstream bytes of a response head not yet complete.
    private var upstreamInbound: ByteBuffer?
    /// The storage the last response head was written into, kept for the next one.
    private var responseHeadBuffer: ByteBuffer?
    private var deadlines: ConnectionDeadlines
    private var actions = CircularBuffer<Action>(initialCapacity: 16)
    private var fieldStorage: [HeaderField] = []
    private var responseFieldStorage: [HeaderField] = []
    private var readsPaused = false
    private var upstreamNeedsFlush = false
    private var clientNeedsFlush = false
    private var quiescing = false
    private let allocator = ByteBufferAllocator()
    /// The answers for errors found before a request is handed to the gate (400, 414, 431).
    var renderer: DenialRenderer
    /// Counts requests, so a late callback (store, connect) for an earlier one is told apart.
    private(set) var serial: UInt64 = 0

    init(configuration: Configuration, renderer: DenialRenderer, now: NIODeadline) {
        self.configuration = configuration
        self.renderer = renderer
        self.deadlines = ConnectionDeadlines(now: now, headerReadTimeout: configuration.headerReadTimeout,
                                             idleTimeout: configuration.idleTimeout)
        fieldStorage.reserveCapacity(32)
        responseFieldStorage.reserveCapacity(32)
        scheduleTimerIfNeeded()
    }

    mutating func nextAction() -> Action? { actions.popFirst() }

    var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    /// Whether a read of the client may be issued now.
    var readsAllowed: Bool { !readsPaused }

    /// The head of the request in progress, with its bytes (for logs).
    var currentRequest: (head: RequestHead, bytes: ByteBuffer)? {
        if case .active(let exchange) = state { return (exchange.head, exchange.headBytes) }
        return nil
    }

    /// Whether the request in progress is a WebSocket handshake to forward with its upgrade.
    var tunnelRequested: Bool {
        if case .active(let exchange) = state { return exchange.opensTunnel }
        return false
    }

    var isTunnel: Bool {
        if case .tunnel = state { return true }
        return false
    }

    // MARK: Client side

    mutating func clientRead(_ bytes: ByteBuffer, now: NIODeadline) {
        guard !isClosed else { return }
        if case .tunnel = state {
            actions.append(.writeUpstream(bytes))
            upstreamNeedsFlush = true
            return
        }
        if inbound == nil || inbound!.readableBytes == 0 {
            inbound = bytes
        } else {
            inbound!.writeImmutableBuffer(bytes)
        }
        deadlines.lastActivity = now
        process(now: now)
        scheduleTimerIfNeeded()
    }

    mutating func clientReadComplete() {
        if upstreamNeedsFlush {
            upstreamNeedsFlush = false
            actions.append(.flushUpstream)
        }
    }

    mutating func clientClosed() {
        if case .active(let exchange) = state, exchange.phase == .forwarding || exchange.phase == .connecting {
            actions.append(.closeUpstream)
        }
        if case .tunnel = state {
            actions.append(.count(.tunnelClosed(.client)))
            actions.append(.closeUpstream)
        }
        state = .closed
        inbound = nil
        upstreamInbound = nil
    }

    /// Graceful shutdown: an idle connection closes now, a busy one after its current answer,
    /// a tunnel now (it has no end the drain could wait for).
    mutating func quiesce() {
        quiescing = true
        if case .tunnel = state {
            endTunnel(.drain)
            return
        }
        if case .idle = state, (inbound?.readableBytes ?? 0) == 0 {
            close(with: nil)
        }
    }

    // MARK: The gate's verdict

    mutating func requestAdmitted(upstreamHead: ByteBuffer, upstreamTimeout: TimeAmount) {
        withExchange { $0.admit(&$1, upstreamHead: upstreamHead, upstreamTimeout: upstreamTimeout) }
    }

    /// The verdict needs the store (or a logout's revocation): wait, reading nothing meanwhile.
    mutating func requestPending() {
        readsPaused = true
    }

    mutating func requestDenied(_ answer: DenialRenderer.Rendered, now: NIODeadline) {
        guard case .active(let exchange) = state, exchange.phase == .deciding || exchange.phase == .connecting
                || (exchange.phase == .forwarding && !exchange.responseStarted)
        else { return }
        answerLocally(answer, forceClose: false, now: now)
        scheduleTimerIfNeeded()
    }

    // MARK: Upstream side

    mutating func upstreamAttached(reused: Bool, writable: Bool, now: NIODeadline) {
        withExchange { $0.attach(&$1, reused: reused, writable: writable, now: now) }
        scheduleTimerIfNeeded()
    }

    mutating func upstreamConnectFailed() {
        guard case .active(let exchange) = state, exchange.phase == .connecting else { return }
        actions.append(.upstreamFailed(.upstreamUnavailable))
    }

    mutating func upstreamWritabilityChanged(writable: Bool, now: NIODeadline) {
        if case .tunnel = state {
            if !writable {
                readsPaused = true
            } else if readsPaused {
                readsPaused = false
                actions.append(.resumeClientReads)
            }
            return
        }
        guard case .active(let exchange) = state, exchange.phase == .forwarding else { return }
        if writable, readsPaused { deadlines.lastActivity = now }
        updateReads(exchange, upstreamWritable: writable)
        scheduleTimerIfNeeded()
    }

    /// The client's socket can (not) take more: hold the upstream's reads back meanwhile.
    mutating func clientWritabilityChanged(writable: Bool) {
        if case .tunnel = state {
            actions.append(writable ? .resumeUpstreamReads : .pauseUpstreamReads)
            return
        }
        guard case .active(let exchange) = state, exchange.phase == .forwarding else { return }
        actions.append(writable ? .resumeUpstreamReads : .pauseUpstreamReads)
    }

    mutating func upstreamRead(_ bytes: ByteBuffer, now: NIODeadline) {
        if case .tunnel = state {
            writeToClient(bytes)
            return
        }
        withExchange { $0.receive(&$1, bytes: bytes, now: now) }
        scheduleTimerIfNeeded()
    }

    mutating func upstreamReadComplete() {
        if clientNeedsFlush {
            clientNeedsFlush = false
            actions.append(.flushClient)
        }
    }

    /// The upstream connection closed or failed; it is gone.
    mutating func upstreamClosed(now: NIODeadline) {
        if case .tunnel = state {
            actions.append(.count(.tunnelClosed(.upstream)))
            close(with: nil)
            return
        }
        withExchange { $0.upstreamGone(&$1, now: now) }
        scheduleTimerIfNeeded()
    }

    // MARK: Timer

    mutating func timerFired(now: NIODeadline) {
        deadlines.timerFired()
        guard !isClosed else { return }
        if case .tunnel = state {
            tunnelTimerFired(now: now)
            return
        }
        if let deadline = deadlines.response, deadline <= now {
            deadlines.response = nil
            if case .active(let exchange) = state, exchange.phase == .forwarding, !exchange.responseStarted {
                actions.append(.closeUpstream)
                upstreamInbound = nil
                actions.append(.upstreamFailed(.upstreamTimeout))
            }
        }
        if let deadline = deadlines.head, deadline <= now, case .idle = state {
            actions.append(.count(.headerReadTimeout))
            deadlines.head = nil
            close(with: DenialRenderer.requestTimeoutWire)
            return
        }
        if let deadline = deadlines.activity, deadline <= now {
            if case .idle = state {
                actions.append(.count(.idleTimeout))
            } else {
                actions.append(.count(.bodyStallTimeout))
            }
            close(with: nil)
            return
        }
        scheduleTimerIfNeeded()
    }

    /// The upstream failure the handler rendered: answer it if nothing of the response went out.
    mutating func answerUpstreamFailure(_ answer: DenialRenderer.Rendered, now: NIODeadline) {
        guard case .active(let exchange) = state else { return }
        guard !exchange.responseStarted else {
            close(with: nil)
            return
        }
        answerLocally(answer, forceClose: false, now: now)
        scheduleTimerIfNeeded()
    }

    // MARK: Tunnel

    /// The handler registered the tunnel: its token (when it came with one) is checked every
    /// `tunnelRecheckInterval`, and the tunnel closes at `tokenExpiresAt`.
    mutating func tunnelArmed(checksToken: Bool, tokenExpiresAt: NIODeadline?, now: NIODeadline) {
        guard case .tunnel = state else { return }
        if let tokenExpiresAt, tokenExpiresAt <= now {
            endTunnel(.expired)
            return
        }
        deadlines.tokenExpiry = tokenExpiresAt
        if checksToken { deadlines.tunnelRecheck = now + configuration.tunnelRecheckInterval }
        scheduleTimerIfNeeded()
    }

    /// The token passed a recheck; the next one is an interval from now. A recheck prompted by
    /// a revocation elsewhere leaves the pending schedule as it is.
    mutating func tunnelRecheckPassed(now: NIODeadline) {
        guard case .tunnel = state, deadlines.tunnelRecheck == nil else { return }
        deadlines.tunnelRecheck = now + configuration.tunnelRecheckInterval
        scheduleTimerIfNeeded()
    }

    /// The token is revoked, expired, or refused otherwise now: both connections close.
    mutating func tunnelTokenRefused(_ reason: TunnelEnd) {
        guard case .tunnel = state else { return }
        endTunnel(reason)
    }

    private mutating func tunnelTimerFired(now: NIODeadline) {
        if let expiry = deadlines.tokenExpiry, expiry <= now {
            deadlines.tokenExpiry = nil
            endTunnel(.expired)
            return
        }
        if let recheck = deadlines.tunnelRecheck, recheck <= now {
            deadlines.tunnelRecheck = nil
            actions.append(.recheckTunnel)
        }
        scheduleTimerIfNeeded()
    }

    /// The upstream switched to WebSocket: the 101 goes to the client, with whatever frames
    /// came after it, and so do frames the client sent early; from now on bytes are relayed.
    private mutating func openTunnel(_ exchange: inout Exchange, head: ResponseHead, headBytes: ByteBuffer,
                                     rest: ByteBuffer, now: NIODeadline) {
        deadlines.response = nil
        deadlines.head = nil
        deadlines.activityCounts = false
        var out = allocator.buffer(capacity: headBytes.readableBytes + 48)
        SwitchingProtocolsHead.write(head, bytes: headBytes, into: &out)
        actions.append(.writeClient(out))
        if rest.readableBytes > 0 { actions.append(.writeClient(rest)) }
        actions.append(.flushClient)
        clientNeedsFlush = false
        actions.append(.exchangeEnded(status: 101, forwarded: true))
        // A tunnel carries no more heads: their storage goes now, not with the connection.
        fieldStorage = []
        responseFieldStorage = []
        responseHeadBuffer = nil
        upstreamInbound = nil
        if quiescing {
            actions.append(.closeUpstream)
            close(with: nil)
            return
        }
        state = .tunnel
        if let early = inbound, early.readableBytes > 0 {
            actions.append(.writeUpstream(early))
            actions.append(.flushUpstream)
        }
        inbound = nil
        upstreamNeedsFlush = false
        actions.append(.tunnelOpened)
        if readsPaused {
            readsPaused = false
            actions.append(.resumeClientReads)
        }
    }

    private mutating func endTunnel(_ reason: TunnelEnd) {
        actions.append(.count(.tunnelClosed(reason)))
        actions.append(.closeUpstream)
        close(with: nil)
    }

    // MARK: Requests

    private mutating func process(now: NIODeadline) {
        switch state {
        case .idle:
            startRequest(now: now)
        case .active:
            withExchange { $0.continueExchange(&$1, now: now) }
        case .tunnel, .closed, .modifying:
            break
        }
    }

    /// Parses the next head out of `inbound`, once it is complete, and hands it to the gate.
    private mutating func startRequest(now: NIODeadline) {
        guard var buffer = inbound else {
            updateIdleDeadlines(now: now)
            return
        }
        // Empty lines before a request line are ignored (RFC 9112 §2.2).
        if headScanned == 0 {
            while let byte = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
                  byte == HTTPBytes.cr || byte == HTTPBytes.lf {
                buffer.moveReaderIndex(forwardBy: 1)
            }
        }
        guard buffer.readableBytes > 0 else {
            inbound = nil
            updateIdleDeadlines(now: now)
            return
        }
        let scanFrom = max(headScanned - 3, 0)
        let end = buffer.withUnsafeReadableBytes { HTTPBytes.headEnd(in: $0, from: scanFrom) }
        guard let end else {
            inbound = buffer
            if buffer.readableBytes > configuration.maxHeaderBytes {
                answerMalformed(renderer.headerTooLarge)
                return
            }
            headScanned = buffer.readableBytes
            if deadlines.head == nil { deadlines.head = now + configuration.headerReadTimeout }
            deadlines.activityCounts = false
            return
        }
        headScanned = 0
        guard end <= configuration.maxHeaderBytes else {
            inbound = buffer
            answerMalformed(renderer.headerTooLarge)
            return
        }
        let headBytes = buffer.readSlice(length: end)!
        inbound = buffer.readableBytes > 0 ? buffer : nil
        deadlines.head = nil
        deadlines.activityCounts = false
        var storage = fieldStorage
        fieldStorage = []
        let head: RequestHead
        do {
            head = try headBytes.withUnsafeReadableBytes { raw throws(RequestHeadError) in
                try configuration.requestParser.parse(raw, fields: &storage)
            }
        } catch {
            fieldStorage = storage
            switch error {
            case .tooLarge: answerMalformed(renderer.headerTooLarge)
            case .uriTooLong: answerMalformed(renderer.uriTooLong)
            case .malformed: answerMalformed(renderer.badRequest)
            }
            return
        }
        fieldStorage = storage
        // Only origin-form targets are ours to route; CONNECT and absolute or authority forms are not.
        let acceptable = headBytes.withUnsafeReadableBytes { raw in
            raw[head.target.lowerBound] == UInt8(ascii: "/") && !HTTPBytes.equalsIgnoringCase(raw, head.method, "connect")
        }
        serial &+= 1
        let requestIsHead = headBytes.withUnsafeReadableBytes { raw in
            head.method.count == 4 && raw[head.method.lowerBound] == UInt8(ascii: "H")
                && raw[head.method.lowerBound + 1] == UInt8(ascii: "E") && raw[head.method.lowerBound + 2] == UInt8(ascii: "A")
                && raw[head.method.lowerBound + 3] == UInt8(ascii: "D")
        }
        let body: RequestBody
        switch head.framing {
        case .none: body = .done
        case .length(let length): body = .length(remaining: length)
        case .chunked: body = .chunked(ChunkedBodyScanner())
        }
        state = .active(Exchange(head: head, headBytes: headBytes, phase: .deciding, body: body,
                                 closeAfter: !head.keepAlive || head.minorVersion == 0 || quiescing,
                                 requestIsHead: requestIsHead,
                                 opensTunnel: configuration.webSockets && head.upgradesToWebSocket))
        guard acceptable else {
            answerLocally(renderer.badRequest, forceClose: true, now: now)
            return
        }
        guard case .active(let exchange) = state, chunkedBodySoFarIsValid(exchange) else {
            answerMalformedBody()
            return
        }
        if configuration.maxBodyBytes > 0, case .length(let length) = head.framing, length > configuration.maxBodyBytes {
            // Refused before anything is forwarded; the body is not read (the connection closes).
            actions.append(.count(.bodyTooLarge))
            answerLocally(renderer.rendering(.payloadTooLarge), forceClose: true, now: now)
            return
        }
        readsPaused = true
        actions.append(.decide)
    }

    /// A head that cannot be parsed: answered, then the connection closes (what follows it
    /// cannot be framed).
    private mutating func answerMalformed(_ answer: DenialRenderer.Rendered) {
        actions.append(.count(.malformedRequest))
        if case .active = state {
            actions.append(.closeUpstream)
        }
        close(with: answer.close)
    }

    /// A chunked body is checked as far as it has arrived before anything is forwarded, so a
    /// malformed one that came with its head never reaches the upstream at all.
    private func chunkedBodySoFarIsValid(_ exchange: Exchange) -> Bool {
        guard case .chunked(var probe) = exchange.body, let inbound, inbound.readableBytes > 0 else { return true }
        if case .malformed = inbound.withUnsafeReadableBytes({ probe.scan($0) }) { return false }
        return true
    }

    private mutating func answerMalformedBody() {
        actions.append(.count(.malformedRequest))
        close(with: renderer.badRequest.close)
    }

    private mutating func updateIdleDeadlines(now: NIODeadline) {
        deadlines.activityCounts = deadlines.head == nil
    }

    /// Sends the request body that has arrived to the upstream, as it came.
    private mutating func pumpBody(_ exchange: inout Exchange, now: NIODeadline) {
        guard var buffer = inbound, buffer.readableBytes > 0 else { return }
        switch exchange.body {
        case .done:
            return
        case .length(let remaining):
            let take = min(remaining, buffer.readableBytes)
            actions.append(.writeUpstream(buffer.readSlice(length: take)!))
            exchange.bodySent = true
            exchange.body = take == remaining ? .done : .length(remaining: remaining - take)
        case .chunked(var scanner):
            var data = 0
            let result = buffer.withUnsafeReadableBytes { scanner.scan($0) { data += $0.count } }
            exchange.chunkedBodyBytes += data
            if configuration.maxBodyBytes > 0, exchange.chunkedBodyBytes > configuration.maxBodyBytes {
                // Cut at the limit: the upstream connection is dropped with the request incomplete.
                inbound = nil
                actions.append(.count(.bodyTooLarge))
                actions.append(.closeUpstream)
                exchange.phase = .connecting  // the upstream is gone; the answer replaces it
                if exchange.responseStarted {
                    close(with: nil)
                } else {
                    answer(&exchange, answer: renderer.rendering(.payloadTooLarge), forceClose: true, now: now)
                }
                return
            }
            switch result {
            case .needMore:
                actions.append(.writeUpstream(buffer.readSlice(length: buffer.readableBytes)!))
                exchange.body = .chunked(scanner)
            case .complete(let length):
                actions.append(.writeUpstream(buffer.readSlice(length: length)!))
                exchange.body = .done
            case .malformed:
                // The upstream has part of a request it must never see completed.
                inbound = nil
                actions.append(.count(.malformedRequest))
                actions.append(.closeUpstream)
                if exchange.responseStarted {
                    close(with: nil)
                } else {
                    close(with: renderer.badRequest.close)
                }
                return
            }
            exchange.bodySent = true
        }
        inbound = buffer.readableBytes > 0 ? buffer : nil
        upstreamNeedsFlush = true
        if exchange.bodyDone {
            actions.append(.flushUpstream)
            upstreamNeedsFlush = false
            deadlines.activityCounts = false
        }
    }

    /// Reads go on while a body is being relayed and the upstream can take it; they pause for a
    /// pipelined next request (its bytes wait in `inbound`).
    private mutating func updateReads(_ exchange: Exchange, upstreamWritable: Bool) {
        let pipelined = exchange.bodyDone && (inbound?.readableBytes ?? 0) > 0
        let shouldPause = pipelined || !upstreamWritable
        deadlines.activityCounts = !exchange.bodyDone && !shouldPause
        if shouldPause {
            readsPaused = true
        } else if readsPaused {
            readsPaused = false
            actions.append(.resumeClientReads)
        }
    }

    private mutating func discardBody(_ exchange: inout Exchange, now: NIODeadline) {
        if exchange.bodyDone {
            finishLocalAnswer(&exchange, now: now)
            return
        }
        guard var buffer = inbound, buffer.readableBytes > 0 else { return }
        switch exchange.body {
        case .done:
            break
        case .length(let remaining):
            let take = min(remaining, buffer.readableBytes)
            buffer.moveReaderIndex(forwardBy: take)
            exchange.discarded += take
            exchange.body = take == remaining ? .done : .length(remaining: remaining - take)
        case .chunked(var scanner):
            let result = buffer.withUnsafeReadableBytes { scanner.scan($0) }
            switch result {
            case .needMore:
                exchange.discarded += buffer.readableBytes
                buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                exchange.body = .chunked(scanner)
            case .complete(let length):
                exchange.discarded += length
                buffer.moveReaderIndex(forwardBy: length)
                exchange.body = .done
            case .malformed:
                close(with: nil)
                return
            }
        }
        inbound = buffer.readableBytes > 0 ? buffer : nil
        if exchange.discarded > configuration.discardLimit {
            close(with: nil)
            return
        }
        if exchange.bodyDone {
            finishLocalAnswer(&exchange, now: now)
        }
    }

    /// Writes a local answer (a denial, or an error of the exchange) in place of the upstream's.
    private mutating func answerLocally(_ answer: DenialRenderer.Rendered, forceClose: Bool, now: NIODeadline) {
        withExchange { $0.answer(&$1, answer: answer, forceClose: forceClose, now: now) }
    }

    private mutating func finishLocalAnswer(_ exchange: inout Exchange, now: NIODeadline) {
        if quiescing {
            close(with: nil)
            return
        }
        goIdle(recycling: &exchange, now: now)
    }

    // MARK: Responses

    /// Collects the response head; returns the bytes after it once it is complete and relayed.
    private mutating func receiveResponseHead(_ exchange: inout Exchange, _ bytes: ByteBuffer,
                                              now: NIODeadline) -> ByteBuffer? {
        var buffer: ByteBuffer
        if var pending = upstreamInbound {
            pending.writeImmutableBuffer(bytes)
            buffer = pending
        } else {
            buffer = bytes
        }
        while true {
            guard let end = buffer.withUnsafeReadableBytes({ HTTPBytes.headEnd(in: $0) }) else {
                if buffer.readableBytes > configuration.maxResponseHeadBytes {
                    upstreamProtocolError(&exchange)
                    return nil
                }
                upstreamInbound = buffer
                return nil
            }
            upstreamInbound = nil
            let headBytes = buffer.readSlice(length: end)!
            var storage = responseFieldStorage
            responseFieldStorage = []
            let parsed = headBytes.withUnsafeReadableBytes { raw in
                Result { () throws(ResponseHeadError) -> ResponseHead in
                    try configuration.responseParser.parse(raw, requestIsHead: exchange.requestIsHead, fields: &storage)
                }
            }
            responseFieldStorage = storage
            guard case .success(let head) = parsed else {
                upstreamProtocolError(&exchange)
                return nil
            }
            if head.status == 101 {
                // An upgrade nobody asked for (only a WebSocket handshake's is forwarded), or to
                // another protocol than the one asked for.
                guard exchange.opensTunnel, SwitchingProtocolsHead.upgradesToWebSocket(head, bytes: headBytes) else {
                    upstreamProtocolError(&exchange)
                    return nil
                }
                openTunnel(&exchange, head: head, headBytes: headBytes, rest: buffer, now: now)
                return nil
            }
            if head.status < 200 {
                // 100 Continue and friends go to the client, which may be waiting to send its body.
                if exchange.head.minorVersion == 1 {
                    var interim = allocator.buffer(capacity: headBytes.readableBytes)
                    ClientResponseHead.writeInterim(head, bytes: headBytes, into: &interim)
                    actions.append(.writeClient(interim))
                    clientNeedsFlush = true
                }
                responseFieldStorage = head.fields
                continue
            }
            let hasTransferCoding = head.fields.contains { field in
                headBytes.withUnsafeReadableBytes { HTTPBytes.equalsIgnoringCase($0, field.name, "transfer-encoding") }
            }
            var relay = ResponseRelay(head.framing, clientMinorVersion: exchange.head.minorVersion,
                                      upstreamHasTransferCoding: hasTransferCoding)
            // A chunked body whose first bytes arrived with the head is checked before the head
            // goes out, so a malformed one is still answered 502.
            if case .chunked(var probe) = relay, buffer.readableBytes > 0,
               case .malformed = buffer.withUnsafeReadableBytes({ probe.scan($0) }) {
                upstreamProtocolError(&exchange)
                return nil
            }
            if case .dechunked(var probe) = relay, buffer.readableBytes > 0,
               case .malformed = buffer.withUnsafeReadableBytes({ probe.scan($0) }) {
                upstreamProtocolError(&exchange)
                return nil
            }
            deadlines.response = nil
            exchange.responseStarted = true
            exchange.status = head.status
            // An upstream that saw an upgrade request and declined it is not trusted with another.
            exchange.upstreamReusable = head.keepAlive && !exchange.opensTunnel
            if !exchange.bodyDone || relay.closesClient { exchange.closeAfter = true }
            // The buffer of the previous head is reused: its write has completed by now, so
            // clearing it does not copy.
            var out = responseHeadBuffer ?? allocator.buffer(capacity: headBytes.readableBytes + 64)
            responseHeadBuffer = nil
            out.clear()
            ClientResponseHead.write(head, bytes: headBytes, clientMinorVersion: exchange.head.minorVersion,
                                     relay: relay, closeClient: exchange.closeAfter || quiescing, into: &out)
            if quiescing { exchange.closeAfter = true }
            responseFieldStorage = head.fields
            // A small body that came whole with the head goes out in the same buffer: one
            // write (and one system call) for the whole response.
            if case .length(let length) = relay, length <= Self.coalescedBodyLimit, buffer.readableBytes >= length {
                var body = buffer.readSlice(length: length)!
                out.writeBuffer(&body)
                if buffer.readableBytes > 0 { exchange.upstreamReusable = false }
                relay = .none
            }
            responseHeadBuffer = out
            actions.append(.writeClient(out))
            clientNeedsFlush = true
            exchange.response = .relaying(relay)
            if relay == .none {
                if buffer.readableBytes > 0 { exchange.upstreamReusable = false }
                finishResponse(&exchange, now: now, upstreamGone: false)
                return nil
            }
            return buffer
        }
    }

    /// Bodies up to this size that arrive with their head are copied behind it.
    static let coalescedBodyLimit = 16 * 1024

    private mutating func upstreamProtocolError(_ exchange: inout Exchange) {
        upstreamInbound = nil
        deadlines.response = nil
        actions.append(.count(.malformedResponse))
        actions.append(.closeUpstream)
        exchange.phase = .connecting  // no upstream any more; the failure answer replaces it
        actions.append(.upstreamFailed(.upstreamUnavailable))
    }

    private mutating func relay(_ exchange: inout Exchange, _ bytes: ByteBuffer, now: NIODeadline) {
        guard case .relaying(let relay) = exchange.response, bytes.readableBytes > 0 else { return }
        var bytes = bytes
        switch relay {
        case .none:
            exchange.upstreamReusable = false
        case .length(let remaining):
            let take = min(remaining, bytes.readableBytes)
            writeToClient(bytes.readSlice(length: take)!)
            if bytes.readableBytes > 0 { exchange.upstreamReusable = false }
            if take == remaining {
                finishResponse(&exchange, now: now, upstreamGone: false)
            } else {
                exchange.response = .relaying(.length(remaining: remaining - take))
            }
        case .chunked(var scanner):
            let result = bytes.withUnsafeReadableBytes { scanner.scan($0) }
            switch result {
            case .needMore:
                writeToClient(bytes)
                exchange.response = .relaying(.chunked(scanner))
            case .complete(let length):
                writeToClient(bytes.readSlice(length: length)!)
                if bytes.readableBytes > 0 { exchange.upstreamReusable = false }
                finishResponse(&exchange, now: now, upstreamGone: false)
            case .malformed:
                actions.append(.count(.malformedResponse))
                exchange.closeAfter = true
                finishTruncated()
            }
        case .dechunked(var scanner):
            var pieces = 0
            let result = bytes.withUnsafeReadableBytes { raw in
                scanner.scan(raw) { range in
                    pieces += 1
                    actions.append(.writeClient(bytes.getSlice(at: bytes.readerIndex + range.lowerBound,
                                                               length: range.count)!))
                }
            }
            if pieces > 0 { clientNeedsFlush = true }
            switch result {
            case .needMore:
                exchange.response = .relaying(.dechunked(scanner))
            case .complete:
                exchange.upstreamReusable = false
                finishResponse(&exchange, now: now, upstreamGone: false)
            case .malformed:
                actions.append(.count(.malformedResponse))
                finishTruncated()
            }
        case .reframed:
            var size = allocator.buffer(capacity: 18)
            ClientResponseHead.writeChunkSize(bytes.readableBytes, into: &size)
            writeToClient(size)
            writeToClient(bytes)
            var end = allocator.buffer(capacity: 2)
            end.writeStaticString("\r\n")
            writeToClient(end)
        case .untilClose:
            writeToClient(bytes)
        }
    }

    private mutating func writeToClient(_ bytes: ByteBuffer) {
        actions.append(.writeClient(bytes))
        clientNeedsFlush = true
    }

    /// The response is complete: the upstream connection goes back to the pool when it can carry
    /// another request, and the client's connection waits for the next one or closes.
    private mutating func finishResponse(_ exchange: inout Exchange, now: NIODeadline, upstreamGone: Bool) {
        if !upstreamGone {
            let reusable = exchange.upstreamReusable && exchange.bodyDone
            actions.append(reusable ? .releaseUpstream : .closeUpstream)
        }
        actions.append(.exchangeEnded(status: exchange.status, forwarded: true))
        clientNeedsFlush = false
        if exchange.closeAfter || quiescing || !exchange.bodyDone {
            close(with: nil)
            return
        }
        actions.append(.flushClient)
        goIdle(recycling: &exchange, now: now)
    }

    /// A response cut short (upstream closed or sent malformed framing mid-body).
    private mutating func finishTruncated() {
        actions.append(.closeUpstream)
        close(with: nil)
    }

    private mutating func goIdle(recycling exchange: inout Exchange, now: NIODeadline) {
        state = .modifying
        deadlines.lastActivity = now
        deadlines.response = nil
        exchange.upstreamHead = nil
        // The field storage goes back for the next head; the exchange is not used again.
        var fields = exchange.head.fields
        exchange.head.fields = []
        fields.removeAll(keepingCapacity: true)
        fieldStorage = fields
        state = .idle
        if readsPaused, (inbound?.readableBytes ?? 0) == 0 {
            readsPaused = false
            actions.append(.resumeClientReads)
        }
        if (inbound?.readableBytes ?? 0) > 0 {
            // A pipelined request: handled now; reading resumes once it is complete.
            pendingStart = true
        } else {
            deadlines.activityCounts = true
        }
    }

    /// Set when the connection went idle with a pipelined request waiting; it is started
    /// after the current event's work is done (never re-entering the exchange being finished).
    private var pendingStart = false

    private mutating func close(with bytes: ByteBuffer?) {
        if case .closed = state { return }
        state = .closed
        inbound = nil
        upstreamInbound = nil
        pendingStart = false
        actions.append(.closeClient(bytes))
    }

    /// Takes the exchange out of `state` so that it is changed in place, not copied; `body` gets
    /// the machine and the exchange. A body may end the exchange (idle) or the connection.
    private mutating func withExchange(_ body: (inout Self, inout Exchange) -> Void) {
        guard case .active(var exchange) = state else { return }
        state = .modifying
        body(&self, &exchange)
        if case .modifying = state { state = .active(exchange) }
        if pendingStart, case .idle = state {
            pendingStart = false
            startRequestFromPipeline()
        }
    }

    // MARK: Exchange steps (the exchange taken out of `state`)

    private mutating func admit(_ exchange: inout Exchange, upstreamHead: ByteBuffer, upstreamTimeout: TimeAmount) {
        guard exchange.phase == .deciding else { return }
        exchange.phase = .connecting
        exchange.upstreamHead = upstreamHead
        exchange.upstreamTimeout = upstreamTimeout
        actions.append(.acquireUpstream)
    }

    private mutating func attach(_ exchange: inout Exchange, reused: Bool, writable: Bool, now: NIODeadline) {
        guard exchange.phase == .connecting, let upstreamHead = exchange.upstreamHead else {
            actions.append(.releaseUpstream)
            return
        }
        exchange.phase = .forwarding
        exchange.upstreamReused = reused
        actions.append(.resumeUpstreamReads)
        actions.append(.writeUpstream(upstreamHead))
        pumpBody(&exchange, now: now)
        actions.append(.flushUpstream)
        upstreamNeedsFlush = false
        deadlines.response = now + exchange.upstreamTimeout
        // The rest of the body (if any) is read from here on: a stall is measured from now.
        deadlines.lastActivity = now
        updateReads(exchange, upstreamWritable: writable)
    }

    private mutating func receive(_ exchange: inout Exchange, bytes: ByteBuffer, now: NIODeadline) {
        guard exchange.phase == .forwarding else { return }
        var bytes = bytes
        if case .awaitingHead = exchange.response {
            guard let rest = receiveResponseHead(&exchange, bytes, now: now) else { return }
            bytes = rest
        }
        relay(&exchange, bytes, now: now)
    }

    private mutating func upstreamGone(_ exchange: inout Exchange, now: NIODeadline) {
        guard exchange.phase == .forwarding else { return }
        switch exchange.response {
        case .relaying(.reframed):
            var last = allocator.buffer(capacity: 5)
            last.writeStaticString("0\r\n\r\n")
            actions.append(.writeClient(last))
            exchange.upstreamReusable = false
            finishResponse(&exchange, now: now, upstreamGone: true)
        case .relaying(.untilClose):
            exchange.upstreamReusable = false
            exchange.closeAfter = true
            finishResponse(&exchange, now: now, upstreamGone: true)
        case .relaying:
            // Part of the response is with the client: closing is the only honest signal.
            exchange.closeAfter = true
            finishTruncated()
        case .awaitingHead:
            deadlines.response = nil
            let nothingReceived = (upstreamInbound?.readableBytes ?? 0) == 0
            upstreamInbound = nil
            if nothingReceived, exchange.upstreamReused, !exchange.bodySent, !exchange.retried {
                // Most likely the upstream closed an idle keep-alive connection as we reused it.
                exchange.retried = true
                exchange.phase = .connecting
                actions.append(.connectUpstream)
            } else {
                actions.append(.upstreamFailed(.upstreamUnavailable))
            }
        }
    }

    private mutating func continueExchange(_ exchange: inout Exchange, now: NIODeadline) {
            switch exchange.phase {
            case .deciding, .connecting:
                readsPaused = true
                if !chunkedBodySoFarIsValid(exchange) { answerMalformedBody() }
            case .forwarding:
                pumpBody(&exchange, now: now)
                updateReads(exchange, upstreamWritable: true)
            case .answered:
                discardBody(&exchange, now: now)
            }
        }

    private mutating func answer(_ exchange: inout Exchange, answer: DenialRenderer.Rendered, forceClose: Bool, now: NIODeadline) {
        if exchange.phase == .forwarding {
            actions.append(.closeUpstream)
            upstreamInbound = nil
        }
        deadlines.response = nil
        actions.append(.exchangeEnded(status: answer.status, forwarded: false))
        // Close when a large body is still coming (reading it only to drop it costs both sides),
        // or when the client sent `Expect: 100-continue` and so will not send it at all.
        var close = forceClose || exchange.closeAfter || quiescing
        if !close, !exchange.bodyDone {
            switch exchange.body {
            case .length(let remaining): close = exchange.head.expectsContinue || remaining > configuration.discardLimit
            default: close = exchange.head.expectsContinue
            }
        }
        if close {
            self.close(with: answer.close)
            return
        }
        actions.append(.writeClient(answer.keepAlive))
        actions.append(.flushClient)
        exchange.phase = .answered
        // The rest of the body is read and dropped; a stall is measured from now.
        deadlines.lastActivity = now
        discardBody(&exchange, now: now)
        // Unless that finished the exchange (or closed the connection), read on to drop the rest.
        if case .modifying = state, !exchange.bodyDone {
            updateReads(exchange, upstreamWritable: true)
        }
    }

    private mutating func startRequestFromPipeline() {
        let now = deadlines.lastActivity
        startRequest(now: now)
        if case .idle = state, readsPaused {
            readsPaused = false
            actions.append(.resumeClientReads)
        }
    }

    private mutating func scheduleTimerIfNeeded() {
        if let deadline = deadlines.timerToSchedule() {
            actions.append(.scheduleTimer(deadline))
        }
    }
}
