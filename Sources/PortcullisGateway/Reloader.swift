import CoreMetrics
import Logging
import PortcullisCore
import ServiceLifecycle
import UnixSignals

/// What a reload did, for the caller (the SIGHUP handler logs it; tests read it).
public enum ReloadOutcome: Sendable, Equatable {
    /// The new configuration is in force; `changed` lists the live keys that changed,
    /// `needRestart` the changed keys that keep their running value until a restart.
    case applied(changed: [String], needRestart: [String])
    /// The new configuration was refused; the old one stays in force.
    case rejected(problems: [String])
}

/// Applies a newly loaded configuration: validate, build the new gate (keys included), swap
/// it in. Connections and in-flight requests are untouched: a request that already read the
/// old snapshot finishes with it, the next one reads the new.
struct Reloader: Sendable {
    let live: LiveGate
    let logger: Logger
    let applied: Counter
    let rejected: Counter

    init(live: LiveGate, logger: Logger, metricsFactory: MetricsFactory) {
        self.live = live
        self.logger = logger
        applied = Counter(label: "portcullis_config_reloads_total", dimensions: [("outcome", "applied")], factory: metricsFactory)
        rejected = Counter(label: "portcullis_config_reloads_total", dimensions: [("outcome", "rejected")], factory: metricsFactory)
    }

    func reload(_ load: () throws(ConfigurationError) -> Configuration) -> ReloadOutcome {
        let outcome: ReloadOutcome
        do {
            let plan = ConfigurationReload(running: live.configuration, new: try load())
            try live.rebuild(configuration: plan.applied)
            outcome = .applied(changed: plan.changed, needRestart: plan.needRestart)
        } catch {
            outcome = .rejected(problems: error.problems.map(\.description))
        }
        switch outcome {
        case .applied(let changed, let needRestart):
            applied.increment()
            logger.info("configuration reloaded", metadata: [
                "changed": "\(changed.isEmpty ? "nothing" : changed.joined(separator: ", "))"])
            if !needRestart.isEmpty {
                logger.warning("configuration keys changed that only a restart applies; their running values stay",
                               metadata: ["keys": "\(needRestart.joined(separator: ", "))"])
            }
        case .rejected(let problems):
            rejected.increment()
            logger.error("configuration reload refused; the running configuration stays in force",
                         metadata: ["problems": "\(problems.count)"])
            for problem in problems { logger.error("  \(problem)") }
        }
        return outcome
    }
}

/// Reloads on every SIGHUP until shutdown.
struct ReloadOnHangup: Service {
    let reloader: Reloader
    let load: @Sendable () throws(ConfigurationError) -> Configuration

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            reloader.logger.info("SIGHUP: reloading configuration")
            _ = reloader.reload(load)
        }
    }
}
