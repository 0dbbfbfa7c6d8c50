import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// `revocation.redis_sentinels`: finds the master through Redis Sentinel and follows failovers.
///
/// - Before every connection attempt the connections ask `resolve`: the master last announced
///   by a Sentinel (`+switch-master`, for a short while), else `SENTINEL
///   get-master-addr-by-name` on each Sentinel in turn, each with a short timeout.
/// - The connections confirm `ROLE` is `master` after every connect, and find the master again
///   on `READONLY`, `LOADING` or a lost connection (see `RedisConnection`).
/// - A subscriber on every Sentinel (at least two, when two are configured) listens for
///   `+switch-master` and moves every connection to the new master at once.
final class RedisSentinel: RedisAddressSource, RedisCompanion, Sendable {
    struct Settings: Sendable {
        var sentinels: [RedisAddress]
        var masterName: String
        var password: String?
        var tls: NIOSSLContext?
        var queryTimeout: TimeAmount = .milliseconds(500)
        /// How long an announced master is preferred over asking the Sentinels again: a
        /// Sentinel that has not heard of the switch yet would still name the old master.
        var announcementLifetime: TimeAmount = .seconds(30)
    }

    private struct State {
        var announced: (address: RedisAddress, at: NIODeadline)?
        var subscribers: [Channel] = []
        weak var connections: RedisConnectionSet?
        var stopped = false
    }

    private let settings: Settings
    private let eventLoop: EventLoop
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    init(settings: Settings, eventLoop: EventLoop, logger: Logger) {
        self.settings = settings
        self.eventLoop = eventLoop
        self.logger = logger
    }

    var confirmsMasterRole: Bool { true }

    // MARK: Finding the master

    func resolve(on loop: EventLoop) -> EventLoopFuture<RedisAddress> {
        let now = NIODeadline.now()
        let announced = state.withLockedValue { state -> RedisAddress? in
            guard let announced = state.announced, now - announced.at < settings.announcementLifetime else {
                state.announced = nil
                return nil
            }
            return announced.address
        }
        if let announced { return loop.makeSucceededFuture(announced) }
        return ask(settings.sentinels[...], on: loop, problems: [])
    }

    /// A connection found this node is not the master (any more): ask the Sentinels again.
    func notMaster(_ address: RedisAddress) {
        state.withLockedValue { state in
            if state.announced?.address == address { state.announced = nil }
        }
    }

    private func ask(_ sentinels: ArraySlice<RedisAddress>, on loop: EventLoop,
                     problems: [String]) -> EventLoopFuture<RedisAddress> {
        guard let sentinel = sentinels.first else {
            return loop.makeFailedFuture(RedisUnavailable(
                description: "no Sentinel named master \(settings.masterName): \(problems.joined(separator: "; "))"))
        }
        var commands: [[String]] = []
        if let password = settings.password { commands.append(["AUTH", password]) }
        commands.append(["SENTINEL", "get-master-addr-by-name", settings.masterName])
        return RedisOneShot.run(commands, at: sentinel, on: loop, tls: settings.tls, timeout: settings.queryTimeout)
            .flatMapThrowing { replies -> RedisAddress in
                if case .error(let message) = replies.first { throw RedisUnavailable(description: "refused: \(message)") }
                guard case .array(let parts) = replies.last, parts.count == 2,
                      let host = parts[0].text, let portText = parts[1].text, let port = Int(portText)
                else { throw RedisUnavailable(description: "does not know master \(self.settings.masterName)") }
                return RedisAddress(host: host, port: port)
            }
            .flatMapError { error in
                self.ask(sentinels.dropFirst(), on: loop, problems: problems + ["\(sentinel): \(error)"])
            }
    }

    // MARK: Following failovers

    func start(_ set: RedisConnectionSet) {
        state.withLockedValue { $0.connections = set }
        for sentinel in settings.sentinels {
            eventLoop.execute { self.subscribe(to: sentinel) }
        }
    }

    func stop() async {
        let channels = state.withLockedValue { state -> [Channel] in
            state.stopped = true
            defer { state.subscribers = [] }
            return state.subscribers
        }
        for channel in channels { try? await channel.close() }
    }

    private func subscribe(to sentinel: RedisAddress) {
        guard !state.withLockedValue({ $0.stopped }) else { return }
        RedisChannel.connect(to: sentinel, on: eventLoop, tls: settings.tls, connectTimeout: settings.queryTimeout)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    self.listen(on: channel, sentinel: sentinel)
                case .failure(let error):
                    self.logger.debug("cannot reach Sentinel", metadata: ["redis.sentinel": "\(sentinel)", "error": "\(error)"])
                    self.resubscribe(to: sentinel)
                }
            }
    }

    private func listen(on channel: Channel, sentinel: RedisAddress) {
        let registered = state.withLockedValue { state -> Bool in
            guard !state.stopped else { return false }
            state.subscribers.append(channel)
            return true
        }
        guard registered, let handler = try? channel.pipeline.syncOperations.handler(type: RedisChannelHandler.self) else {
            channel.close(promise: nil)
            return
        }
        let masterName = settings.masterName
        var refused = false
        handler.onReply = { reply in
            switch reply {
            case .error(let message):
                // A wrong redis_sentinel_password, most likely: ask again, but not in a tight loop.
                self.logger.error("Sentinel refused the subscription", metadata: ["redis.sentinel": "\(sentinel)", "error": "\(message)"])
                refused = true
                channel.close(promise: nil)
            case .array(let parts) where parts.count == 3 && parts[0].text == "message":
                // "<master name> <old ip> <old port> <new ip> <new port>"
                guard let words = parts[2].text?.split(separator: " "), words.count == 5, words[0] == masterName,
                      let port = Int(words[4])
                else { return }
                self.announce(RedisAddress(host: String(words[3]), port: port), by: sentinel)
            default:
                break
            }
        }
        handler.onClose = {
            self.state.withLockedValue { state in state.subscribers.removeAll { $0 === channel } }
            self.resubscribe(to: sentinel, after: refused ? .seconds(5) : .milliseconds(500))
        }
        var buffer = channel.allocator.buffer(capacity: 128)
        if let password = settings.password { RedisCommand.encode(["AUTH", password], into: &buffer) }
        RedisCommand.encode(["SUBSCRIBE", "+switch-master"], into: &buffer)
        channel.writeAndFlush(buffer, promise: nil)
    }

    private func resubscribe(to sentinel: RedisAddress, after delay: TimeAmount = .milliseconds(500)) {
        guard !state.withLockedValue({ $0.stopped }) else { return }
        eventLoop.assumeIsolated().scheduleTask(in: delay) { self.subscribe(to: sentinel) }
    }

    private func announce(_ address: RedisAddress, by sentinel: RedisAddress) {
        let connections = state.withLockedValue { state -> RedisConnectionSet? in
            let known = state.announced?.address == address
            state.announced = (address, NIODeadline.now())
            return known ? nil : state.connections
        }
        guard let connections else { return }
        logger.warning("Sentinel announced a new Redis master", metadata: [
            "redis.sentinel": "\(sentinel)", "redis.master": "\(address)", "redis.master_name": "\(settings.masterName)"])
        connections.masterChanged(to: address)
    }
}
