import Logging
import NIOCore
import NIOPosix
import NIOSSL

struct RedisUnavailable: Error, CustomStringConvertible {
    var description: String
}

/// One Redis connection owned by one event loop, used only on that loop. Commands are written
/// as they come (pipelined), flushed once per loop tick, and replies are matched in order.
///
/// Never a hang: while not connected a command fails at once; when the oldest outstanding
/// command passes its deadline every outstanding command fails and the connection is
/// replaced (replies are ordered, so one stuck reply blocks all after it).
final class RedisConnection {
    struct Settings: Sendable {
        var host: String
        var port: Int
        var username: String?
        var password: String?
        var database: Int
        var timeout: TimeAmount
        var connectTimeout: TimeAmount = .seconds(1)
        /// Set for `rediss://`: the TLS context, built once for every connection.
        var tls: NIOSSLContext?
    }

    typealias Completion = (Result<RedisReply, Error>) -> Void

    private enum State {
        case idle
        case connecting
        case handshaking(Channel)
        case ready(Channel)
        case waitingToReconnect
        case shutDown
    }

    private struct Outstanding {
        var deadline: NIODeadline
        var completion: Completion
    }

    let eventLoop: EventLoop
    private let settings: Settings
    private let logger: Logger
    private var state = State.idle
    private var outstanding = CircularBuffer<Outstanding>(initialCapacity: 64)
    private var flushScheduled = false
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var backoff: TimeAmount = .milliseconds(50)
    private static let maxBackoff: TimeAmount = .seconds(1)

    init(eventLoop: EventLoop, settings: Settings, logger: Logger) {
        self.eventLoop = eventLoop
        self.settings = settings
        self.logger = logger
    }

    var isReady: Bool {
        if case .ready = state { return true }
        return false
    }

    func start() {
        if case .idle = state { connect() }
    }

    func shutdown() {
        let channel: Channel?
        switch state {
        case .ready(let c), .handshaking(let c): channel = c
        default: channel = nil
        }
        state = .shutDown
        timer?.cancel()
        failAll(RedisUnavailable(description: "shutting down"))
        channel?.close(promise: nil)
    }

    /// Sends one command; `completion` runs on this loop exactly once.
    func send(_ arguments: [String], completion: @escaping Completion) {
        guard case .ready(let channel) = state else {
            completion(.failure(RedisUnavailable(description: "not connected to Redis")))
            return
        }
        write(arguments, on: channel, completion: completion)
    }

    private func write(_ arguments: [String], on channel: Channel, completion: @escaping Completion) {
        var buffer = channel.allocator.buffer(capacity: 64)
        RedisCommand.encode(arguments, into: &buffer)
        let deadline = NIODeadline.now() + settings.timeout
        outstanding.append(Outstanding(deadline: deadline, completion: completion))
        channel.write(buffer, promise: nil)
        if !flushScheduled {
            flushScheduled = true
            // Every command issued during this loop tick leaves in one write.
            eventLoop.assumeIsolated().execute {
                self.flushScheduled = false
                channel.flush()
            }
        }
        if timerDeadline == nil { armTimer(at: deadline) }
    }

    // MARK: From the channel handler

    func received(_ reply: RedisReply) {
        guard let first = outstanding.popFirst() else {
            logger.warning("Redis sent a reply nobody asked for; reconnecting")
            dropConnection()
            return
        }
        first.completion(.success(reply))
    }

    func protocolFailure(_ error: Error) {
        logger.error("Redis protocol error; reconnecting", metadata: ["error": "\(error)"])
        dropConnection()
    }

    func channelClosed() {
        // Only a connection that was live needs a reconnect; a dropped one has one scheduled.
        switch state {
        case .ready, .handshaking:
            failAll(RedisUnavailable(description: "the Redis connection closed"))
            scheduleReconnect()
        default:
            break
        }
    }

    // MARK: Connecting

