import Logging
import NIOCore
import NIOPosix
import NIOSSL

struct RedisUnavailable: Error, CustomStringConvertible {
    var description: String
}

/// Where a connection goes, asked before every connection attempt: a fixed address for a
/// standalone Redis, the current master for Sentinel.
protocol RedisAddressSource: Sendable {
    /// Completes on any thread; the connection hops back to its loop.
    func resolve(on loop: EventLoop) -> EventLoopFuture<RedisAddress>
    /// When true the handshake sends `ROLE` and refuses a node that is not a master.
    var confirmsMasterRole: Bool { get }
    /// The node at `address` turned out not to be the master (`ROLE`, `READONLY`).
    func notMaster(_ address: RedisAddress)
}

extension RedisAddressSource {
    func notMaster(_ address: RedisAddress) {}
}

struct FixedRedisAddress: RedisAddressSource {
    var address: RedisAddress

    func resolve(on loop: EventLoop) -> EventLoopFuture<RedisAddress> { loop.makeSucceededFuture(address) }
    var confirmsMasterRole: Bool { false }
}

/// One Redis connection owned by one event loop, used only on that loop. Commands are written
/// as they come (pipelined), flushed once per loop tick, and replies are matched in order.
///
/// Never a hang: while not connected a command fails at once; when the oldest outstanding
/// command passes its deadline every outstanding command fails and the connection is
/// replaced (replies are ordered, so one stuck reply blocks all after it).
///
/// The connection's life is `RedisConnectionStateMachine`; this class carries out its actions
/// (sockets, timers, the queue of outstanding commands).
final class RedisConnection {
    struct Settings: Sendable {
        var username: String?
        var password: String?
        var database: Int
        var timeout: TimeAmount
        var connectTimeout: TimeAmount = .seconds(1)
        /// Set for `rediss://`: the TLS context, built once for every connection.
        var tls: NIOSSLContext?
        /// A name for logs: which of the store's connections this is.
        var role = "lookup"

        func withRole(_ role: String) -> Settings {
            var copy = self
            copy.role = role
            return copy
        }
    }

    typealias Completion = (Result<RedisReply, Error>) -> Void

    private struct Outstanding {
        var deadline: NIODeadline
        var completion: Completion
    }

    let eventLoop: EventLoop
    private let settings: Settings
    private let source: RedisAddressSource
    private let logger: Logger
    private var machine = RedisConnectionStateMachine()
    private var channel: Channel?
    private var outstanding = CircularBuffer<Outstanding>(initialCapacity: 64)
    private var flushScheduled = false
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var reconnectTimer: Scheduled<Void>?
    private var keepAliveTask: Scheduled<Void>?

    /// Called on this loop each time the connection becomes ready, with the node it is on.
    var onReady: ((RedisAddress) -> Void)?
    /// Called on this loop each time the connection is dropped or shut down (it may not have
    /// been ready: consumers treat it as "whatever depended on this connection is gone").
    var onLost: (() -> Void)?
    /// Pub/sub messages (`message` arrays), which answer no command.
    var onPush: ((RedisReply) -> Void)?
    /// While ready, a `PING` every `interval` that must be answered within `timeout` (or the
    /// connection's own timeout, when shorter): a connection silent for longer is dropped even
    /// when it has nothing else to do.
    var keepAlive: (interval: TimeAmount, timeout: TimeAmount)?

    init(eventLoop: EventLoop, settings: Settings, source: RedisAddressSource, logger: Logger) {
        self.eventLoop = eventLoop
        self.settings = settings
        self.source = source
        self.logger = logger
    }

    var isReady: Bool { machine.isReady }

    /// The node this connection is on (or connecting to).
    var address: RedisAddress? { machine.address }

    func start() { perform(machine.start()) }

    func shutdown() { perform(machine.shutdown()) }

    /// The topology moved (a new master was announced): reconnect unless already there.
    func addressChanged(to address: RedisAddress) { perform(machine.addressChanged(to: address)) }

