import CoreMetrics
import PortcullisCore

/// Forward-auth verdicts, counted apart from proxied requests:
/// `portcullis_forward_auth_total{verdict}` with verdict one of allowed, public, fail_open,
/// logout, denied (the last with the denial's closed `reason` code and AuthX's `error_type`).
/// Closed label sets only.
public struct ForwardAuthMetrics: Sendable {
    let allowed: Counter
    let publicPath: Counter
    let failOpen: Counter
    let logout: Counter
    let denied: [Denial: Counter]
    let duration: Timer

    public init(factory: MetricsFactory) {
        func verdict(_ name: String, denial: Denial? = nil) -> Counter {
            var dimensions = [("verdict", name)]
            if let denial { dimensions += [("reason", denial.reasonCode), ("error_type", denial.errorType)] }
            return Counter(label: "portcullis_forward_auth_total", dimensions: dimensions, factory: factory)
        }
        allowed = verdict("allowed")
        publicPath = verdict("public")
        failOpen = verdict("fail_open")
        logout = verdict("logout")
        var denied: [Denial: Counter] = [:]
        for denial in Denial.allCases {
            denied[denial] = verdict("denied", denial: denial)
        }
        self.denied = denied
        duration = Timer(label: "portcullis_forward_auth_duration_seconds", factory: factory)
    }
}
