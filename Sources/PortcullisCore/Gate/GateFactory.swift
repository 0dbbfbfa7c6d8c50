import Foundation

extension Gate {
    /// Builds the gate (keys, policy, compiled patterns) from a validated configuration.
    /// Key material that fails to load is reported as configuration problems.
    public init(configuration c: Configuration,
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
        if let url = c.jwt.jwksURL {
            problems.append(ConfigurationProblem(
                key: "jwt.jwks_url", value: url,
                reason: "fetching a JWKS over the network is not in this release yet; save the set to a file and use jwt.jwks_file"))
        }
        let pem = read(c.jwt.publicKeyFile, key: "jwt.public_key_file")
        let jwks = read(c.jwt.jwksFile, key: "jwt.jwks_file")
        var keys: KeyTable?
        if problems.isEmpty {
            do {
                keys = try KeyTable(hmacSecret: c.jwt.secret.map { Array($0.utf8) }, publicKeyPEM: pem,
                                    jwksJSON: jwks, algorithms: Set(c.jwt.algorithms))
            } catch {
                problems.append(ConfigurationProblem(key: "jwt", value: nil, reason: error.description))
            }
        }
        guard let keys, problems.isEmpty else { throw ConfigurationError(problems: problems) }

        let plan = ClaimHeaderPlan(c.proxy.claimHeaders.map { (header: $0.header, claim: $0.claim) })
        let requiredType: TokenPolicy.RequiredType = switch c.jwt.tokenType {
        case .access: .access
        case .refresh: .refresh
        case .any: .any
        }
        let policy = TokenPolicy(
            algorithms: Set(c.jwt.algorithms), issuer: c.jwt.issuer, audience: c.jwt.audience,
            leewaySeconds: c.jwt.leeway.seconds, requiredType: requiredType, capturedClaims: plan.capturedClaims)
        self.init(
            publicPaths: PublicPaths(patterns: c.proxy.publicPaths),
            extractor: TokenExtractor(locations: c.jwt.locations, headerName: c.jwt.headerName,
                                      headerType: c.jwt.headerType, cookieName: c.jwt.cookieName,
                                      queryParameter: c.jwt.queryParam),
            verifier: TokenVerifier(keys: keys, policy: policy),
            csrfCheck: c.jwt.csrf, failMode: c.revocation.failMode,
            revokesRawTokens: !c.revocation.tokenKey.isEmpty, claimHeaders: plan)
    }
}

extension Duration {
    /// The duration in seconds, with its fraction.
    public var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
