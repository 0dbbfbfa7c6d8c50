import NIOConcurrencyHelpers
import NIOCore
import PortcullisCore
import PortcullisProxy

/// The gate in force and the configuration it came from. Two things replace it while
/// requests run: a reload (new configuration, same remote key set) and a JWKS refresh (same
/// configuration, new key set). Both go through `rebuild`, one at a time, so neither can
/// undo the other; readers (the admin API, each request via the proxy's snapshot) never lock
/// for longer than a pointer copy.
final class LiveGate: Sendable {
    struct Current: Sendable {
        var configuration: Configuration
        /// The last key set fetched from `jwt.jwks_url`; nil before the first fetch.
        var remoteJWKS: String?
        var gate: Gate
    }

    private let current: NIOLockedValueBox<Current>
    /// Serialises rebuilds; readers only take `current`'s lock.
    private let rebuilding = NIOLock()
    private let proxy = NIOLockedValueBox<ProxyServer?>(nil)
    private let forwardAuth = NIOLockedValueBox<ForwardAuthServer?>(nil)
    private let store: RevocationStore
    private let audit: AuditRecorder
    private let unknownKeyObserver = NIOLockedValueBox<UnknownKeyObserver?>(nil)

    init(configuration: Configuration, gate: Gate, store: RevocationStore, audit: AuditRecorder) {
        current = NIOLockedValueBox(Current(configuration: configuration, remoteJWKS: nil, gate: gate))
        self.store = store
        self.audit = audit
    }

    var gate: Gate { current.withLockedValue { $0.gate } }
    var configuration: Configuration { current.withLockedValue { $0.configuration } }

    /// Connects the parts that exist only after the gate: the listener whose snapshot follows
    /// this gate, and the JWKS fetcher that wants to hear about unknown `kid`s.
    func attach(proxy: ProxyServer?, unknownKeyObserver: UnknownKeyObserver?) {
        if let proxy { self.proxy.withLockedValue { $0 = proxy } }
        if let unknownKeyObserver { self.unknownKeyObserver.withLockedValue { $0 = unknownKeyObserver } }
    }

    /// The forward-auth listener follows the same gate, with its own `authz.deny_status`.
    func attach(forwardAuth server: ForwardAuthServer) {
        forwardAuth.withLockedValue { $0 = server }
    }

    /// The proxy's per-request snapshot for a configuration and its gate.
    func snapshotInput(_ c: Configuration, _ gate: Gate) -> GateSnapshotInput {
        GateSnapshotInput(
            gate: gate, store: store, errorFormat: c.errors.format, pathPrefix: c.proxy.upstream?.pathPrefix ?? "",
            upstreamTimeout: TimeAmount(c.proxy.upstreamTimeout), logoutPath: c.proxy.logoutPath, audit: audit,
            listenerTLS: c.proxy.tlsCertFile != nil)
    }

    /// Builds a gate from `configuration` (default: the one in force) and `remoteJWKS`
    /// (default: the set in force) and puts it in force. Throws, changing nothing, when the
    /// keys do not load.
    func rebuild(configuration newConfiguration: Configuration? = nil, remoteJWKS newJWKS: String? = nil)
        throws(ConfigurationError)
    {
        rebuilding.lock()
        defer { rebuilding.unlock() }
        var next = current.withLockedValue { $0 }
        if let newConfiguration { next.configuration = newConfiguration }
        if let newJWKS { next.remoteJWKS = newJWKS }
        next.gate = try Gate(configuration: next.configuration, remoteJWKS: next.remoteJWKS,
                             unknownKeyObserver: unknownKeyObserver.withLockedValue { $0 })
        // A reload reads the listener's certificate again (a JWKS refresh leaves it alone).
        if newConfiguration != nil, let proxy = proxy.withLockedValue({ $0 }), proxy.speaksTLS,
           let certificate = next.configuration.proxy.tlsCertFile, let key = next.configuration.proxy.tlsKeyFile {
            do {
                try proxy.reloadTLS(certificateFile: certificate, keyFile: key)
            } catch {
                throw ConfigurationError(problems: [ConfigurationProblem(key: "proxy.tls_cert_file", value: certificate,
                                                                         reason: "\(error)")])
            }
        }
        let installed = next
        current.withLockedValue { $0 = installed }
        proxy.withLockedValue { $0 }?.replace(with: snapshotInput(installed.configuration, installed.gate))
        forwardAuth.withLockedValue { $0 }?.replace(with: snapshotInput(installed.configuration, installed.gate),
                                                    denyStatus: installed.configuration.authz.denyStatus)
    }
}
