/// Why a request is not forwarded. One stable reason code per case, used in the JSON body
/// (`error_type`), logs and metrics; rendered into HTTP in exactly one place.
public enum Denial: String, Sendable, CaseIterable {
    case missingToken
    case malformedToken
    case badSignature
    case expired
    case notYetValid
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
        case .malformedToken, .badSignature, .expired, .notYetValid, .wrongAudience, .wrongIssuer: 422
        case .storeUnavailable: 503
        case .upstreamUnavailable: 502
        case .upstreamTimeout: 504
        case .payloadTooLarge: 413
        }
    }

    public var message: String {
        switch self {
        case .missingToken: "Token Error"
        case .malformedToken, .notYetValid: "Invalid Token"
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
        case .malformedToken, .notYetValid: "JWTDecodeError"
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
        case .malformed, .algorithmNotAllowed, .unknownKey: self = .malformedToken
        case .notYetValid, .issuedInFuture: self = .notYetValid
        case .badSignature: self = .badSignature
        case .expired: self = .expired
        case .wrongIssuer: self = .wrongIssuer
        case .wrongAudience: self = .wrongAudience
        case .accessTokenRequired: self = .accessTokenRequired
        case .refreshTokenRequired: self = .refreshTokenRequired
        }
    }
}
