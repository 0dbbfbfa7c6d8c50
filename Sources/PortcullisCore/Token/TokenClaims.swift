/// Claims read from the payload in one pass. Times are seconds since 1970,
/// kept as written (AuthX writes floats); the checks truncate them the way PyJWT does.
public struct TokenClaims: Sendable, Equatable {
    public var jti: String?
    public var sub: String?
    public var iss: String?
    /// `aud` as written, a single string becoming a one-element array.
    public var aud: [String]
    public var exp: Double?
    public var nbf: Double?
    public var iat: Double?
    /// AuthX `type`: `"access"` or `"refresh"`.
    public var type: String?
    /// AuthX double-submit value compared with `X-CSRF-TOKEN`.
    public var csrf: String?
    /// AuthX `fresh`.
    public var fresh: Bool?
    /// AuthX `scopes`, read only when a route needs them (`TokenPolicy.readsScopes`); nil when
    /// absent, null, or not an array of strings (a token then grants no scope).
    public var scopes: [String]?
    /// Values of the claims named in `TokenPolicy.capturedClaims`, index-aligned:
    /// strings as they are, numbers and booleans as their JSON text,
    /// nil for absent, null, objects and arrays.
    public var captured: [String?]

    public init(
        jti: String? = nil, sub: String? = nil, iss: String? = nil, aud: [String] = [],
        exp: Double? = nil, nbf: Double? = nil, iat: Double? = nil,
        type: String? = nil, csrf: String? = nil, fresh: Bool? = nil, scopes: [String]? = nil, captured: [String?] = []
    ) {
        self.scopes = scopes
        self.jti = jti
        self.sub = sub
        self.iss = iss
        self.aud = aud
        self.exp = exp
        self.nbf = nbf
        self.iat = iat
        self.type = type
        self.csrf = csrf
        self.fresh = fresh
        self.captured = captured
    }
}

/// A token whose signature verified, with the key that verified it.
public struct VerifiedToken: Sendable {
    public var algorithm: JWTAlgorithm
    /// The `kid` of the key that verified the token, or the header's `kid` when keys carry none.
    public var keyID: String?
    public var claims: TokenClaims

    public init(algorithm: JWTAlgorithm, keyID: String?, claims: TokenClaims) {
        self.algorithm = algorithm
        self.keyID = keyID
        self.claims = claims
    }
}
