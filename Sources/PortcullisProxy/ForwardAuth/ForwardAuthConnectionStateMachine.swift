import NIOCore

/// One forward-auth connection: request heads framed by the proxy's parser, each answered by
/// a verdict, bodies discarded (an ingress has no reason to send one, but one sent must not be
/// read as the next request). Requests are answered in order; a pipelined one waits in the
/// buffer until the one before it is answered and its body is gone.
///
/// A value type that returns actions, like `ProxyConnectionStateMachine`; the handler carries
/// them out and feeds back the verdict.
struct ForwardAuthConnectionStateMachine {
    struct Configuration {
        var maxHeaderBytes: Int
        var requestParser: RequestHeadParser
        /// Answers that close the connection: a head that cannot be parsed, one too large, a
        /// target too long, a chunked body that cannot be framed.
        var badRequest: ByteBuffer
        var headerTooLarge: ByteBuffer
        var uriTooLong: ByteBuffer
    }

    enum Action {
        /// Judge this request and call `answered` with the serial it had.
        case decide(RequestHead, ByteBuffer)
        case write(ByteBuffer)
        /// Write the bytes, when given, then close.
        case close(ByteBuffer?)
    }

    private enum Body {
        case done
        case length(remaining: Int)
        case chunked(ChunkedBodyScanner)
    }

    private enum State {
        /// Waiting for a complete head.
        case reading
        /// The verdict is being worked out; the body is discarded meanwhile.
        case deciding(Body)
        /// The verdict is written; the rest of the body is discarded before the next request.
        case answered(Body)
        case closed
    }

    let configuration: Configuration
    private var state = State.reading
    private var inbound: ByteBuffer?
    private var headScanned = 0
    private var fieldStorage: [HeaderField] = []
    private var actions: [Action] = []
    private var actionIndex = 0
    /// The request in progress ends the connection (`Connection: close`, HTTP/1.0, an unread
    /// `Expect: 100-continue` body, or a graceful shutdown).
    private(set) var closesAfterAnswer = false
    private var quiescing = false
    /// Changes with every request, so a verdict that arrives late is recognised as stale.
    private(set) var serial = 0

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    mutating func nextAction() -> Action? {
        guard actionIndex < actions.count else {
            actions.removeAll(keepingCapacity: true)
            actionIndex = 0
            return nil
        }
        defer { actionIndex += 1 }
        return actions[actionIndex]
    }

    /// Reading stops while a verdict is pending and a full head's worth of bytes waits.
    var readsAllowed: Bool {
        switch state {
        case .closed: false
        case .reading: true
        case .deciding, .answered: (inbound?.readableBytes ?? 0) < configuration.maxHeaderBytes
        }
    }

    var isIdle: Bool {
        if case .reading = state, inbound == nil { return true }
        return false
    }

    mutating func read(_ bytes: ByteBuffer) {
        guard !isClosed else { return }
        if var buffer = inbound {
            var bytes = bytes
            buffer.writeBuffer(&bytes)
            inbound = buffer
        } else {
            inbound = bytes
        }
        process()
    }

    /// The verdict for the request `serial` names, as wire bytes (composed for
    /// `closesAfterAnswer`).
    mutating func answered(_ answer: ByteBuffer, serial: Int) {
        guard serial == self.serial, case .deciding(let body) = state else { return }
        if closesAfterAnswer {
            close(with: answer)
            return
        }
        actions.append(.write(answer))
        state = .answered(body)
        process()
    }

    /// Graceful shutdown: an idle connection closes now, a busy one after its answer.
    mutating func quiesce() {
        quiescing = true
        closesAfterAnswer = true
        if isIdle { close(with: nil) }
    }

    mutating func closed() {
        state = .closed
        inbound = nil
    }