    /// Sends one command; `completion` runs on this loop exactly once.
    func send(_ arguments: [String], timeout: TimeAmount? = nil, completion: @escaping Completion) {
        guard machine.isReady, let channel else {
            completion(.failure(RedisUnavailable(description: "not connected to Redis")))
            return
        }
        write(arguments, on: channel, timeout: timeout, completion: completion)
    }

    /// Sends the commands back to back (one write, one round trip); replies in order. A Redis
    /// error reply is part of the result, not a failure. `completion` runs once, on this loop.
    func send(_ commands: [[String]], timeout: TimeAmount? = nil,
              completion: @escaping (Result<[RedisReply], Error>) -> Void) {
        guard !commands.isEmpty else {
            completion(.success([]))
            return
        }
        guard machine.isReady, let channel else {
            // Only request lookups wait: the admin, invalidation and tracking set-up commands
            // keep failing at once and are retried by their owners once the connection is up.
            if settings.role == "lookup", !everReady, !machine.isShutDown, held.count < Self.maxHeld {
                // The first connection is still being made (just after start): wait for it,
                // as long as a command may wait for an answer, instead of failing at once.
                hold(commands, timeout: timeout, completion: completion)
                return
            }
            completion(.failure(RedisUnavailable(description: "not connected to Redis")))
            return
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        var failed = false
        for arguments in commands {
            write(arguments, on: channel, timeout: timeout) { result in
                switch result {
                case .success(let reply):
                    replies.append(reply)
                    if replies.count == commands.count { completion(.success(replies)) }
                case .failure(let error):
                    // The connection fails every outstanding command at once: answer once.
                    if !failed { completion(.failure(error)) }
                    failed = true
                }
            }
        }
    }

    private func write(_ arguments: [String], on channel: Channel, timeout: TimeAmount? = nil,
                       completion: @escaping Completion) {
        var buffer = channel.allocator.buffer(capacity: 64)
        RedisCommand.encode(arguments, into: &buffer)
        let deadline = NIODeadline.now() + (timeout ?? settings.timeout)
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

    // MARK: Carrying out the state machine's actions

    private func perform(_ action: RedisConnectionStateMachine.Action) {
        switch action {
        case .none:
            break
        case .resolve:
            resolve()
        case .connect(let address):
            connect(to: address)
        case .startHandshake:
            startHandshake()
        case .becameReady(let address):
            startKeepAlive()
            everReady = true
            let waiting = held
            held.removeAll()
            for entry in waiting { send(entry.commands, timeout: entry.timeout, completion: entry.completion) }
            onReady?(address)
            logger.info("connected to Redis", metadata: [
                "redis.node": "\(address)", "redis.db": "\(settings.database)", "redis.connection": "\(settings.role)"])
        case .dropAndReconnect(let reason, let delay):
            logger.debug("Redis connection dropped", metadata: ["reason": "\(reason)", "redis.connection": "\(settings.role)"])
            keepAliveTask?.cancel()
            keepAliveTask = nil
            closeChannel()
            failAll(RedisUnavailable(description: reason))
            onLost?()
            reconnectTimer =  eventLoop.assumeIsolated().scheduleTask(in: delay) {
                self.reconnectTimer = nil
                self.perform(self.machine.reconnectTimerFired())
            }
        case .retryNow:
            reconnectTimer?.cancel()
            reconnectTimer = nil
            resolve()
        case .closeStrayChannel:
            break
        case .shutDown:
            reconnectTimer?.cancel()
            timer?.cancel()
            keepAliveTask?.cancel()
            keepAliveTask = nil
            closeChannel()
            failAll(RedisUnavailable(description: "shutting down"))
            onLost?()
        }
    }

    private func closeChannel() {
        guard let channel else { return }
        self.channel = nil
        if let handler = try? channel.pipeline.syncOperations.handler(type: RedisChannelHandler.self) {
            handler.detach()
        }
        channel.close(promise: nil)
    }

    private func resolve() {
        source.resolve(on: eventLoop).hop(to: eventLoop).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let address):
                self.perform(self.machine.resolved(address))
            case .failure(let error):
                self.logger.debug("cannot find the Redis node", metadata: ["error": "\(error)"])
                self.perform(self.machine.resolveFailed("\(error)"))
            }
        }
    }

    private func connect(to address: RedisAddress) {
        RedisChannel.connect(to: address, on: eventLoop, tls: settings.tls, connectTimeout: settings.connectTimeout)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    let action = self.machine.connected(to: address)
                    if case .closeStrayChannel = action {
                        channel.close(promise: nil)
                        return
                    }
                    self.attach(channel)
                    self.perform(action)
                case .failure(let error):
                    self.logger.debug("cannot connect to Redis", metadata: ["redis.node": "\(address)", "error": "\(error)"])
                    self.perform(self.machine.connectFailed("\(error)"))
                }
            }
    }

    private func attach(_ channel: Channel) {
        guard let handler = try? channel.pipeline.syncOperations.handler(type: RedisChannelHandler.self) else {
            channel.close(promise: nil)
            return
        }
        self.channel = channel
        handler.onReply = { [weak self] reply in self?.received(reply) }
        handler.onFailure = { [weak self] error in
            guard let self else { return }
            self.logger.error("Redis protocol error; reconnecting", metadata: ["error": "\(error)"])
            self.perform(self.machine.failed("protocol error: \(error)"))
        }
        handler.onClose = { [weak self] in
            guard let self, self.channel === channel else { return }
            self.channel = nil
            self.perform(self.machine.channelClosed())
        }
    }

    private func startKeepAlive() {
        guard let keepAlive else { return }
        keepAliveTask?.cancel()
        keepAliveTask = eventLoop.assumeIsolated().scheduleTask(in: keepAlive.interval) {
            self.keepAliveTask = nil
            guard self.machine.isReady, let channel = self.channel else { return }
            // Never a deadline later than the connection's own: only the oldest outstanding
            // command's deadline is watched, and a lookup behind the ping must not wait longer.
            self.write(["PING"], on: channel, timeout: min(keepAlive.timeout, self.settings.timeout)) { _ in }
            self.startKeepAlive()
        }
    }

    private func received(_ reply: RedisReply) {
        if let onPush, case .array(let parts) = reply, parts.count == 3, parts[0].text == "message" {
            onPush(reply)
            return
        }
        guard let first = outstanding.popFirst() else {
            logger.warning("Redis sent a reply nobody asked for; reconnecting")
            perform(machine.failed("unexpected reply"))
            return
        }
        first.completion(.success(reply))
        // A demoted master (READONLY), a node still loading its data (LOADING), or a master that
        // lost its own replicas' quorum (MASTERDOWN): find the master again.
        if case .error(let message) = reply, Self.meansWrongNode(message), machine.isReady {
            logger.warning("Redis node cannot serve; finding the master again", metadata: ["error": "\(message)"])
            if message.hasPrefix("READONLY"), let address = machine.address { source.notMaster(address) }
            perform(machine.failed(message))
        }
    }

    static func meansWrongNode(_ message: String) -> Bool {
        message.hasPrefix("READONLY") || message.hasPrefix("LOADING") || message.hasPrefix("MASTERDOWN")
    }

    // MARK: Handshake

    /// AUTH and SELECT (and ROLE, when the topology asks) before the connection takes commands.
    private func startHandshake() {
        guard let channel else { return }
        var steps: [[String]] = []
        if let password = settings.password {
            steps.append(settings.username.map { ["AUTH", $0, password] } ?? ["AUTH", password])
        }
        if settings.database != 0 { steps.append(["SELECT", String(settings.database)]) }
        if source.confirmsMasterRole { steps.append(["ROLE"]) }
        // Lets an operator tell Portcullis's connections apart in `CLIENT LIST` (not required:
        // a refusal, from an ACL for instance, is ignored).
        steps.append(["CLIENT", "SETNAME", "portcullis-\(settings.role)"])
        steps.append(["PING"])
        runHandshake(steps[...], on: channel)
    }

    private func runHandshake(_ steps: ArraySlice<[String]>, on channel: Channel) {
        guard let step = steps.first else {
            perform(machine.handshakeSucceeded())
            return
        }
        write(step, on: channel) { result in
            switch result {
            case .success(.error) where step[0] == "CLIENT":
                self.runHandshake(steps.dropFirst(), on: channel)
            case .success(.error(let message)):
                self.logger.error("Redis refused \(step[0])", metadata: ["error": "\(message)"])
                self.perform(self.machine.failed("\(step[0]) refused: \(message)"))
            case .success(let reply) where step[0] == "ROLE":
                guard case .array(let parts) = reply, parts.first?.text == "master" else {
                    self.logger.warning("Redis node is not a master; finding the master again",
                                        metadata: ["redis.node": "\(self.machine.address.map(\.description) ?? "?")"])
                    if let address = self.machine.address { self.source.notMaster(address) }
                    self.perform(self.machine.failed("not a master"))
                    return
                }
                self.runHandshake(steps.dropFirst(), on: channel)
            case .success:
                self.runHandshake(steps.dropFirst(), on: channel)
            case .failure:
                break
            }
        }
    }

    private func failAll(_ error: Error) {
        let failed = outstanding
        outstanding.removeAll()
        for entry in failed { entry.completion(.failure(error)) }
        let waiting = held
        held.removeAll()
        for entry in waiting { entry.completion(.failure(error)) }
    }

    // MARK: Before the first connection

    private struct Held {
        var commands: [[String]]
        var timeout: TimeAmount?
        var deadline: NIODeadline
        var completion: (Result<[RedisReply], Error>) -> Void
    }

    /// Lookups that arrived before the first connection was ready (only then: once it has been
    /// ready, a command on a lost connection fails at once, so a failover is answered 503).
    private var held: [Held] = []
    private var everReady = false
    private static let maxHeld = 4096

    private func hold(_ commands: [[String]], timeout: TimeAmount?,
                      completion: @escaping (Result<[RedisReply], Error>) -> Void) {
        let wait = timeout ?? settings.timeout
        held.append(Held(commands: commands, timeout: timeout, deadline: .now() + wait, completion: completion))
        eventLoop.assumeIsolated().scheduleTask(in: wait) { self.expireHeld() }
    }

    private func expireHeld() {
        let now = NIODeadline.now()
        let expired = held.filter { $0.deadline <= now }
        guard !expired.isEmpty else { return }
        held.removeAll { $0.deadline <= now }
        for entry in expired { entry.completion(.failure(RedisUnavailable(description: "not connected to Redis yet"))) }
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
                       metadata: ["outstanding": "\(outstanding.count)", "redis.connection": "\(settings.role)"])
        perform(machine.failed("timeout"))
    }
}

