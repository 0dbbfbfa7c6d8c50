/// `routes`: a top-level list of per-path policies. In YAML a list of mappings; from the
/// environment (`PORTCULLIS_ROUTES`) the same list as JSON. Problems name the entry and its key,
/// `routes[2].scopes_mode`, so an operator finds the line at once.
extension ConfigurationKey {
    /// Keys written at the top level of the file rather than inside a section.
    static let topLevelKeys: Set<String> = ["routes"]

    static let routeFieldNames = ["path", "methods", "auth", "token_type", "fresh", "scopes", "scopes_mode"]

    static var routesKey: ConfigurationKey {
        ConfigurationKey("routes", apply: { key, setting, session in
            let entries: [ConfigNode]
            switch (setting.value, setting.source) {
            case (.sequence(let items), _):
                entries = items
            case (.scalar(let text), .environment) where ConfigValueParsers.trimmed(text).isEmpty:
                // An empty variable clears the value from the file, as for every key.
                entries = []
            case (.scalar(let text), .environment):
                do throws(JSONSyntaxError) {
                    guard case .array(let items) = try JSONValue.parse(text) else {
                        session.report(key, setting, value: nil, reason: "expected a JSON array of route objects")
                        return
                    }
                    entries = items.map(ConfigNode.init(json:))
                } catch {
                    session.report(key, setting, value: nil, reason: "is not valid JSON: \(error.reason) at byte \(error.offset)")
                    return
                }
            default:
                session.report(key, setting, reason: "expected a list of routes (mappings with path, methods, auth, "
                               + "token_type, fresh, scopes, scopes_mode), got \(setting.value.kindName)")
                return
            }
            var routes: [Configuration.Route] = []
            var isValid = true
            for (index, entry) in entries.enumerated() {
                var reader = RouteReader(index: index, key: key, setting: setting)
                if let route = reader.read(entry, session: &session) {
                    routes.append(route)
                } else {
                    isValid = false
                }
            }
            if isValid { session.configuration.routes = routes }
        }, render: { configuration in
            .list(configuration.routes.map { .plain(renderRoute($0)) })
        })
    }

    /// One flow mapping per route, defaults left out except `auth`, so the output reads like what
    /// an operator writes and loads back to the same routes.
    static func renderRoute(_ route: Configuration.Route) -> String {
        var fields = ["path: \(ConfigYAMLWriter.quoted(route.path))"]
        if !route.methods.isEmpty { fields.append("methods: [\(route.methods.joined(separator: ", "))]") }
        fields.append("auth: \(route.auth.rawValue)")
        if let tokenType = route.tokenType { fields.append("token_type: \(tokenType.rawValue)") }
        if route.fresh { fields.append("fresh: true") }
        if !route.scopes.isEmpty {
            fields.append("scopes: [\(route.scopes.map(ConfigYAMLWriter.quoted).joined(separator: ", "))]")
            fields.append("scopes_mode: \(route.scopesMode.rawValue)")
        }
        return "{" + fields.joined(separator: ", ") + "}"
    }
}

/// Reads one entry of `routes`, reporting every problem under `routes[i].field`.
private struct RouteReader {
    let index: Int
    let key: ConfigurationKey
    let setting: ConfigSetting
    var isValid = true

    init(index: Int, key: ConfigurationKey, setting: ConfigSetting) {
        self.index = index
        self.key = key
        self.setting = setting
    }

    private mutating func report(_ field: String?, value: String?, reason: String, session: inout ConfigurationLoadSession) {
        let path = field.map { "routes[\(index)].\($0)" } ?? "routes[\(index)]"
        session.report(path: path, failing: key.path, setting, value: value, reason: reason)
        isValid = false
    }

