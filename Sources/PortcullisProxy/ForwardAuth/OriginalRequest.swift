import PortcullisCore

/// The request an ingress asks about, read from the conventions ingresses use: Traefik and
/// Caddy send `X-Forwarded-Method` and `X-Forwarded-Uri`, nginx's `auth_request` is usually
/// given `X-Original-Method` and `X-Original-URI`, Envoy's `ext_authz` sends the original
/// method and path as the check request's own. Where both are present, `X-Forwarded-*` wins.
/// Pure: the gate then judges this method and target as if the request had come to the proxy.
struct OriginalRequest: Equatable {
    var method: String
    /// Origin form: the path and the query.
    var target: String

    init(method: String, target: String) {
        self.method = method
        self.target = target
    }

    init(describedBy headers: some RequestHeaders, ownMethod: String, ownTarget: String) {
        method = Self.present(headers, "x-forwarded-method") ?? Self.present(headers, "x-original-method") ?? ownMethod
        let uri = Self.present(headers, "x-forwarded-uri") ?? Self.present(headers, "x-original-uri")
        target = uri.map(Self.originForm) ?? ownTarget
    }

    private static func present(_ headers: some RequestHeaders, _ name: String) -> String? {
        // The head parser leaves surrounding whitespace out of a field's value.
        guard let value = headers.firstValue(name), !value.isEmpty else { return nil }
        return value
    }

    /// An absolute URI (`https://host/path?q`) becomes its path and query; a bare `?q` or a
    /// path without its leading slash is given one, so the path patterns see what the proxy would.
    static func originForm(_ uri: String) -> String {
        var rest = Substring(uri)
        if let scheme = rest.firstRange(of: "://"), !rest[..<scheme.lowerBound].contains("/") {
            rest = rest[scheme.upperBound...]
            rest = rest.firstIndex(where: { $0 == "/" || $0 == "?" }).map { rest[$0...] } ?? ""
        }
        if let fragment = rest.firstIndex(of: "#") { rest = rest[..<fragment] }
        return rest.hasPrefix("/") ? String(rest) : "/" + rest
    }
}
