/// `authz.deny_status`: how the forward-auth endpoint answers a token failure.
public enum ForwardAuthDenyStatus: String, Sendable, CaseIterable {
    /// As the proxy does (§3): 401, 422, 403, 503 with AuthX's texts.
    case authx
    /// 401 for every token failure, for ingresses (nginx `auth_request`) that accept only 2xx,
    /// 401 and 403 from an auth service. 403 and 503 keep their status.
    case unauthorized = "401"
}

extension Configuration {
    public struct Authz: Sendable, Equatable {
        /// nil: no forward-auth listener.
        public var listen: ListenAddress? = nil
        public var denyStatus: ForwardAuthDenyStatus = .authx

        public init() {}
    }
}

extension ConfigurationKey {
    static var authzKeys: [ConfigurationKey] {
        [
            .scalar("authz.listen", \.authz.listen, expected: "host:port or empty", parse: { text throws(InvalidConfigValue) in
                ConfigValueParsers.trimmed(text).isEmpty ? nil : try ConfigValueParsers.listenAddress(text)
            }, render: { .string($0?.description ?? "") }),
            // YAML's 401 arrives as the scalar text "401", the same as the string.
            .choice("authz.deny_status", \.authz.denyStatus),
        ]
    }
}
