extension ConfigurationKey {
    static var proxyKeys: [ConfigurationKey] {
        [
            .scalar("proxy.listen", \.proxy.listen, expected: "host:port", parse: ConfigValueParsers.listenAddress,
                    render: { .string($0.description) }),
            .scalar("proxy.upstream", \.proxy.upstream, expected: "a URL", parse: { text throws(InvalidConfigValue) -> UpstreamURL? in
                try ConfigValueParsers.upstreamURL(text)
            }, render: { $0.map { .string($0.description) } ?? .null }),
            .duration("proxy.connect_timeout", \.proxy.connectTimeout, floor: .positive),
            .duration("proxy.upstream_timeout", \.proxy.upstreamTimeout, floor: .positive),
            .integer("proxy.max_header_bytes", \.proxy.maxHeaderBytes, range: 1024...1_048_576),
            .list("proxy.public_paths", \.proxy.publicPaths, expected: "a list of paths",
                  parseItem: ConfigValueParsers.pathPattern, renderItem: { .string($0) }),
            .string("proxy.logout_path", \.proxy.logoutPath, check: { text throws(InvalidConfigValue) in
                guard text.isEmpty || text.hasPrefix("/") else { throw InvalidConfigValue("must be empty or start with \"/\"") }
                return text
            }),
            claimHeaders,
            .integer("proxy.threads", \.proxy.threads, range: 0...256),
            .integer("proxy.max_headers", \.proxy.maxHeaders, range: 1...10_000),
            .integer("proxy.max_uri_bytes", \.proxy.maxURIBytes, range: 64...1_048_576),
            .integer("proxy.max_body_bytes", \.proxy.maxBodyBytes, range: 0...Int(Int64.max)),
            .duration("proxy.header_read_timeout", \.proxy.headerReadTimeout, floor: .positive),
            .duration("proxy.idle_timeout", \.proxy.idleTimeout, floor: .positive),
            .integer("proxy.max_connections", \.proxy.maxConnections, range: 0...10_000_000),
            .duration("proxy.drain_timeout", \.proxy.drainTimeout, floor: .zero),
            .choice("proxy.cors_preflight", \.proxy.corsPreflight),
            .boolean("proxy.websockets", \.proxy.webSockets),
            .duration("proxy.tunnel_recheck_interval", \.proxy.tunnelRecheckInterval, floor: .positive),
        ]
    }

    /// Headers the proxy itself manages on the way upstream; letting a claim overwrite one would
    /// corrupt the forwarded request or let a token smuggle hop-by-hop semantics.
    static let headersRefusedForClaims: Set<String> = [
        "host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer",
        "upgrade", "proxy-authorization", "proxy-authenticate", "x-forwarded-for", "x-forwarded-proto",
        "x-forwarded-host",
    ]

    /// A YAML mapping header → claim (order kept), or `Header=claim,Header=claim` from the environment.
    private static var claimHeaders: ConfigurationKey {
        ConfigurationKey("proxy.claim_headers", apply: { key, setting, session in
            var entries: [(header: String, claim: String)] = []
            var isValid = true
            switch (setting.value, setting.source) {
            case (.mapping(let pairs), _):
                for (header, value) in pairs {
                    guard case .scalar(let claim) = value else {
                        session.report(key, setting, value: header, reason: "expected a claim name for this header, got \(value.kindName)")
                        isValid = false
                        continue
                    }
                    entries.append((header, claim))
                }
            case (.scalar(let text), .environment):
                for item in text.split(separator: ",").map({ ConfigValueParsers.trimmed($0) }) where !item.isEmpty {
                    let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    guard parts.count == 2 else {
                        session.report(key, setting, value: item, reason: "expected Header=claim")
                        isValid = false
                        continue
                    }
                    entries.append((ConfigValueParsers.trimmed(parts[0]), ConfigValueParsers.trimmed(parts[1])))
                }
            default:
                session.report(key, setting, reason: "expected a mapping of header name to claim name, got \(setting.value.kindName)")
                return
            }
            var seen: Set<String> = []
            for entry in entries {
                let lowered = entry.header.lowercased()
                let headerProblem: String? =
                    !ConfigValueParsers.isHTTPToken(entry.header) ? "is not a valid HTTP header name"
                    : headersRefusedForClaims.contains(lowered) ? "is managed by the proxy and cannot carry a claim"
                    : seen.contains(lowered) ? "is listed more than once (header names ignore case)"
                    : nil
                if let headerProblem {
                    session.report(key, setting, value: entry.header, reason: headerProblem)
                    isValid = false
                }
                if entry.claim.isEmpty {
                    session.report(key, setting, value: entry.header, reason: "names no claim")
                    isValid = false
                }
                seen.insert(lowered)
            }
            if isValid {
                session.configuration.proxy.claimHeaders = entries.map { Configuration.ClaimHeader(header: $0.header, claim: $0.claim) }
            }
        }, render: { .pairs($0.proxy.claimHeaders.map { ($0.header, $0.claim) }) })
    }
}