    mutating func read(_ entry: ConfigNode, session: inout ConfigurationLoadSession) -> Configuration.Route? {
        guard case .mapping(let pairs) = entry else {
            report(nil, value: entry.display, reason: "expected a mapping with at least a path, got \(entry.kindName)", session: &session)
            return nil
        }
        var fields: [String: ConfigNode] = [:]
        for (name, value) in pairs {
            guard ConfigurationKey.routeFieldNames.contains(name) else {
                let suggestion = ConfigKeySuggestion.closest(to: name, among: ConfigurationKey.routeFieldNames)
                report(name, value: nil, reason: "unknown key" + (suggestion.map { "; did you mean \($0)?" } ?? "")
                       + " (a route has \(ConfigurationKey.routeFieldNames.joined(separator: ", ")))", session: &session)
                continue
            }
            guard fields[name] == nil else {
                report(name, value: nil, reason: "is given more than once", session: &session)
                continue
            }
            // Left empty (`fresh:`), a field keeps its default, as keys do.
            if case .null = value { continue }
            fields[name] = value
        }

        var path: String?
        if let node = fields["path"] {
            path = scalar("path", node, session: &session, ConfigValueParsers.pathPattern)
        } else {
            report("path", value: nil, reason: "is required", session: &session)
        }
        var route = Configuration.Route(path: path ?? "/")
        if let node = fields["methods"], let methods = list("methods", node, expected: "a list of HTTP methods", session: &session, { text throws(InvalidConfigValue) in
            guard ConfigValueParsers.isHTTPToken(text) else { throw InvalidConfigValue("is not an HTTP method name") }
            return text.uppercased()
        }) {
            var seen: Set<String> = []
            for method in methods where !seen.insert(method).inserted {
                report("methods", value: method, reason: "is listed more than once", session: &session)
            }
            if methods.isEmpty {
                report("methods", value: nil, reason: "must list at least one method; leave methods out to match every method", session: &session)
            }
            route.methods = methods
        }
        if let node = fields["auth"], let auth = scalar("auth", node, session: &session, { text throws(InvalidConfigValue) in
            try ConfigValueParsers.choice(text, of: RouteAuth.self)
        }) {
            route.auth = auth
        }
        if let node = fields["token_type"], let tokenType = scalar("token_type", node, session: &session, { text throws(InvalidConfigValue) in
            try ConfigValueParsers.choice(text, of: RequiredTokenType.self)
        }) {
            route.tokenType = tokenType
        }
        if let node = fields["fresh"], let fresh = scalar("fresh", node, session: &session, ConfigValueParsers.boolean) {
            route.fresh = fresh
        }
        if let node = fields["scopes"], let scopes = list("scopes", node, expected: "a list of scopes", session: &session, Self.scope) {
            route.scopes = scopes
        }
        if let node = fields["scopes_mode"], let mode = scalar("scopes_mode", node, session: &session, { text throws(InvalidConfigValue) in
            try ConfigValueParsers.choice(text, of: ScopesMode.self)
        }) {
            route.scopesMode = mode
        }
        if route.auth == .none {
            // A requirement on an open route would read as enforced while nothing checks it.
            for field in ["token_type", "fresh", "scopes", "scopes_mode"] where fields[field] != nil {
                report(field, value: nil, reason: "has no effect with auth: none; remove it or drop auth: none", session: &session)
            }
        }
        return isValid ? route : nil
    }

    /// A scope as RFC 6749 §3.3 spells one (printable ASCII without space, `"` or `\`), so the
    /// `WWW-Authenticate` header's space-separated `scope="…"` can carry it as it is.
    private static func scope(_ text: String) throws(InvalidConfigValue) -> String {
        guard !text.isEmpty else { throw InvalidConfigValue("a scope must not be empty") }
        guard text.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) else {
            throw InvalidConfigValue("a scope is printable ASCII without spaces, quotes or backslashes (RFC 6749 §3.3)")
        }
        return text
    }

    private mutating func scalar<T>(_ field: String, _ node: ConfigNode, session: inout ConfigurationLoadSession,
                                    _ parse: (String) throws(InvalidConfigValue) -> T) -> T? {
        guard case .scalar(let text) = node else {
            report(field, value: node.display, reason: "expected a single value, got \(node.kindName)", session: &session)
            return nil
        }
        do throws(InvalidConfigValue) {
            return try parse(text)
        } catch {
            report(field, value: text, reason: error.reason, session: &session)
            return nil
        }
    }

    /// A list, or a single value taken as a one-element list (the mistake operators make most).
    private mutating func list<T>(_ field: String, _ node: ConfigNode, expected: String, session: inout ConfigurationLoadSession,
                                  _ parse: (String) throws(InvalidConfigValue) -> T) -> [T]? {
        let items: [ConfigNode]
        switch node {
        case .scalar: items = [node]
        case .sequence(let sequence): items = sequence
        default:
            report(field, value: node.display, reason: "expected \(expected), got \(node.kindName)", session: &session)
            return nil
        }
        var values: [T] = []
        var allRead = true
        for item in items {
            guard case .scalar(let text) = item else {
                report(field, value: item.display, reason: "expected \(expected), but an item is \(item.kindName)", session: &session)
                allRead = false
                continue
            }
            do throws(InvalidConfigValue) {
                values.append(try parse(text))
            } catch {
                report(field, value: text, reason: error.reason, session: &session)
                allRead = false
            }
        }
        return allRead ? values : nil
    }
}

extension ConfigNode {
    /// JSON from the environment, in the shape the YAML reader produces: every scalar as its text.
    init(json: JSONValue) {
        switch json {
        case .null: self = .null
        case .bool(let value): self = .scalar(value ? "true" : "false")
        case .number(let text), .string(let text): self = .scalar(text)
        case .array(let items): self = .sequence(items.map(ConfigNode.init(json:)))
        case .object(let members):
            // JSON objects carry no order; the route fields are then read in a fixed one.
            self = .mapping(members.sorted { $0.key < $1.key }.map { (key: $0.key, value: ConfigNode(json: $0.value)) })
        }
    }
}
