import CoreMetrics
import NIOCore
import PortcullisCore

/// The data plane's metrics, created once per gateway with labels from closed sets only
/// (outcome, denial reason code and AuthX error type, status class) — never a path, subject
/// or jti.
public struct ProxyMetrics: Sendable {
    let forwarded: Counter
    let forwardedPublic: Counter
    let forwardedFailOpen: Counter
    /// Gate outcomes: every request is counted once, as forwarded, public, fail_open or denied.
    let denied: [Denial: Counter]
    /// Requests that passed the gate but got no answer from the upstream (502/504).
    let upstreamFailures: [Denial: Counter]
    /// Index 0 for 1xx … 4 for 5xx.
    let upstreamStatus: [Counter]
    let requestDuration: Timer
    let upstreamDuration: Timer
    let storeLookupErrors: Counter
    let openConnections: Meter
    /// Connections closed at accept because `proxy.max_connections` were open.
    let connectionsRefused: Counter
    /// Client connections closed by `proxy.header_read_timeout` (408) or `proxy.idle_timeout`
    /// (an idle keep-alive connection, or a request body that stopped arriving).
    let headerReadTimeouts: Counter
    let idleTimeouts: Counter
    let bodyStallTimeouts: Counter
    /// WebSocket tunnels open now, opened, and ended by reason (revoked, expired, drain…).
    let openTunnels: Meter
    let tunnelsOpened: Counter
    let tunnelsClosed: [TunnelEnd: Counter]

    public init(factory: MetricsFactory) {
        func requests(_ outcome: String, denial: Denial? = nil) -> Counter {
            var dimensions = [("outcome", outcome)]
            if let denial { dimensions += [("reason", denial.reasonCode), ("error_type", denial.errorType)] }
            return Counter(label: "portcullis_requests_total", dimensions: dimensions, factory: factory)
        }
        forwarded = requests("forwarded")
        forwardedPublic = requests("public")
        forwardedFailOpen = requests("fail_open")
        var denied: [Denial: Counter] = [:]
        var upstreamFailures: [Denial: Counter] = [:]
        for denial in Denial.allCases {
            if denial == .upstreamUnavailable || denial == .upstreamTimeout {
                upstreamFailures[denial] = Counter(label: "portcullis_upstream_failures_total",
                                                   dimensions: [("reason", denial.reasonCode),
                                                                ("error_type", denial.errorType)],
                                                   factory: factory)
            } else {
                denied[denial] = requests("denied", denial: denial)
            }
        }
        self.denied = denied
        self.upstreamFailures = upstreamFailures
        upstreamStatus = (1...5).map {
            Counter(label: "portcullis_upstream_responses_total", dimensions: [("class", "\($0)xx")], factory: factory)
        }
        requestDuration = Timer(label: "portcullis_request_duration_seconds", factory: factory)
        upstreamDuration = Timer(label: "portcullis_upstream_duration_seconds", factory: factory)
        storeLookupErrors = Counter(label: "portcullis_store_lookup_errors_total", factory: factory)
        openConnections = Meter(label: "portcullis_open_connections", factory: factory)
        connectionsRefused = Counter(label: "portcullis_connections_refused_total", factory: factory)
        func clientTimeouts(_ kind: String) -> Counter {
            Counter(label: "portcullis_client_timeouts_total", dimensions: [("kind", kind)], factory: factory)
        }
        headerReadTimeouts = clientTimeouts("header_read")
        idleTimeouts = clientTimeouts("idle")
        bodyStallTimeouts = clientTimeouts("body_stall")
        openTunnels = Meter(label: "portcullis_open_tunnels", factory: factory)
        tunnelsOpened = Counter(label: "portcullis_tunnels_opened_total", factory: factory)
        var tunnelsClosed: [TunnelEnd: Counter] = [:]
        for end in TunnelEnd.allCases {
            tunnelsClosed[end] = Counter(label: "portcullis_tunnels_closed_total", dimensions: [("reason", end.rawValue)],
                                         factory: factory)
        }
        self.tunnelsClosed = tunnelsClosed
    }

    func recordDenied(_ denial: Denial, since start: NIODeadline) {
        (denied[denial] ?? upstreamFailures[denial])?.increment()
        requestDuration.recordNanoseconds((NIODeadline.now() - start).nanoseconds)
    }

    func recordUpstreamStatus(_ code: UInt) {
        let index = Int(code / 100) - 1
        if index >= 0 && index < upstreamStatus.count { upstreamStatus[index].increment() }
    }
}
