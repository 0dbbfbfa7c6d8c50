import Foundation

/// Parsers for the addresses and URLs in the configuration. Hand-written rather than Foundation's
/// `URL`, whose leniency differs between Darwin and Linux; the proxy must refuse the same inputs on both.
extension ConfigValueParsers {
    /// `host:port` or `[v6]:port`; port 0 asks the OS for a free one.
    static func listenAddress(_ text: String) throws(InvalidConfigValue) -> ListenAddress {
        let (host, port) = try hostAndPort(trimmed(text), defaultPort: nil, ports: 0...65535)
        return ListenAddress(host: host, port: port)
    }

    /// `host:port` of a server to connect to (a Redis Sentinel or Cluster node): both required.
    static func nodeAddress(_ text: String) throws(InvalidConfigValue) -> ListenAddress {
        let (host, port) = try hostAndPort(trimmed(text), defaultPort: nil, ports: 1...65535)
        guard !host.isEmpty else { throw InvalidConfigValue("needs a host") }
        return ListenAddress(host: host, port: port)
    }

    /// `http://host[:port][/prefix]`.
    static func upstreamURL(_ text: String) throws(InvalidConfigValue) -> UpstreamURL {
        let trimmed = trimmed(text)
        guard let (scheme, rest) = splitScheme(trimmed), scheme == "http" || scheme == "https" else {
            throw InvalidConfigValue("expected an http:// or https:// URL")
        }
        if rest.contains("?") || rest.contains("#") {
            throw InvalidConfigValue("a query or fragment is not allowed in the upstream URL")
        }
        let (authority, path) = splitAuthority(rest)
        if authority.contains("@") { throw InvalidConfigValue("user information is not allowed in the upstream URL") }
        let (host, port) = try hostAndPort(authority, defaultPort: scheme == "https" ? 443 : 80, ports: 1...65535)
        guard path.unicodeScalars.allSatisfy(isPathCharacter) else {
            throw InvalidConfigValue("the path prefix may hold only URL path characters (percent-encode the rest)")
        }
        var prefix = Substring(path)
        while prefix.hasSuffix("/") { prefix = prefix.dropLast() }
        return UpstreamURL(tls: scheme == "https", host: host, port: port, pathPrefix: String(prefix))
    }