/// Opening a channel to one Redis node: TCP (with TLS for `rediss://`) and the RESP handler.
enum RedisChannel {
    static func connect(to address: RedisAddress, on loop: EventLoop, tls: NIOSSLContext?,
                        connectTimeout: TimeAmount) -> EventLoopFuture<Channel> {
        // SNI and certificate checks use the host name; an IP literal is checked against the certificate's IP SANs.
        let serverHostname = address.host.contains(where: \.isLetter) ? address.host : nil
        return ClientBootstrap(group: loop)
            .connectTimeout(connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls, serverHostname: serverHostname))
                    }
                    try channel.pipeline.syncOperations.addHandler(RedisChannelHandler())
                }
            }
            .connect(host: address.host, port: address.port)
    }
}

/// Parses replies with hiredis's reader and hands them on in order. Only carries bytes: what
/// a reply means is the owner's business (`onReply`, set on the channel's loop).
final class RedisChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    var onReply: ((RedisReply) -> Void)?
    var onFailure: ((Error) -> Void)?
    var onClose: (() -> Void)?
    private let reader = RedisReplyReader()

    /// The owner let go of this channel: nothing more reaches it.
    func detach() {
        onReply = nil
        onFailure = nil
        onClose = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        do {
            try buffer.withUnsafeReadableBytes { try reader.feed($0) }
            while let reply = try reader.next() {
                onReply?(reply)
            }
        } catch {
            onFailure?(error)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let onClose = self.onClose
        detach()
        onClose?()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
