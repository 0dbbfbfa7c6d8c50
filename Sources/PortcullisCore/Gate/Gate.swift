/// The decision "does this request pass?": extract the token, verify it, check CSRF, then
/// name the revocation query. Pure and synchronous: it runs inline on the event loop.
public struct Gate: Sendable {
    public enum Decision: Sendable {
        /// The path is public: forward without a token and without claim headers.
        case forwardPublic
        case deny(Denial)
        /// 403 `InsufficientScopeError`, whose message names the scopes (rendered per refusal).
        case denyScope(ScopeRefusal)
        /// The token is valid; forward it once the store says it is not revoked.
        case checkRevocation(VerifiedToken, RevocationQuery)
    }

    /// What to do after the store answered.
    public enum Outcome: Sendable, Equatable {
        case forward
        /// The store did not answer and `fail_mode: open` lets the request through.
        case forwardFailOpen
        case deny(Denial)
    }

    public let publicPaths: PublicPaths
    /// `routes`: consulted before `publicPaths`; a request no route matches follows `publicPaths`
    /// and the verifier's own token type (`jwt.token_type`).
    public let routes: RouteTable
    /// `proxy.cors_preflight: forward`.
    public let forwardsCORSPreflights: Bool
    public let extractor: TokenExtractor
    public let verifier: TokenVerifier
    public let csrfCheck: Bool
    public let failMode: FailMode
    /// When set, the raw token is part of the revocation query (`revocation.token_key`).
    public let revokesRawTokens: Bool
    public let claimHeaders: ClaimHeaderPlan
    /// Told when a token names a `kid` no key has, so a remote key set can be fetched again.
    public let unknownKeyObserver: UnknownKeyObserver?

    public init(publicPaths: PublicPaths, extractor: TokenExtractor, verifier: TokenVerifier,
                csrfCheck: Bool, failMode: FailMode, revokesRawTokens: Bool, claimHeaders: ClaimHeaderPlan,
                unknownKeyObserver: UnknownKeyObserver? = nil, routes: RouteTable = RouteTable(),
                forwardsCORSPreflights: Bool = true) {
        self.unknownKeyObserver = unknownKeyObserver
        self.routes = routes
        self.forwardsCORSPreflights = forwardsCORSPreflights
        self.publicPaths = publicPaths
        self.extractor = extractor
        self.verifier = verifier
        self.csrfCheck = csrfCheck
        self.failMode = failMode
        self.revokesRawTokens = revokesRawTokens
        self.claimHeaders = claimHeaders
    }

    /// `method` is the request's method name exactly as sent (`GET`, `OPTIONS`).
    /// `cache`, when given, is the calling event loop's verified-token cache.
    ///
    /// The checks run in AuthX's order (token type, `fresh`, CSRF, then scopes), all before the
    /// store is asked, so a token the route refuses anyway never costs a lookup.
    public func decide(method: String, target: RequestTarget,
                       headers: some RequestHeaders, now: Double, cache: VerifiedTokenCache? = nil) -> Decision {
        if forwardsCORSPreflights, method == "OPTIONS", headers.firstValue("origin") != nil,
           headers.firstValue("access-control-request-method") != nil {
            return .forwardPublic
        }
        let route = routes.match(method: method, path: target.path)
        if let route {
            if route.isOpen { return .forwardPublic }
        } else if publicPaths.matches(target.path) {
            return .forwardPublic
        }
        guard let found = extractor.extract(from: headers, target: target) else {
            return .deny(.missingToken)
        }
        let token: VerifiedToken
        do {
            if let cache, let cached = cache.lookup(found.token, verifier: verifier, now: now) {
                if let route {
                    try verifier.validate(cached.claims, now: now, requiredType: route.requiredType)
                } else {
                    try verifier.validate(cached.claims, now: now)
                }
                token = cached
            } else {
                if let route {
                    token = try verifier.verify(found.token, now: now, requiredType: route.requiredType)
                } else {
                    token = try verifier.verify(found.token, now: now)
                }
                cache?.insert(found.token, token, verifier: verifier, now: now)
            }
        } catch {
            if error.code == .unknownKey { unknownKeyObserver?.unknownKeyIDSeen() }
            return .deny(Denial(error))
        }
        if route?.requiresFresh == true, token.claims.fresh != true {
            return .deny(.freshTokenRequired)
        }
        if csrfCheck, found.location == .cookies, RequestMethodClass(method: method) == .stateChanging {
            guard let expected = token.claims.csrf, let presented = headers.firstValue("x-csrf-token"),
                  ConstantTime.equal(expected, presented)
            else { return .deny(.csrfMismatch) }
        }
        if let scopes = route?.scopes, !scopes.isSatisfied(by: token.claims.scopes) {
            return .denyScope(scopes.refusal(provided: token.claims.scopes))
        }
        let query = RevocationQuery(
            jti: token.claims.jti, subject: token.claims.sub, issuedAt: token.claims.iat,
            rawToken: revokesRawTokens ? found.token : nil)
        return .checkRevocation(token, query)
    }

    /// The decision for a token checked again later (an open tunnel's), without a request:
    /// verified with today's keys and policy at `now`, then named for the store like at the gate.
    public func recheck(_ token: Substring, now: Double) -> Decision {
        let verified: VerifiedToken
        do {
            // The token's type was judged at the handshake, by its route; a recheck is about
            // keys, expiry and revocation.
            verified = try verifier.verify(token, now: now, requiredType: .any)
        } catch {
            return .deny(Denial(error))
        }
        let query = RevocationQuery(
            jti: verified.claims.jti, subject: verified.claims.sub, issuedAt: verified.claims.iat,
            rawToken: revokesRawTokens ? token : nil)
        return .checkRevocation(verified, query)
    }

    public func conclude(_ verdict: RevocationVerdict) -> Outcome {
        switch verdict {
        case .allowed: .forward
        case .revoked: .deny(.revoked)
        case .unavailable: failMode == .open ? .forwardFailOpen : .deny(.storeUnavailable)
        }
    }
}

/// Something that can act on "a token named a key we do not have" (the remote JWKS fetcher).
/// Called inline on the event loop: it must only note the fact and return.
public protocol UnknownKeyObserver: Sendable {
    func unknownKeyIDSeen()
}

public enum ConstantTime {
    /// Compares without an early exit, so the time taken does not reveal where they differ.
    public static func equal(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8)
        let right = Array(b.utf8)
        var difference = UInt8(truncatingIfNeeded: left.count ^ right.count)
        for index in 0..<max(left.count, right.count) {
            let l = index < left.count ? left[index] : 0
            let r = index < right.count ? right[index] : 0
            difference |= l ^ r
        }
        return difference == 0 && left.count == right.count
    }
}