    /// `redis://[user:pass@]host[:port][/db]`, `rediss://` for TLS.
    static func redisURL(_ text: String) throws(InvalidConfigValue) -> RedisURL {
        let trimmed = trimmed(text)
        guard let (scheme, rest) = splitScheme(trimmed), scheme == "redis" || scheme == "rediss" else {
            throw InvalidConfigValue("expected a redis:// or rediss:// URL")
        }
        if rest.contains("?") || rest.contains("#") {
            throw InvalidConfigValue("query parameters and fragments are not supported")
        }
        // The last "@" ends the userinfo, so an unencoded "@" inside a password still parses.
        var username: String?
        var password: String?
        var hostPart = Substring(rest)
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            hostPart = rest[rest.index(after: at)...]
            let pieces = userinfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            username = try percentDecoded(pieces[0])
            password = pieces.count == 2 ? try percentDecoded(pieces[1]) : nil
        }
        let (authority, path) = splitAuthority(String(hostPart))
        let (host, port) = try hostAndPort(authority, defaultPort: 6379, ports: 1...65535)
        var database = 0
        let dbText = path.drop { $0 == "/" }
        if !dbText.isEmpty {
            guard dbText.allSatisfy(ConfigValueParsers.isDigit), let number = Int(dbText), number <= Int(Int32.max) else {
                throw InvalidConfigValue("the path must be a database number, e.g. /0")
            }
            database = number
        }
        return RedisURL(tls: scheme == "rediss", host: host, port: port, database: database,
                        username: username, password: password)
    }

    /// An http:// or https:// URL with a host, checked only as far as a typo would show.
    static func webURL(_ text: String) throws(InvalidConfigValue) -> String {
        let trimmed = trimmed(text)
        guard let (scheme, rest) = splitScheme(trimmed), scheme == "http" || scheme == "https" else {
            throw InvalidConfigValue("expected an http:// or https:// URL")
        }
        guard !trimmed.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 }) else {
            throw InvalidConfigValue("a URL may not contain spaces or control characters")
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let hostAndPort = authority.split(separator: "@").last.map(String.init) ?? ""
        _ = try self.hostAndPort(hostAndPort, defaultPort: scheme == "https" ? 443 : 80, ports: 1...65535)
        return trimmed
    }

    // MARK: - Pieces

    /// Lower-cased scheme and the text after `://`.
    private static func splitScheme(_ text: String) -> (String, String)? {
        guard let range = text.firstRange(of: "://") else { return nil }
        return (text[..<range.lowerBound].lowercased(), String(text[range.upperBound...]))
    }

    private static func splitAuthority(_ rest: String) -> (authority: String, path: String) {
        guard let slash = rest.firstIndex(of: "/") else { return (rest, "") }
        return (String(rest[..<slash]), String(rest[slash...]))
    }

    private static func hostAndPort(_ text: String, defaultPort: Int?, ports: ClosedRange<Int>) throws(InvalidConfigValue) -> (String, Int) {
        let host: String
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw InvalidConfigValue("missing \"]\" after the IPv6 address") }
            host = String(text[text.index(after: text.startIndex)..<close])
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw InvalidConfigValue("expected \":port\" after the IPv6 address") }
                portText = after.dropFirst()
            }
            guard isIPv6Literal(host) else { throw InvalidConfigValue("\"\(host)\" is not an IPv6 address") }
        } else {
            let pieces = text.split(separator: ":", omittingEmptySubsequences: false)
            if pieces.count > 2 { throw InvalidConfigValue("write an IPv6 address in brackets, e.g. [::1]:8080") }
            host = String(pieces[0])
            portText = pieces.count == 2 ? pieces[1] : nil
            guard !host.isEmpty else { throw InvalidConfigValue("the host is missing") }
            guard isHostName(host) else { throw InvalidConfigValue("\"\(host)\" is not a valid host name or address") }
        }
        guard let portText else {
            guard let defaultPort else { throw InvalidConfigValue("expected host:port, e.g. 0.0.0.0:8080") }
            return (host, defaultPort)
        }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy(ConfigValueParsers.isDigit),
              let port = Int(portText), ports.contains(port)
        else { throw InvalidConfigValue("the port must be a number from \(ports.lowerBound) to \(ports.upperBound)") }
        return (host, port)
    }

    private static func isHostName(_ host: String) -> Bool {
        host.unicodeScalars.allSatisfy { $0.properties.isAlphabetic && $0.isASCII || ("0"..."9").contains($0) || $0 == "." || $0 == "-" || $0 == "_" }
    }

    private static func isIPv6Literal(_ host: String) -> Bool {
        // The zone (`%eth0`) is interface-specific; only its characters are checked.
        let parts = host.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false)
        let address = parts[0]
        let zoneIsValid = parts.count == 1 || (!parts[1].isEmpty && parts[1].unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "." || $0 == "-" || $0 == "_") })
        return address.contains(":") && zoneIsValid
            && address.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isASCIIHexDigit || $0 == ":" || $0 == ".") }
    }

    /// RFC 3986 `pchar` plus "/".
    private static func isPathCharacter(_ scalar: Unicode.Scalar) -> Bool {
        guard scalar.isASCII else { return false }
        if scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) { return true }
        return "-._~!$&'()*+,;=:@/%".unicodeScalars.contains(scalar)
    }

    private static func percentDecoded(_ text: Substring) throws(InvalidConfigValue) -> String? {
        guard !text.isEmpty else { return nil }
        guard let decoded = String(text).removingPercentEncoding else {
            throw InvalidConfigValue("invalid percent-encoding in the user name or password")
        }
        return decoded
    }
}
