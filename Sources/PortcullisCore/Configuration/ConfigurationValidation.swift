/// Checks that involve more than one key. They run after every key has been read, and skip any key
/// that was already refused so that one mistake is reported once.
extension ConfigurationLoadSession {
    mutating func resolveSecretFiles() {
        resolveAdminCredentials()
        if resolveSecret(valueKey: "jwt.secret", fileKey: "jwt.secret_file", value: \.jwt.secret, file: \.jwt.secretFile),
           let contents = fileContents["jwt.secret_file"] {
            configuration.jwt.secretBytes = ConfigurationFiles.secret(fromBytes: contents)
        }
        if resolveSecret(valueKey: "admin.token", fileKey: "admin.token_file", value: \.admin.token, file: \.admin.tokenFile),
           let contents = fileContents["admin.token_file"] {
            // A bearer token travels in a header: it must be text.
            guard let text = String(validating: ConfigurationFiles.secret(fromBytes: contents), as: UTF8.self) else {
                fail("admin.token_file", value: configuration.admin.tokenFile, reason: "the file is not UTF-8 text")
                return
            }
            configuration.admin.token = text
        }
    }

    mutating func checkAcrossKeys() {
        checkUpstream()
        checkHMACSecret()
        checkVerificationKeys()
        checkOneJWKSSource()
        checkAdminToken()
        checkListenersDiffer()
        checkClaimHeadersKeepToken()
        checkTLSPairs()
        checkRedisTopology()
    }

    /// A certificate without its key (or the reverse) is a half-configured listener: refused,
    /// rather than silently serving plain HTTP.
    private mutating func checkTLSPairs() {
        for (certificate, key, certificateKey, keyKey) in [
            (configuration.proxy.tlsCertFile, configuration.proxy.tlsKeyFile, "proxy.tls_cert_file", "proxy.tls_key_file"),
            (configuration.admin.tlsCertFile, configuration.admin.tlsKeyFile, "admin.tls_cert_file", "admin.tls_key_file"),
        ] where failedKeys.isDisjoint(with: [certificateKey, keyKey]) {
            if certificate != nil, key == nil { fail(keyKey, value: nil, reason: "is required when \(certificateKey) is set") }
            if key != nil, certificate == nil { fail(certificateKey, value: nil, reason: "is required when \(keyKey) is set") }
        }
        if let ca = configuration.proxy.upstreamCAFile, let upstream = configuration.proxy.upstream, !upstream.tls,
           !failedKeys.contains("proxy.upstream_ca_file") {
            fail("proxy.upstream_ca_file", value: ca, reason: "is only used with an https:// proxy.upstream")
        }
    }

    /// False when both keys are set, which is refused.
    private mutating func resolveSecret(valueKey: String, fileKey: String,
                                        value: KeyPath<Configuration, String?>,
                                        file: KeyPath<Configuration, String?>) -> Bool {
        if configuration[keyPath: value] != nil, let path = configuration[keyPath: file] {
            // Neither can be preferred silently: the operator would not know which key is in force.
            fail(fileKey, value: path, reason: "\(valueKey) and \(fileKey) are both set; keep one")
            return false
        }
        return true
    }

    private mutating func checkUpstream() {
        guard configuration.proxy.upstream == nil, !failedKeys.contains("proxy.upstream") else { return }
        fail("proxy.upstream", value: nil, reason: "is required")
    }

    private mutating func checkHMACSecret() {
        let hmac = configuration.jwt.algorithms.filter { $0.minimumHMACKeyBytes != nil }
        guard !hmac.isEmpty, failedKeys.isDisjoint(with: ["jwt.algorithms", "jwt.secret", "jwt.secret_file"]) else { return }
        guard let secret = configuration.jwt.secretBytes else {
            // A JWKS may carry the HS keys as `oct` entries (e.g. the old secret during a rotation).
            guard configuration.jwt.jwksFile == nil, configuration.jwt.jwksURL == nil else { return }
            let names = hmac.map(\.rawValue).joined(separator: ", ")
            fail("jwt.secret", value: nil, reason: "is required by \(names) in jwt.algorithms; set jwt.secret or jwt.secret_file")
            return
        }
        guard let strictest = hmac.max(by: { ($0.minimumHMACKeyBytes ?? 0) < ($1.minimumHMACKeyBytes ?? 0) }),
              let needed = strictest.minimumHMACKeyBytes, secret.count < needed
        else { return }
        let (key, value) = secretOrigin(valueKey: "jwt.secret", file: configuration.jwt.secretFile)
        fail(key, value: value, reason: "HMAC keys shorter than the hash output are refused: "
             + "\(strictest.rawValue) needs at least \(needed) bytes, this key has \(secret.count)")
    }

    private mutating func checkVerificationKeys() {
        let asymmetric = configuration.jwt.algorithms.filter { $0.minimumHMACKeyBytes == nil }
        let sources = ["jwt.public_key_file", "jwt.jwks_file", "jwt.jwks_url"]
        guard !asymmetric.isEmpty, failedKeys.isDisjoint(with: sources + ["jwt.algorithms"]),
              configuration.jwt.publicKeyFile == nil, configuration.jwt.jwksFile == nil, configuration.jwt.jwksURL == nil
        else { return }
        let names = asymmetric.map(\.rawValue).joined(separator: ", ")
        fail("jwt.algorithms", value: names, reason: "needs a verification key: set jwt.public_key_file, jwt.jwks_file or jwt.jwks_url")
    }