    private func connect() {
        state = .connecting
        let handlerLogger = logger
        let tls = settings.tls
        // SNI and certificate checks use the host name; an IP literal is checked against the certificate's IP SANs.
        let serverHostname = settings.host.contains(where: \.isLetter) ? settings.host : nil
        ClientBootstrap(group: eventLoop)
            .connectTimeout(settings.connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls, serverHostname: serverHostname))
                    }
                    try channel.pipeline.syncOperations.addHandler(RedisChannelHandler(logger: handlerLogger))
                }
            }
            .connect(host: settings.host, port: settings.port)
            .assumeIsolated()
            .whenComplete { result in
                guard case .connecting = self.state else {
                    if case .success(let channel) = result { channel.close(promise: nil) }
                    return
                }
                switch result {
                case .success(let channel):
                    self.handshake(channel)
                case .failure(let error):
                    self.logger.debug("cannot connect to Redis", metadata: ["error": "\(error)"])
                    self.scheduleReconnect()
                }
            }
    }

    /// AUTH and SELECT before the connection takes lookups.
    private func handshake(_ channel: Channel) {
        guard let handler = try? channel.pipeline.syncOperations.handler(type: RedisChannelHandler.self) else {
            channel.close(promise: nil)
            scheduleReconnect()
            return
        }
        handler.connection = self
        state = .handshaking(channel)
        var steps: [[String]] = []
        if let password = settings.password {
            steps.append(settings.username.map { ["AUTH", $0, password] } ?? ["AUTH", password])
        }
        if settings.database != 0 { steps.append(["SELECT", String(settings.database)]) }
        steps.append(["PING"])
        runHandshake(steps[...], on: channel)
    }

    private func runHandshake(_ steps: ArraySlice<[String]>, on channel: Channel) {
        guard let step = steps.first else {
            state = .ready(channel)
            backoff = .milliseconds(50)
            logger.info("connected to Redis", metadata: ["redis": "\(settings.host):\(settings.port)/\(settings.database)"])
            return
        }
        write(step, on: channel) { result in
            switch result {
            case .success(.error(let message)):
                self.logger.error("Redis refused \(step[0])", metadata: ["error": "\(message)"])
                self.dropConnection()
            case .success:
                self.runHandshake(steps.dropFirst(), on: channel)
            case .failure:
                break
            }
        }
    }

    private func scheduleReconnect() {
        if case .shutDown = state { return }
        state = .waitingToReconnect
        let delay = backoff
        backoff = min(backoff * 2, Self.maxBackoff)
        eventLoop.assumeIsolated().scheduleTask(in: delay) {
            if case .waitingToReconnect = self.state { self.connect() }
        }
    }

    private func dropConnection() {
        switch state {
        case .ready(let channel), .handshaking(let channel):
            failAll(RedisUnavailable(description: "the Redis connection was dropped"))
            state = .waitingToReconnect
            channel.close(promise: nil)
            scheduleReconnect()
        default:
            failAll(RedisUnavailable(description: "the Redis connection was dropped"))
        }
    }

    private func failAll(_ error: Error) {
        let failed = outstanding
        outstanding.removeAll()
        for entry in failed { entry.completion(.failure(error)) }
    }

    // MARK: Deadlines

    /// One timer at a time, at the oldest outstanding command's deadline.
    private func armTimer(at deadline: NIODeadline) {
        timerDeadline = deadline
        timer = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { self.timerFired() }
    }

    private func timerFired() {
        timer = nil
        timerDeadline = nil
        guard let oldest = outstanding.first else { return }
        if oldest.deadline > NIODeadline.now() {
            armTimer(at: oldest.deadline)
            return
        }
        logger.warning("Redis did not answer within revocation.timeout; reconnecting",
                       metadata: ["outstanding": "\(outstanding.count)"])
        dropConnection()
    }
}

/// Parses replies with hiredis's reader and hands them to the connection in order.
final class RedisChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    weak var connection: RedisConnection?
    private let reader = RedisReplyReader()
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        do {
            try buffer.withUnsafeReadableBytes { try reader.feed($0) }
            while let reply = try reader.next() {
                connection?.received(reply)
            }
        } catch {
            connection?.protocolFailure(error)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection?.channelClosed()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
