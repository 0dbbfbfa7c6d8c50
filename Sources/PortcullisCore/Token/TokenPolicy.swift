/// What a verified token must also satisfy; built from the `jwt.*` configuration.
public struct TokenPolicy: Sendable {
    /// The `alg` values accepted; any other is `algorithmNotAllowed`, whatever the keys could do.
    public var algorithms: Set<JWTAlgorithm>
    /// When set, `iss` must equal it; a token without `iss` is then `wrongIssuer`.
    public var issuer: String?
    /// When non-empty, `aud` must contain one of these; a token without `aud` is then `wrongAudience`.
    public var audience: [String]
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
    public var leewaySeconds: Double
    /// Checked against the AuthX `type` claim when the token carries one.
    public var requiredType: RequiredType
    /// Extra top-level claims to read into `TokenClaims.captured`, index-aligned.
    public var capturedClaims: [String]
    /// Whether `scopes` is read into `TokenClaims.scopes` (only routes with `scopes` need it).
    public var readsScopes: Bool

    public enum RequiredType: String, Sendable {
        case access, refresh, any
    }

    public init(
        algorithms: Set<JWTAlgorithm> = [.HS256],
        issuer: String? = nil,
        audience: [String] = [],
        leewaySeconds: Double = 0,
        requiredType: RequiredType = .access,
        capturedClaims: [String] = [],
        readsScopes: Bool = false
    ) {
        self.readsScopes = readsScopes
        self.algorithms = algorithms
        self.issuer = issuer
        self.audience = audience
        self.leewaySeconds = leewaySeconds
        self.requiredType = requiredType
        self.capturedClaims = capturedClaims
    }
}