    /// Two key sets would make "which set does this `kid` come from" a question at reload time.
    private mutating func checkOneJWKSSource() {
        guard let url = configuration.jwt.jwksURL, configuration.jwt.jwksFile != nil,
              !failedKeys.contains("jwt.jwks_url")
        else { return }
        fail("jwt.jwks_url", value: url, reason: "set either jwt.jwks_file or jwt.jwks_url, not both")
    }

    /// 16 characters: short enough for any generated token, long enough to rule out `admin`/`changeme`.
    private mutating func checkAdminToken() {
        guard let token = configuration.admin.token, failedKeys.isDisjoint(with: ["admin.token", "admin.token_file"]),
              token.count < 16
        else { return }
        let (key, value) = secretOrigin(valueKey: "admin.token", file: configuration.admin.tokenFile)
        fail(key, value: value, reason: "must be at least 16 characters, this one has \(token.count)")
    }

    private mutating func checkListenersDiffer() {
        let proxy = configuration.proxy.listen, admin = configuration.admin.listen
        guard proxy.port != 0, proxy.port == admin.port, failedKeys.isDisjoint(with: ["proxy.listen", "admin.listen"]) else { return }
        // A wildcard address takes the port on every interface, so it collides with any host.
        let wildcards: Set<String> = ["0.0.0.0", "::"]
        guard proxy.host.lowercased() == admin.host.lowercased() || wildcards.contains(proxy.host) || wildcards.contains(admin.host) else { return }
        fail("admin.listen", value: admin.description, reason: "must differ from proxy.listen (\(proxy))")
    }

    /// Client-sent copies of claim headers are stripped, so a claim header named like the token
    /// header would strip the token before it is read.
    private mutating func checkClaimHeadersKeepToken() {
        guard configuration.jwt.locations.contains(.headers),
              failedKeys.isDisjoint(with: ["proxy.claim_headers", "jwt.header_name"]) else { return }
        let tokenHeader = configuration.jwt.headerName.lowercased()
        for claimHeader in configuration.proxy.claimHeaders where claimHeader.header.lowercased() == tokenHeader {
            fail("proxy.claim_headers", value: claimHeader.header, reason: "is jwt.header_name, which carries the token")
        }
    }

    /// Redis topology keys that contradict each other or the store in use.
    private mutating func checkRedisTopology() {
        let revocation = configuration.revocation
        if revocation.writeReplicas > 0, revocation.store != .redis, !failedKeys.contains("revocation.write_replicas") {
            fail("revocation.write_replicas", value: String(revocation.writeReplicas),
                 reason: "needs revocation.store: redis (the memory store has no replicas)")
        }
        if revocation.localCache == .tracking, revocation.store != .redis, !failedKeys.contains("revocation.local_cache") {
            fail("revocation.local_cache", value: revocation.localCache.rawValue,
                 reason: "needs revocation.store: redis (the memory store answers from memory already)")
        }
        if !revocation.redisClusterNodes.isEmpty, !failedKeys.contains("revocation.redis_cluster_nodes") {
            if !revocation.redisSentinels.isEmpty {
                fail("revocation.redis_cluster_nodes", value: nil,
                     reason: "cannot be set together with revocation.redis_sentinels (a Redis Cluster fails over by itself); keep one")
            }
            if revocation.redisURL.database != 0, !failedKeys.contains("revocation.redis_url") {
                fail("revocation.redis_url", value: nil,
                     reason: "names db \(revocation.redisURL.database), but a Redis Cluster has only db 0 (revocation.redis_cluster_nodes is set)")
            }
        }
        if revocation.redisSentinelPassword != nil, revocation.redisSentinels.isEmpty,
           !failedKeys.contains("revocation.redis_sentinels") {
            fail("revocation.redis_sentinel_password", value: ConfigurationKey.redactedText,
                 reason: "is set but revocation.redis_sentinels is empty")
        }
    }

    /// Where a secret came from, as a problem shows it: the file's path is safe to show, the value is not.
    private func secretOrigin(valueKey: String, file: String?) -> (key: String, value: String) {
        guard let file else { return (valueKey, ConfigurationKey.redactedText) }
        return (String(valueKey) + "_file", file)
    }

    /// `admin.tokens_file`: every malformed line is reported, each with its number.
    private mutating func resolveAdminCredentials() {
        guard let contents = fileContents["admin.tokens_file"], let path = configuration.admin.tokensFile else { return }
        guard let text = String(validating: contents, as: UTF8.self) else {
            fail("admin.tokens_file", value: path, reason: "the file is not UTF-8 text")
            return
        }
        switch AdminCredentials.parse(text) {
        case .success(let credentials):
            configuration.admin.fileCredentials = credentials
        case .failure(let problems):
            for line in problems.lines { fail("admin.tokens_file", value: path, reason: line) }
        }
    }

    private mutating func fail(_ key: String, value: String?, reason: String) {
        problems.append(ConfigurationProblem(key: key, value: value, reason: reason))
        failedKeys.insert(key)
    }
}
