/// Signature algorithms a token may name in its `alg` header.
public enum JWTAlgorithm: String, CaseIterable, Sendable, Hashable {
    case HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA

    /// The HMAC hash output size in bytes, which is also the shortest key accepted (RFC 7518 §3.2);
    /// nil for the asymmetric algorithms.
    public var minimumHMACKeyBytes: Int? {
        switch self {
        case .HS256: 32
        case .HS384: 48
        case .HS512: 64
        default: nil
        }
    }
}

public enum TokenLocation: String, Sendable, CaseIterable {
    case headers, cookies, query
}

public enum RequiredTokenType: String, Sendable, CaseIterable {
    case access, refresh, any
}

public enum RevocationStoreKind: String, Sendable, CaseIterable {
    case memory, redis
}

public enum FailMode: String, Sendable, CaseIterable {
    case closed, open
}

/// `revocation.local_cache`: keep "not revoked" answers in the process, invalidated by Redis.
public enum LocalCacheMode: String, Sendable, CaseIterable {
    case off, tracking
}

public enum ErrorFormat: String, Sendable, CaseIterable {
    case authx, rfc6750
}

/// `proxy.cors_preflight`: whether a browser's preflight (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`) needs a token.
public enum CORSPreflight: String, Sendable, CaseIterable {
    case forward, authenticate
}

/// A route's `auth`: `none` opens the route like a public path.
public enum RouteAuth: String, Sendable, CaseIterable {
    case required, none
}

/// A route's `scopes_mode`: every listed scope, or one of them.
public enum ScopesMode: String, Sendable, CaseIterable {
    case all, any
}

/// The whole configuration, with the defaults of INTERFACE §2. `ConfigurationLoader` fills it in;
/// a value built by hand has not been validated.
public struct Configuration: Sendable, Equatable {
    public var proxy = Proxy()
    public var jwt = JWT()
    public var revocation = Revocation()
    public var admin = Admin()
    public var errors = Errors()
    public var log = Log()
    /// Per-path policy, first match wins (`routes`).
    public var routes: [Route] = []
    /// The forward-auth endpoint (see ConfigurationKeys+Authz.swift).
    public var authz = Authz()

    public init() {}

    public struct Proxy: Sendable, Equatable {
        public var listen = ListenAddress(host: "0.0.0.0", port: 8080)
        /// Required; only a hand-built `Configuration` can leave it nil.
        public var upstream: UpstreamURL? = nil
        public var connectTimeout: Duration = .seconds(2)
        public var upstreamTimeout: Duration = .seconds(30)
        public var maxHeaderBytes = 32768
        public var publicPaths: [String] = []
        public var logoutPath = ""
        /// In the order the operator wrote them.
        public var claimHeaders: [ClaimHeader] = [
            ClaimHeader(header: "X-Auth-Subject", claim: "sub"),
            ClaimHeader(header: "X-Auth-Jti", claim: "jti"),
        ]
        /// Event-loop threads; 0 means one per core.
        public var threads = 0
        // Connection hardening (extensions to the contract), with nginx/Envoy-like defaults.
        /// Header fields in one request head (trailers count too); more gets 431.
        public var maxHeaders = 100
        /// Bytes in the request target; a longer one gets 414.
        public var maxURIBytes = 8192
        /// 0: no limit.
        public var maxBodyBytes = 0
        /// From accept, or the first byte of a request, until its head is complete; then 408.
        public var headerReadTimeout: Duration = .seconds(10)
        /// An idle keep-alive connection, or a request body that stopped arriving, is closed after it.
        public var idleTimeout: Duration = .seconds(60)
        /// Concurrent client connections across all event loops; 0 means no limit.
        public var maxConnections = 10000
        /// On shutdown, connections still open this long after it began are closed.
        public var drainTimeout: Duration = .seconds(30)
        /// With both set the listener speaks HTTPS only (PEM chain and key).
        public var tlsCertFile: String? = nil
        public var tlsKeyFile: String? = nil
        /// CA bundle an `https://` upstream's certificate is verified against (else the system store).
        public var upstreamCAFile: String? = nil
        public var corsPreflight: CORSPreflight = .forward
        /// `Upgrade: websocket` requests that pass become tunnels.
        public var webSockets = true
        /// How often an open tunnel's token is verified and looked up in the store again.
        public var tunnelRecheckInterval: Duration = .seconds(30)

        public init() {}
    }

    /// One entry of `routes`, as validated; `RouteTable` compiles the list.
    public struct Route: Sendable, Equatable {
        /// A path pattern as in `proxy.public_paths`.
        public var path: String
        /// Upper-case method names; empty means every method.
        public var methods: [String] = []
        public var auth: RouteAuth = .required
        /// nil follows `jwt.token_type`.
        public var tokenType: RequiredTokenType? = nil
        public var fresh = false
        public var scopes: [String] = []
        public var scopesMode: ScopesMode = .all

        public init(path: String, methods: [String] = [], auth: RouteAuth = .required, tokenType: RequiredTokenType? = nil,
                    fresh: Bool = false, scopes: [String] = [], scopesMode: ScopesMode = .all) {
            self.path = path
            self.methods = methods
            self.auth = auth
            self.tokenType = tokenType
            self.fresh = fresh
            self.scopes = scopes
            self.scopesMode = scopesMode
        }
    }

