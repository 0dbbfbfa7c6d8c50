/// Why a request is not forwarded. One stable reason code per case (`reasonCode`), used in
/// logs and metrics; AuthX's coarser `errorType` goes in the JSON body. Rendered into HTTP in
/// exactly one place.
public enum Denial: String, Sendable, CaseIterable {
    case missingToken
    /// Not a JWT: bad structure, base64url or JSON, or claims of the wrong type.
    case malformedToken
    /// The header's `alg` is not in `jwt.algorithms` (or `none`).
    case algorithmNotAllowed
    /// No configured key fits the header's `kid` (or, without one, the algorithm).
    case unknownKey
    case badSignature
    case expired
    case notYetValid
    /// `iat` is in the future beyond the leeway.
    case issuedInFuture
    case wrongAudience
    case wrongIssuer
    case accessTokenRequired
    case refreshTokenRequired
    /// A route demands `fresh`, and the token's `fresh` is not true.
    case freshTokenRequired
    /// A route demands scopes the token does not grant. The answer's message names them, so it
    /// is rendered from the `ScopeRefusal` the gate returns, not from this case alone.
    case insufficientScope
    case csrfMismatch
    case revoked
    case storeUnavailable
    case upstreamUnavailable
    case upstreamTimeout
    /// The request body is larger than `proxy.max_body_bytes`.
    case payloadTooLarge

    /// The AuthX status (errors.format: authx).
    public var status: Int {
        switch self {
        case .missingToken, .accessTokenRequired, .refreshTokenRequired, .freshTokenRequired, .csrfMismatch, .revoked: 401
        case .insufficientScope: 403
        case .malformedToken, .algorithmNotAllowed, .unknownKey, .badSignature, .expired, .notYetValid, .issuedInFuture,
             .wrongAudience, .wrongIssuer: 422
        case .storeUnavailable: 503
        case .upstreamUnavailable: 502
        case .upstreamTimeout: 504
        case .payloadTooLarge: 413
        }
    }

    public var message: String {
        switch self {
        case .missingToken: "Token Error"
        case .malformedToken, .algorithmNotAllowed, .unknownKey, .notYetValid, .issuedInFuture: "Invalid Token"
        case .badSignature: "Signature verification failed"
        case .expired: "Token has expired"
        case .wrongAudience: "Invalid audience"
        case .wrongIssuer: "Invalid issuer"
        case .accessTokenRequired: "Access token required"
        case .refreshTokenRequired: "Refresh token required"
        case .freshTokenRequired: "Fresh token required"
        case .insufficientScope: "Missing required scopes"
        case .csrfMismatch: "CSRF double submit does not match"
        case .revoked: "Invalid token"
        case .storeUnavailable: "Revocation store unavailable"
        case .upstreamUnavailable: "Upstream unavailable"
        case .upstreamTimeout: "Upstream timed out"
        case .payloadTooLarge: "Request body too large"
        }
    }

    public var errorType: String {
        switch self {
        case .missingToken: "MissingTokenError"
        case .malformedToken, .algorithmNotAllowed, .unknownKey, .notYetValid, .issuedInFuture: "JWTDecodeError"
        case .badSignature: "TokenInvalidSignatureError"
        case .expired: "TokenExpiredError"
        case .wrongAudience: "TokenInvalidAudienceError"
        case .wrongIssuer: "TokenInvalidIssuerError"
        case .accessTokenRequired: "AccessTokenRequiredError"
        case .refreshTokenRequired: "RefreshTokenRequiredError"
        case .freshTokenRequired: "FreshTokenRequiredError"
        case .insufficientScope: "InsufficientScopeError"
        case .csrfMismatch: "CSRFError"
        case .revoked: "RevokedTokenError"
        case .storeUnavailable: "RevocationStoreUnavailableError"
        case .upstreamUnavailable: "UpstreamError"
        case .upstreamTimeout: "UpstreamTimeoutError"
        case .payloadTooLarge: "PayloadTooLargeError"
        }
    }

    /// The closed reason code of metrics and logs (`portcullis_requests_total{reason=...}`):
    /// finer than `errorType`, which AuthX shares between several causes.
    public var reasonCode: String {
        switch self {
        case .missingToken: "missing_token"
        case .malformedToken: "malformed"
        case .algorithmNotAllowed: "algorithm_not_allowed"
        case .unknownKey: "unknown_kid"
        case .badSignature: "bad_signature"
        case .expired: "expired"
        case .notYetValid: "not_yet_valid"
        case .issuedInFuture: "issued_in_future"
        case .wrongAudience: "wrong_audience"
        case .wrongIssuer: "wrong_issuer"
        case .accessTokenRequired: "access_token_required"
        case .refreshTokenRequired: "refresh_token_required"
        case .freshTokenRequired: "fresh_token_required"
        case .insufficientScope: "insufficient_scope"
        case .csrfMismatch: "csrf_mismatch"
        case .revoked: "revoked"
        case .storeUnavailable: "store_unavailable"
        case .upstreamUnavailable: "upstream_unavailable"
        case .upstreamTimeout: "upstream_timeout"
        case .payloadTooLarge: "payload_too_large"
        }
    }

    /// Failures of the presented token (as opposed to the store or the upstream).
    public var isTokenFailure: Bool {
        switch self {
        case .storeUnavailable, .upstreamUnavailable, .upstreamTimeout, .payloadTooLarge: false
        default: true
        }
    }

    /// The status under `errors.format`: rfc6750 answers every token failure with 401, except a
    /// missing scope, which is 403 in both (RFC 6750 §3.1 `insufficient_scope`).
    public func status(in format: ErrorFormat) -> Int {
        format == .rfc6750 && isTokenFailure && self != .insufficientScope ? 401 : status
    }

    /// The `WWW-Authenticate` value, or nil when the answer carries none.
    public func wwwAuthenticate(in format: ErrorFormat) -> String? {
        guard isTokenFailure else { return nil }
        // Without the route's scopes; `ScopeRefusal.wwwAuthenticate` names them.
        if self == .insufficientScope { return #"Bearer error="insufficient_scope""# }
        let status = status(in: format)
        guard status == 401 else { return nil }
        if self == .missingToken { return "Bearer" }
        switch format {
        case .authx: return #"Bearer error="invalid_token""#
        case .rfc6750: return #"Bearer error="invalid_token", error_description="\#(message)""#
        }
    }

    init(_ error: TokenError) {
        switch error.code {
        case .malformed: self = .malformedToken
        case .algorithmNotAllowed: self = .algorithmNotAllowed
        case .unknownKey: self = .unknownKey
        case .notYetValid: self = .notYetValid
        case .issuedInFuture: self = .issuedInFuture
        case .badSignature: self = .badSignature
        case .expired: self = .expired
        case .wrongIssuer: self = .wrongIssuer
        case .wrongAudience: self = .wrongAudience
        case .accessTokenRequired: self = .accessTokenRequired
        case .refreshTokenRequired: self = .refreshTokenRequired
        }
    }
}
