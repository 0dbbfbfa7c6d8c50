extension ConfigurationKey {
    /// TLS on the proxy listener and towards an `https://` upstream. The files are read at load
    /// (so `check-config` reports an unreadable one) and the listener's again on every reload.
    static var proxyTLSKeys: [ConfigurationKey] {
        [
            .file("proxy.tls_cert_file", \.proxy.tlsCertFile),
            .file("proxy.tls_key_file", \.proxy.tlsKeyFile),
            .file("proxy.upstream_ca_file", \.proxy.upstreamCAFile),
        ]
    }

    /// TLS on the admin listener.
    static var adminTLSKeys: [ConfigurationKey] {
        [
            .file("admin.tls_cert_file", \.admin.tlsCertFile),
            .file("admin.tls_key_file", \.admin.tlsKeyFile),
        ]
    }
}