    public struct ClaimHeader: Sendable, Equatable {
        public var header: String
        public var claim: String

        public init(header: String, claim: String) {
            self.header = header
            self.claim = claim
        }
    }

    public struct JWT: Sendable, Equatable {
        public var algorithms: [JWTAlgorithm] = [.HS256]
        /// The HMAC key as bytes (RFC 7518 §3.2): `jwt.secret`'s UTF-8, or `jwt.secret_file` as
        /// read, one trailing newline dropped, so a random binary key works.
        public var secretBytes: [UInt8]? = nil
        /// The HMAC key as text; nil when there is none or when it (from a file) is not UTF-8.
        public var secret: String? {
            get { secretBytes.flatMap { String(validating: $0, as: UTF8.self) } }
            set { secretBytes = newValue.map { Array($0.utf8) } }
        }
        public var secretFile: String? = nil
        public var publicKeyFile: String? = nil
        public var jwksFile: String? = nil
        public var jwksURL: String? = nil
        /// How often `jwksURL` is fetched again in the background.
        public var jwksRefreshInterval: Duration = .seconds(300)
        /// A token whose `kid` is unknown triggers at most one fetch of `jwksURL` per this interval.
        public var jwksMinRefetchInterval: Duration = .seconds(30)
        /// A PEM CA bundle to trust for an https `jwksURL` instead of the system's roots.
        public var jwksTLSCAFile: String? = nil
        public var issuer: String? = nil
        public var audience: [String] = []
        public var leeway: Duration = .zero
        public var tokenType: RequiredTokenType = .access
        /// Searched in this order.
        public var locations: [TokenLocation] = [.headers]
        public var headerName = "Authorization"
        /// Empty means the whole header value is the token.
        public var headerType = "Bearer"
        public var cookieName = "access_token_cookie"
        public var queryParam = "token"
        public var csrf = true

        public init() {}
    }

    public struct Revocation: Sendable, Equatable {
        public var store: RevocationStoreKind = .memory
        public var file = "./portcullis-revocations.log"
        public var redisURL = RedisURL(tls: false, host: "127.0.0.1", port: 6379, database: 0, username: nil, password: nil)
        /// For `rediss://`: a PEM CA bundle to trust instead of the system's roots (our extension).
        public var redisTLSCAFile: String? = nil
        public var jtiKey = "portcullis:jti:{jti}"
        /// Empty disables raw-token revocation.
        public var tokenKey = ""
        public var subjectKey = "portcullis:sub:{sub}"
        public var maxTTL: Duration = .seconds(30 * 86400)
        public var failMode: FailMode = .closed
        public var timeout: Duration = .milliseconds(100)
        /// When not empty, the Redis master is found through these Sentinels; `redisURL` then
        /// supplies only the scheme, credentials and db.
        public var redisSentinels: [ListenAddress] = []
        public var redisSentinelMaster = "mymaster"
        /// The Sentinels' own password (not the master's, which comes from `redisURL`).
        public var redisSentinelPassword: String? = nil
        /// A revocation is acknowledged only once this many replicas confirmed it (`WAIT`).
        public var writeReplicas = 0
        /// When not empty, the store is a Redis Cluster and these are its seed nodes.
        public var redisClusterNodes: [ListenAddress] = []
        public var localCache: LocalCacheMode = .off
        /// The most answers the local cache holds (over every event loop).
        public var localCacheEntries = 1_000_000

        public init() {}
    }

    public struct Admin: Sendable, Equatable {
        public var listen = ListenAddress(host: "127.0.0.1", port: 8081)
        /// Optional at load: without it the admin API refuses every `/v1/` request.
        public var token: String? = nil
        public var tokenFile: String? = nil
        /// `NAME ROLE TOKEN` lines: named credentials with roles, beside `token`.
        public var tokensFile: String? = nil
        /// Parsed from `tokensFile` at load (and so again on every reload).
        public var fileCredentials: [AdminCredential] = []
        /// With both set the admin listener speaks HTTPS only.
        public var tlsCertFile: String? = nil
        public var tlsKeyFile: String? = nil
        /// How many audit entries the store keeps (on Redis approximately: `XADD … MAXLEN ~`).
        public var auditMaxEntries = 100_000

        public init() {}

        /// Every credential in force: `admin.token` as the one named `admin` with the role
        /// `admin`, then those of `admin.tokens_file`.
        public var credentials: [AdminCredential] {
            (token.map { [AdminCredential(name: "admin", role: .admin, token: $0)] } ?? []) + fileCredentials
        }
    }

    public struct Errors: Sendable, Equatable {
        public var format: ErrorFormat = .authx

        public init() {}
    }

    public struct Log: Sendable, Equatable {
        /// One of `Configuration.Log.levels`.
        public var level = "info"
        /// One of `Configuration.Log.formats`.
        public var format = "text"

        /// The names of swift-log's `Logger.Level` cases, so the CLI can map them without a table of its own.
        public static let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        public static let formats = ["text", "json"]

        public init() {}
    }
}
