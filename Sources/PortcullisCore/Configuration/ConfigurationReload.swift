/// What a reload (SIGHUP) does with a newly loaded configuration: which changes take effect
/// at once, and which need a restart because something bound at start holds them (listeners,
/// the store's connections and key layout, the JWKS fetcher, the thread count, logging).
///
/// Pure: the caller loads and validates the new file, this decides, the caller installs.
public struct ConfigurationReload: Sendable {
    /// The configuration to run with from now on: the new one's live keys on top of the
    /// values bound at start.
    public let applied: Configuration
    /// Live keys whose value changed, now in force.
    public let changed: [String]
    /// Keys that changed in the file but keep their running value until a restart.
    public let needRestart: [String]

    /// The keys a reload applies. Everything else is bound at start.
    public static let liveKeys: Set<String> = [
        "jwt.algorithms", "jwt.secret", "jwt.secret_file", "jwt.public_key_file", "jwt.jwks_file",
        "jwt.issuer", "jwt.audience", "jwt.token_type", "jwt.locations", "jwt.header_name", "jwt.header_type",
        "jwt.cookie_name", "jwt.query_param", "jwt.csrf",
        "proxy.public_paths", "proxy.claim_headers", "proxy.upstream_timeout", "proxy.logout_path",
        "revocation.fail_mode", "errors.format", "admin.token", "admin.token_file",
        "proxy.tls_cert_file", "proxy.tls_key_file", "proxy.cors_preflight", "routes",
        "admin.tokens_file", "authz.deny_status",
    ]

    /// - Parameters:
    ///   - running: the configuration in force (after earlier reloads).
    ///   - new: the configuration just loaded and validated.
    public init(running: Configuration, new: Configuration) {
        var applied = running
        applied.jwt.algorithms = new.jwt.algorithms
        // A certificate is rotated live; turning HTTPS on or off changes the listener: a restart.
        if (running.proxy.tlsCertFile != nil) == (new.proxy.tlsCertFile != nil) {
            applied.proxy.tlsCertFile = new.proxy.tlsCertFile
            applied.proxy.tlsKeyFile = new.proxy.tlsKeyFile
        }
        applied.jwt.secretBytes = new.jwt.secretBytes
        applied.jwt.secretFile = new.jwt.secretFile
        applied.jwt.publicKeyFile = new.jwt.publicKeyFile
        applied.jwt.jwksFile = new.jwt.jwksFile
        applied.jwt.issuer = new.jwt.issuer
        applied.jwt.audience = new.jwt.audience
        applied.jwt.tokenType = new.jwt.tokenType
        applied.jwt.locations = new.jwt.locations
        applied.jwt.headerName = new.jwt.headerName
        applied.jwt.headerType = new.jwt.headerType
        applied.jwt.cookieName = new.jwt.cookieName
        applied.jwt.queryParam = new.jwt.queryParam
        applied.jwt.csrf = new.jwt.csrf
        applied.proxy.publicPaths = new.proxy.publicPaths
        applied.proxy.claimHeaders = new.proxy.claimHeaders
        applied.proxy.upstreamTimeout = new.proxy.upstreamTimeout
        applied.proxy.logoutPath = new.proxy.logoutPath
        applied.revocation.failMode = new.revocation.failMode
        applied.errors = new.errors
        applied.admin.token = new.admin.token
        applied.admin.tokenFile = new.admin.tokenFile
        applied.admin.tokensFile = new.admin.tokensFile
        applied.admin.fileCredentials = new.admin.fileCredentials
        applied.proxy.corsPreflight = new.proxy.corsPreflight
        applied.routes = new.routes
        applied.authz.denyStatus = new.authz.denyStatus
        self.applied = applied
        changed = applied.keysDiffering(from: running)
        needRestart = new.keysDiffering(from: applied)
    }
}

extension Configuration {
    /// The keys whose effective values differ, in key-table order. Secrets are compared as
    /// values, not as their redacted rendering.
    public func keysDiffering(from other: Configuration) -> [String] {
        ConfigurationKey.all.compactMap { key in
            let differs: Bool = switch key.path {
            case "jwt.secret": jwt.secretBytes != other.jwt.secretBytes
            // The file's contents count, not only its path: a token removed from it is a change.
            case "admin.tokens_file": admin.tokensFile != other.admin.tokensFile || admin.fileCredentials != other.admin.fileCredentials
            case "admin.token": admin.token != other.admin.token
            case "revocation.redis_url": revocation.redisURL != other.revocation.redisURL
            case "revocation.redis_sentinel_password":
                revocation.redisSentinelPassword != other.revocation.redisSentinelPassword
            default:
                ConfigYAMLWriter.lines(name: key.path, value: key.render(self), indent: "")
                    != ConfigYAMLWriter.lines(name: key.path, value: key.render(other), indent: "")
            }
            return differs ? key.path : nil
        }
    }
}
