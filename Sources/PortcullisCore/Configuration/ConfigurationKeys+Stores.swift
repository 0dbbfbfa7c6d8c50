extension ConfigurationKey {
    static var revocationKeys: [ConfigurationKey] {
        [
            .choice("revocation.store", \.revocation.store),
            .string("revocation.file", \.revocation.file, check: { text throws(InvalidConfigValue) in
                guard !text.isEmpty else { throw InvalidConfigValue("must not be empty") }
                return text
            }),
            .scalar("revocation.redis_url", \.revocation.redisURL, expected: "a URL", redact: redactingUserinfo,
                    parse: ConfigValueParsers.redisURL, render: { .string($0.description) }),
            .file("revocation.redis_tls_ca_file", \.revocation.redisTLSCAFile),
            .string("revocation.jti_key", \.revocation.jtiKey, check: { text throws(InvalidConfigValue) in
                try ConfigValueParsers.keyTemplate(text, placeholder: "{jti}")
            }),
            .string("revocation.token_key", \.revocation.tokenKey, check: { text throws(InvalidConfigValue) in
                text.isEmpty ? text : try ConfigValueParsers.keyTemplate(text, placeholder: "{token}")
            }),
            .string("revocation.subject_key", \.revocation.subjectKey, check: { text throws(InvalidConfigValue) in
                try ConfigValueParsers.keyTemplate(text, placeholder: "{sub}")
            }),
            .duration("revocation.max_ttl", \.revocation.maxTTL, floor: .oneSecond),
            .choice("revocation.fail_mode", \.revocation.failMode),
            .duration("revocation.timeout", \.revocation.timeout, floor: .positive),
            .list("revocation.redis_sentinels", \.revocation.redisSentinels, expected: "a list of host:port",
                  rejectsDuplicates: true, parseItem: ConfigValueParsers.nodeAddress,
                  renderItem: { .string($0.description) }),
            .string("revocation.redis_sentinel_master", \.revocation.redisSentinelMaster,
                    check: { text throws(InvalidConfigValue) in
                        guard !text.isEmpty else { throw InvalidConfigValue("must not be empty") }
                        return text
                    }),
            .scalar("revocation.redis_sentinel_password", \.revocation.redisSentinelPassword, expected: "a string",
                    redact: { _ in redactedText }, parse: { text throws(InvalidConfigValue) in text.isEmpty ? nil : text },
                    render: { $0 == nil ? .null : .string(redactedText) }),
            .list("revocation.redis_cluster_nodes", \.revocation.redisClusterNodes, expected: "a list of host:port",
                  rejectsDuplicates: true, parseItem: ConfigValueParsers.nodeAddress,
                  renderItem: { .string($0.description) }),
            .integer("revocation.write_replicas", \.revocation.writeReplicas, range: 0...100),
            .choice("revocation.local_cache", \.revocation.localCache),
            .integer("revocation.local_cache_entries", \.revocation.localCacheEntries, range: 1...100_000_000),
        ]
    }

    static var adminKeys: [ConfigurationKey] {
        [
            .scalar("admin.listen", \.admin.listen, expected: "host:port", parse: ConfigValueParsers.listenAddress,
                    render: { .string($0.description) }),
            .secret("admin.token", \.admin.token, fileField: \.admin.tokenFile, fileKey: "admin.token_file"),
            .file("admin.token_file", \.admin.tokenFile, keepsContents: true),
            .file("admin.tokens_file", \.admin.tokensFile, keepsContents: true),
            .integer("admin.audit_max_entries", \.admin.auditMaxEntries, range: 1...100_000_000),
        ]
    }

    static var errorsFormat: ConfigurationKey {
        .choice("errors.format", \.errors.format)
    }

    static var logKeys: [ConfigurationKey] {
        [
            .choice("log.level", \.log.level, among: Configuration.Log.levels),
            .choice("log.format", \.log.format, among: Configuration.Log.formats),
        ]
    }

    /// Hides a Redis password even in a URL too broken to parse: everything between `://` and the
    /// last `@` goes.
    static func redactingUserinfo(_ text: String) -> String {
        guard let schemeEnd = text.firstRange(of: "://"), let at = text.lastIndex(of: "@"), at >= schemeEnd.upperBound else {
            return text
        }
        return String(text[..<schemeEnd.upperBound]) + redactedText + String(text[at...])
    }
}
