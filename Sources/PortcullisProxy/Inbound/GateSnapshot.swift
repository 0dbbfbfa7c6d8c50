import Foundation
import NIOConcurrencyHelpers
import NIOCore
import PortcullisCore

/// Everything the per-request path reads, built once at start (and at reload) and swapped
/// as a whole, so a request never sees half of an old and half of a new configuration.
final class GateSnapshot: Sendable {
    let gate: Gate
    let store: RevocationStore
    let renderer: DenialRenderer
    let upstreamHead: UpstreamRequestHead
    let upstreamTimeout: TimeAmount
    let logout: LogoutPlan

    init(gate: Gate, store: RevocationStore, renderer: DenialRenderer,
         upstreamHead: UpstreamRequestHead, upstreamTimeout: TimeAmount, logout: LogoutPlan) {
        self.logout = logout
        self.gate = gate
        self.store = store
        self.renderer = renderer
        self.upstreamHead = upstreamHead
        self.upstreamTimeout = upstreamTimeout
    }
}

/// Holds the current snapshot; the lock is uncontended except during a reload.
final class GateSnapshotBox: Sendable {
    private let current: NIOLockedValueBox<GateSnapshot>

    init(_ snapshot: GateSnapshot) { current = NIOLockedValueBox(snapshot) }

    var snapshot: GateSnapshot { current.withLockedValue { $0 } }

    func replace(with snapshot: GateSnapshot) { current.withLockedValue { $0 = snapshot } }
}

/// Logs at most once per interval, counting what it held back, so a store outage under
/// `fail_mode: open` does not flood the log.
final class RateLimitedWarning: Sendable {
    private let state = NIOLockedValueBox<(next: NIODeadline, suppressed: Int)>((.uptimeNanoseconds(0), 0))
    private let interval: TimeAmount

    init(interval: TimeAmount = .seconds(10)) { self.interval = interval }

    /// The number of warnings held back since the last one, when this one should be logged.
    func admit() -> Int? {
        state.withLockedValue { state in
            let now = NIODeadline.now()
            guard now >= state.next else {
                state.suppressed += 1
                return nil
            }
            let suppressed = state.suppressed
            state = (now + interval, 0)
            return suppressed
        }
    }
}

/// What the data plane reports per request, for metrics and access logs.
protocol ProxyObserver: Sendable {
    func requestDenied(_ denial: Denial)
    func requestForwarded(failOpen: Bool)
}
