import NIOCore

/// The deadlines of one client connection, served by one timer. The timer is never cancelled
/// per request: it fires at the earliest deadline it was set for, acts on what has passed, and
/// is set again for the earliest left; only a deadline earlier than the pending firing moves it.
/// So a steady keep-alive connection schedules about one timer per `upstream_timeout`, not one
/// per request.
struct ConnectionDeadlines {
    /// The request head being received must be complete by then (`proxy.header_read_timeout`).
    var head: NIODeadline?
    /// The upstream's response head is due by then (`proxy.upstream_timeout`).
    var response: NIODeadline?
    /// When the client last sent something, or a wait on it began; an idle keep-alive
    /// connection, or a request body that stopped arriving, is closed `idleTimeout` after it.
    var lastActivity: NIODeadline
    /// Whether the client's silence counts now (see `ProxyConnectionStateMachine`).
    var activityCounts = false
    /// An open tunnel's token is checked again then (`proxy.tunnel_recheck_interval`).
    var tunnelRecheck: NIODeadline?
    /// An open tunnel's token expires then (`exp` plus the leeway); the tunnel closes.
    var tokenExpiry: NIODeadline?
    /// When the pending timer fires, if one is pending.
    private(set) var timerFiresAt: NIODeadline?

    let headerReadTimeout: TimeAmount
    let idleTimeout: TimeAmount

    init(now: NIODeadline, headerReadTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.lastActivity = now
        self.headerReadTimeout = headerReadTimeout
        self.idleTimeout = idleTimeout
        self.head = now + headerReadTimeout
    }

    var activity: NIODeadline? { activityCounts ? lastActivity + idleTimeout : nil }

    var earliest: NIODeadline? {
        func earlier(_ a: NIODeadline?, _ b: NIODeadline?) -> NIODeadline? {
            guard let a else { return b }
            guard let b else { return a }
            return min(a, b)
        }
        return earlier(earlier(earlier(head, response), activity), earlier(tunnelRecheck, tokenExpiry))
    }

    /// The deadline to schedule the timer for, when it must move (nothing pending, or an earlier deadline).
    mutating func timerToSchedule() -> NIODeadline? {
        guard let deadline = earliest else { return nil }
        if let firesAt = timerFiresAt, firesAt <= deadline { return nil }
        timerFiresAt = deadline
        return deadline
    }

    mutating func timerFired() { timerFiresAt = nil }
}
