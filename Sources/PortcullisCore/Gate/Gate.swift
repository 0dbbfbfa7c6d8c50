/// The decision "does this request pass?": extract the token, verify it, check CSRF, then
/// name the revocation query. Pure and synchronous: it runs inline on the event loop.
public struct Gate: Sendable {
    public enum Decision: Sendable {
        /// The path is public: forward without a token and without claim headers.
        case forwardPublic
        case deny(Denial)
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
                unknownKeyObserver: UnknownKeyObserver? = nil) {
        self.unknownKeyObserver = unknownKeyObserver
        self.publicPaths = publicPaths
        self.extractor = extractor
        self.verifier = verifier
        self.csrfCheck = csrfCheck
        self.failMode = failMode
        self.revokesRawTokens = revokesRawTokens
        self.claimHeaders = claimHeaders
    }

    /// `method` is the request's method as sent ("GET"); `cache`, when given, is the calling
    /// event loop's verified-token cache.
    public func decide(method: String, target: RequestTarget,
                       headers: some RequestHeaders, now: Double, cache: VerifiedTokenCache? = nil) -> Decision {
        if publicPaths.matches(target.path) { return .forwardPublic }
        guard let found = extractor.extract(from: headers, target: target) else {
            return .deny(.missingToken)
        }
        let token: VerifiedToken
        do {
            if let cache, let cached = cache.lookup(found.token, verifier: verifier, now: now) {
                try verifier.validate(cached.claims, now: now)
                token = cached
            } else {
                token = try verifier.verify(found.token, now: now)
                cache?.insert(found.token, token, verifier: verifier, now: now)
            }
        } catch {
            if error.code == .unknownKey { unknownKeyObserver?.unknownKeyIDSeen() }
            return .deny(Denial(error))
        }
        if csrfCheck, found.location == .cookies, RequestMethodClass(method: method) == .stateChanging {
            guard let expected = token.claims.csrf, let presented = headers.firstValue("x-csrf-token"),
                  ConstantTime.equal(expected, presented)
            else { return .deny(.csrfMismatch) }
        }
        let query = RevocationQuery(
            jti: token.claims.jti, subject: token.claims.sub, issuedAt: token.claims.iat,
            rawToken: revokesRawTokens ? found.token : nil)
        return .checkRevocation(token, query)
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