    private var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    private mutating func process() {
        while true {
            switch state {
            case .closed:
                return
            case .reading:
                guard startRequest() else { return }
            case .deciding(var body):
                _ = discard(&body)
                guard !isClosed else { return }
                state = .deciding(body)
                return
            case .answered(var body):
                let done = discard(&body)
                guard !isClosed else { return }
                guard done else {
                    state = .answered(body)
                    return
                }
                if closesAfterAnswer {
                    close(with: nil)
                    return
                }
                state = .reading
            }
        }
    }

    /// Parses the next head once it is complete; true when a request started (or the
    /// connection closed on a bad one) and the loop should go on.
    private mutating func startRequest() -> Bool {
        guard var buffer = inbound else { return false }
        if headScanned == 0 {
            // Empty lines before a request line are ignored (RFC 9112 §2.2).
            while let byte = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
                  byte == HTTPBytes.cr || byte == HTTPBytes.lf {
                buffer.moveReaderIndex(forwardBy: 1)
            }
        }
        guard buffer.readableBytes > 0 else {
            inbound = nil
            if quiescing { close(with: nil) }
            return false
        }
        let scanFrom = max(headScanned - 3, 0)
        guard let end = buffer.withUnsafeReadableBytes({ HTTPBytes.headEnd(in: $0, from: scanFrom) }) else {
            inbound = buffer
            headScanned = buffer.readableBytes
            if buffer.readableBytes > configuration.maxHeaderBytes { close(with: configuration.headerTooLarge) }
            return false
        }
        headScanned = 0
        guard end <= configuration.maxHeaderBytes else {
            close(with: configuration.headerTooLarge)
            return false
        }
        let headBytes = buffer.readSlice(length: end)!
        inbound = buffer.readableBytes > 0 ? buffer : nil
        var storage = fieldStorage
        let head: RequestHead
        do {
            head = try headBytes.withUnsafeReadableBytes { raw throws(RequestHeadError) in
                try configuration.requestParser.parse(raw, fields: &storage)
            }
        } catch {
            switch error {
            case .tooLarge: close(with: configuration.headerTooLarge)
            case .uriTooLong: close(with: configuration.uriTooLong)
            case .malformed: close(with: configuration.badRequest)
            }
            return false
        }
        fieldStorage = storage
        serial &+= 1
        let body: Body
        switch head.framing {
        case .none: body = .done
        case .length(let length): body = .length(remaining: length)
        case .chunked: body = .chunked(ChunkedBodyScanner())
        }
        // A client waiting for 100 Continue may never send its body: answer, then close.
        let unsentBody = head.expectsContinue && head.framing != .none
        closesAfterAnswer = !head.keepAlive || head.minorVersion == 0 || unsentBody || quiescing
        state = .deciding(body)
        actions.append(.decide(head, headBytes))
        return true
    }

    /// Drops body bytes from `inbound`; true once the body is complete.
    private mutating func discard(_ body: inout Body) -> Bool {
        switch body {
        case .done:
            return true
        case .length(let remaining):
            guard var buffer = inbound else { return false }
            let taken = min(remaining, buffer.readableBytes)
            buffer.moveReaderIndex(forwardBy: taken)
            inbound = buffer.readableBytes > 0 ? buffer : nil
            body = remaining == taken ? .done : .length(remaining: remaining - taken)
            return remaining == taken
        case .chunked(var scanner):
            guard var buffer = inbound else { return false }
            switch buffer.withUnsafeReadableBytes({ scanner.scan($0) }) {
            case .needMore:
                inbound = nil
                body = .chunked(scanner)
                return false
            case .complete(let used):
                buffer.moveReaderIndex(forwardBy: used)
                inbound = buffer.readableBytes > 0 ? buffer : nil
                body = .done
                return true
            case .malformed:
                let unanswered: Bool
                if case .deciding = state { unanswered = true } else { unanswered = false }
                close(with: unanswered ? configuration.badRequest : nil)
                return false
            }
        }
    }

    private mutating func close(with bytes: ByteBuffer?) {
        state = .closed
        inbound = nil
        actions.append(.close(bytes))
    }
}
