import CoreMetrics
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PortcullisCore
import ServiceLifecycle

/// Keeps the key set from `jwt.jwks_url` current: a fetch at start, one every
/// `refreshInterval`, one when a token names an unknown `kid` (at most one per
/// `minRefetchInterval`, never two at a time), and retries with backoff after a failure.
/// A fetched set is handed to `install`; when that refuses it, or a fetch fails, the last
/// good set stays in force.
public final class JWKSRefresher: UnknownKeyObserver, Service, Sendable {
    public struct Settings: Sendable {
        public var refreshInterval: TimeAmount
        public var minRefetchInterval: TimeAmount
        /// The first retry after a failed fetch; it doubles up to `refreshInterval` (or 60 s).
        public var firstRetry: TimeAmount

        public init(refreshInterval: TimeAmount, minRefetchInterval: TimeAmount, firstRetry: TimeAmount = .seconds(1)) {
            self.refreshInterval = refreshInterval
            self.minRefetchInterval = minRefetchInterval
            self.firstRetry = firstRetry
        }
    }

    /// Why a fetch happened, for logs.
    enum Trigger: String {
        case start, schedule, unknownKey = "unknown kid", retry
    }

    private struct State {
        var lastGood: String?
        var inFlight = false
        /// When the last fetch began; `nil` before the first.
        var lastStart: NIODeadline?
        /// When an unknown `kid` last caused a fetch.
        var lastUnknownKeyFetch: NIODeadline?
        var nextRetry: TimeAmount
        var scheduled: Scheduled<Void>?
        var stopped = false
    }

    private let client: JWKSClient
    private let settings: Settings
    private let eventLoop: EventLoop
    /// Builds and swaps in a gate with the new set; throws (with a description) when the set is unusable.
    private let install: @Sendable (String) throws -> Void
    private let logger: Logger
    private let fetched: Counter
    private let failed: Counter
    private let refused: Counter
    private let state: NIOLockedValueBox<State>

    public init(client: JWKSClient, settings: Settings, eventLoop: EventLoop, metricsFactory: MetricsFactory,
                logger: Logger, install: @escaping @Sendable (String) throws -> Void) {
        self.client = client
        self.settings = settings
        self.eventLoop = eventLoop
        self.install = install
        self.logger = logger
        let label = "portcullis_jwks_refreshes_total"
        fetched = Counter(label: label, dimensions: [("outcome", "success")], factory: metricsFactory)
        failed = Counter(label: label, dimensions: [("outcome", "fetch_failed")], factory: metricsFactory)
        refused = Counter(label: label, dimensions: [("outcome", "invalid")], factory: metricsFactory)
        state = NIOLockedValueBox(State(nextRetry: settings.firstRetry))
    }

    /// True once a key set has been fetched and installed (readiness waits for it).
    public var isLoaded: Bool { state.withLockedValue { $0.lastGood != nil } }

    /// The last set installed, for a reload that keeps the same URL.
    public var lastGoodSet: String? { state.withLockedValue { $0.lastGood } }

    /// Begins fetching; idempotent.
    public func start() {
        let begin = state.withLockedValue { state -> Bool in
            guard state.lastStart == nil, !state.inFlight, !state.stopped else { return false }
            state.inFlight = true
            state.lastStart = .now()
            return true
        }
        if begin { fetch(.start) }
    }

    /// Stops timers; a fetch in flight completes but installs nothing.
    public func stop() {
        state.withLockedValue { state in
            state.stopped = true
            state.scheduled?.cancel()
            state.scheduled = nil
        }
    }

    public func run() async throws {
        start()
        try? await gracefulShutdown()
        stop()
    }

    /// Called inline on an event loop by the gate: only decides whether to start a fetch.
    public func unknownKeyIDSeen() {
        let begin = state.withLockedValue { state -> Bool in
            let now = NIODeadline.now()
            guard !state.inFlight, !state.stopped else { return false }
            if let last = state.lastUnknownKeyFetch, now - last < settings.minRefetchInterval { return false }
            state.inFlight = true
            state.lastStart = now
            state.lastUnknownKeyFetch = now
            state.scheduled?.cancel()
            state.scheduled = nil
            return true
        }
        if begin { fetch(.unknownKey) }
    }

    // MARK: - Fetching

    private func fetch(_ trigger: Trigger) {
        client.fetch(on: eventLoop).whenComplete { result in
            self.finish(trigger, result)
        }
    }

    private func finish(_ trigger: Trigger, _ result: Result<String, Error>) {
        var next: TimeAmount
        switch result {
        case .success(let text):
            next = settings.refreshInterval
            let unchanged = state.withLockedValue { $0.lastGood == text }
            if unchanged {
                fetched.increment()
            } else if state.withLockedValue({ $0.stopped }) {
                return
            } else {
                do {
                    try install(text)
                    let first = state.withLockedValue { state -> Bool in
                        defer { state.lastGood = text }
                        return state.lastGood == nil
                    }
                    fetched.increment()
                    logger.info(first ? "JWKS loaded" : "JWKS changed; new keys in force",
                                metadata: ["url": "\(client.endpoint.hostHeader)", "trigger": "\(trigger.rawValue)"])
                } catch {
                    refused.increment()
                    next = retryDelay()
                    logger.error("JWKS refused; the keys in force stay", metadata: [
                        "url": "\(client.endpoint.hostHeader)", "problem": "\(error)", "retry_in": "\(next.prettyDescription)"])
                }
            }
            if next == settings.refreshInterval { state.withLockedValue { $0.nextRetry = settings.firstRetry } }
        case .failure(let error):
            failed.increment()
            next = retryDelay()
            let loaded = isLoaded
            logger.log(level: loaded ? .warning : .error,
                       loaded ? "JWKS fetch failed; the keys in force stay" : "JWKS fetch failed; no keys from jwt.jwks_url yet",
                       metadata: ["url": "\(client.endpoint.hostHeader)", "trigger": "\(trigger.rawValue)",
                                  "problem": "\(error)", "retry_in": "\(next.prettyDescription)"])
        }
        schedule(after: next)
    }

    /// The backoff after a failure, doubling each time.
    private func retryDelay() -> TimeAmount {
        let cap = min(settings.refreshInterval, .seconds(60))
        return state.withLockedValue { state in
            let delay = min(state.nextRetry, cap)
            state.nextRetry = min(state.nextRetry * 2, cap)
            return delay
        }
    }

    private func schedule(after delay: TimeAmount) {
        state.withLockedValue { state in
            state.inFlight = false
            guard !state.stopped else { return }
            state.scheduled?.cancel()
            state.scheduled = eventLoop.scheduleTask(in: delay) { self.scheduledFetch() }
        }
    }

    private func scheduledFetch() {
        let begin = state.withLockedValue { state -> Bool in
            guard !state.inFlight, !state.stopped else { return false }
            state.inFlight = true
            state.lastStart = .now()
            state.scheduled = nil
            return true
        }
        if begin { fetch(isLoaded ? .schedule : .retry) }
    }
}
