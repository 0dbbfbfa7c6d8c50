import Foundation

extension Gate {
    /// Builds the gate (keys, policy, compiled patterns) from a validated configuration.
    /// Key material that fails to load is reported as configuration problems.
    ///
    /// `remoteJWKS` is the last set fetched from `jwt.jwks_url` (nil before the first fetch:
    /// the gate then knows only the local keys and reports `kid`s as unknown).
    public init(configuration c: Configuration, remoteJWKS: String? = nil,
                unknownKeyObserver: UnknownKeyObserver? = nil,
                readFile: (String) throws -> String = { try String(contentsOfFile: $0, encoding: .utf8) })
        throws(ConfigurationError)
    {
        var problems: [ConfigurationProblem] = []
        func read(_ path: String?, key: String) -> String? {
            guard let path else { return nil }
            do {
                return try readFile(path)
            } catch {
                problems.append(ConfigurationProblem(key: key, value: path, reason: "cannot read: \(error.localizedDescription)"))
                return nil
            }
        }
        let pem = read(c.jwt.publicKeyFile, key: "jwt.public_key_file")
        let jwks = c.jwt.jwksURL != nil ? remoteJWKS : read(c.jwt.jwksFile, key: "jwt.jwks_file")
        var keys: KeyTable?
        if problems.isEmpty {
            do {
                keys = try KeyTable(hmacSecret: c.jwt.secretBytes, publicKeyPEM: pem,
                                    jwksJSON: jwks, algorithms: Set(c.jwt.algorithms),
                                    remoteJWKSPending: c.jwt.jwksURL != nil && remoteJWKS == nil)
            } catch {
                problems.append(ConfigurationProblem(key: c.jwt.jwksURL != nil && remoteJWKS != nil ? "jwt.jwks_url" : "jwt",
                                                     value: nil, reason: error.description))
            }
        }
        guard let keys, problems.isEmpty else { throw ConfigurationError(problems: problems) }

        let plan = ClaimHeaderPlan(c.proxy.claimHeaders.map { (header: $0.header, claim: $0.claim) })
        let requiredType: TokenPolicy.RequiredType = switch c.jwt.tokenType {
        case .access: .access
        case .refresh: .refresh
        case .any: .any
        }
        let routes = RouteTable(c.routes, defaultType: requiredType)
        let policy = TokenPolicy(
            algorithms: Set(c.jwt.algorithms), issuer: c.jwt.issuer, audience: c.jwt.audience,
            leewaySeconds: c.jwt.leeway.seconds, requiredType: requiredType, capturedClaims: plan.capturedClaims,
            readsScopes: routes.readsScopes)
        self.init(
            publicPaths: PublicPaths(patterns: c.proxy.publicPaths),
            extractor: TokenExtractor(locations: c.jwt.locations, headerName: c.jwt.headerName,
                                      headerType: c.jwt.headerType, cookieName: c.jwt.cookieName,
                                      queryParameter: c.jwt.queryParam),
            verifier: TokenVerifier(keys: keys, policy: policy),
            csrfCheck: c.jwt.csrf, failMode: c.revocation.failMode,
            revokesRawTokens: !c.revocation.tokenKey.isEmpty, claimHeaders: plan,
            unknownKeyObserver: c.jwt.jwksURL != nil ? unknownKeyObserver : nil,
            routes: routes, forwardsCORSPreflights: c.proxy.corsPreflight == .forward)
    }
}

extension Duration {
    /// The duration in seconds, with its fraction.
    public var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
