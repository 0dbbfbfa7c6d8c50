import NIOCore

/// A Redis node's address as the topology hands it to a connection.
struct RedisAddress: Hashable, Sendable, CustomStringConvertible {
    var host: String
    var port: Int

    var description: String { "\(host):\(port)" }
}

/// The life of one Redis connection as a value: the connection feeds it events and carries out
/// the action it returns. No socket in here, so every transition is plain to read (and to test).
///
///     idle ─start→ resolving ─resolved→ connecting ─connected→ handshaking ─done→ ready
///       any live state ─lost/refused/timeout/failover→ waitingToReconnect ─timer→ resolving
///       any state ─shutdown→ shutDown
///
/// `resolving` asks the topology where to go (a fixed address, or Sentinel's current master)
/// before every attempt, so a reconnect after a failover lands on the new master.
struct RedisConnectionStateMachine {
    enum State: Equatable {
        case idle
        case resolving
        case connecting(RedisAddress)
        case handshaking(RedisAddress)
        case ready(RedisAddress)
        case waitingToReconnect
        case shutDown
    }

    enum Action: Equatable {
        case none
        /// Ask the topology for the address to connect to.
        case resolve
        case connect(RedisAddress)
        /// AUTH, SELECT, ROLE, PING on the new channel.
        case startHandshake
        /// The connection takes commands from now on.
        case becameReady(RedisAddress)
        /// Fail every outstanding command, close the channel (if any) and try again after the delay.
        case dropAndReconnect(reason: String, after: TimeAmount)
        /// Skip the rest of the backoff and resolve again now.
        case retryNow
        /// A channel that arrived after the state moved on (shutdown, or a superseded attempt).
        case closeStrayChannel
        /// Fail every outstanding command, close the channel, cancel timers.
        case shutDown
    }

    private(set) var state = State.idle
    private var backoff = Self.initialBackoff
    static let initialBackoff: TimeAmount = .milliseconds(50)
    static let maxBackoff: TimeAmount = .seconds(1)

    var isReady: Bool {
        if case .ready = state { return true }
        return false
    }

    var isShutDown: Bool {
        if case .shutDown = state { return true }
        return false
    }

    var address: RedisAddress? {
        switch state {
        case .connecting(let a), .handshaking(let a), .ready(let a): a
        default: nil
        }
    }

    mutating func start() -> Action {
        guard case .idle = state else { return .none }
        state = .resolving
        return .resolve
    }

    mutating func resolved(_ address: RedisAddress) -> Action {
        guard case .resolving = state else { return .none }
        state = .connecting(address)
        return .connect(address)
    }

    mutating func resolveFailed(_ reason: String) -> Action {
        guard case .resolving = state else { return .none }
        return waitAndRetry(reason)
    }

    mutating func connected(to address: RedisAddress) -> Action {
        guard case .connecting(let expected) = state, expected == address else { return .closeStrayChannel }
        state = .handshaking(address)
        return .startHandshake
    }

    mutating func connectFailed(_ reason: String) -> Action {
        guard case .connecting = state else { return .none }
        return waitAndRetry(reason)
    }

    mutating func handshakeSucceeded() -> Action {
        guard case .handshaking(let address) = state else { return .none }
        state = .ready(address)
        backoff = Self.initialBackoff
        return .becameReady(address)
    }

    /// A refused AUTH/SELECT, a node that is not a master, a protocol error, a reply past its
    /// deadline, `READONLY`/`LOADING` from a demoted or restarting node: all drop the channel.
    mutating func failed(_ reason: String) -> Action {
        switch state {
        case .connecting, .handshaking, .ready:
            return waitAndRetry(reason)
        default:
            return .none
        }
    }

    /// The topology now points elsewhere (Sentinel announced a new master).
    mutating func addressChanged(to address: RedisAddress) -> Action {
        switch state {
        case .connecting(let current), .handshaking(let current), .ready(let current):
            guard current != address else { return .none }
            // Straight to the new master: no backoff after an announced switch.
            state = .waitingToReconnect
            backoff = Self.initialBackoff
            return .dropAndReconnect(reason: "master moved to \(address)", after: .zero)
        case .waitingToReconnect:
            // Waiting out a backoff after the old master went away: the new one is known now.
            state = .resolving
            backoff = Self.initialBackoff
            return .retryNow
        default:
            return .none
        }
    }

    mutating func channelClosed() -> Action {
        switch state {
        case .handshaking, .ready:
            return waitAndRetry("the Redis connection closed")
        default:
            return .none
        }
    }

    mutating func reconnectTimerFired() -> Action {
        guard case .waitingToReconnect = state else { return .none }
        state = .resolving
        return .resolve
    }

    mutating func shutdown() -> Action {
        guard state != .shutDown else { return .none }
        state = .shutDown
        return .shutDown
    }

    private mutating func waitAndRetry(_ reason: String) -> Action {
        state = .waitingToReconnect
        let delay = backoff
        backoff = min(backoff * 2, Self.maxBackoff)
        return .dropAndReconnect(reason: reason, after: delay)
    }
}
