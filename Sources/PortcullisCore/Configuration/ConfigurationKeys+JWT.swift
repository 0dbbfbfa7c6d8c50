extension ConfigurationKey {
    static var jwtKeys: [ConfigurationKey] {
        [
            .list("jwt.algorithms", \.jwt.algorithms, expected: "a list of algorithms", requiresItems: true, rejectsDuplicates: true,
                  parseItem: { text throws(InvalidConfigValue) in try ConfigValueParsers.choice(text, of: JWTAlgorithm.self) },
                  renderItem: { .plain($0.rawValue) }),
            .secret("jwt.secret", \.jwt.secret, fileField: \.jwt.secretFile, fileKey: "jwt.secret_file"),
            .file("jwt.secret_file", \.jwt.secretFile, keepsContents: true),
            .file("jwt.public_key_file", \.jwt.publicKeyFile),
            .file("jwt.jwks_file", \.jwt.jwksFile),
            .optionalString("jwt.jwks_url", \.jwt.jwksURL, check: ConfigValueParsers.webURL),
            .duration("jwt.jwks_refresh_interval", \.jwt.jwksRefreshInterval, floor: .positive),
            .duration("jwt.jwks_min_refetch_interval", \.jwt.jwksMinRefetchInterval, floor: .zero),
            .file("jwt.jwks_tls_ca_file", \.jwt.jwksTLSCAFile),
            .optionalString("jwt.issuer", \.jwt.issuer),
            .list("jwt.audience", \.jwt.audience, expected: "a list of audiences", parseItem: { text throws(InvalidConfigValue) in
                guard !text.isEmpty else { throw InvalidConfigValue("an audience must not be empty") }
                return text
            }, renderItem: { .string($0) }),
            .duration("jwt.leeway", \.jwt.leeway, floor: .zero),
            .choice("jwt.token_type", \.jwt.tokenType),
            .list("jwt.locations", \.jwt.locations, expected: "a list of locations", requiresItems: true, rejectsDuplicates: true,
                  parseItem: { text throws(InvalidConfigValue) in try ConfigValueParsers.choice(text, of: TokenLocation.self) },
                  renderItem: { .plain($0.rawValue) }),
            .string("jwt.header_name", \.jwt.headerName, check: ConfigValueParsers.httpToken),
            .string("jwt.header_type", \.jwt.headerType, check: { text throws(InvalidConfigValue) in
                // Empty is meaningful: the whole header value is the token.
                text.isEmpty ? text : try ConfigValueParsers.httpToken(text)
            }),
            .string("jwt.cookie_name", \.jwt.cookieName, check: ConfigValueParsers.httpToken),
            .string("jwt.query_param", \.jwt.queryParam, check: { text throws(InvalidConfigValue) in
                guard !text.isEmpty else { throw InvalidConfigValue("must not be empty") }
                guard !text.unicodeScalars.contains(where: { "&=#?+% ".unicodeScalars.contains($0) || $0.value < 0x20 }) else {
                    throw InvalidConfigValue("must be a plain query parameter name (no &=#?+% or spaces)")
                }
                return text
            }),
            .boolean("jwt.csrf", \.jwt.csrf),
        ]
    }
}
