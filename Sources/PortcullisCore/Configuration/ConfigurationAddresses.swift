/// A `host:port` to listen on. IPv6 hosts are held without brackets.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    /// 0 asks the OS for a free port (tests use it).
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`, with brackets around an IPv6 host, in the form the loader accepts back.
    public var description: String {
        "\(bracketedHost(host)):\(port)"
    }
}

/// The backend, `http://` or `https://`. IPv6 hosts are held without brackets.
public struct UpstreamURL: Sendable, Equatable, CustomStringConvertible {
    public var tls: Bool
    public var host: String
    public var port: Int
    /// "" or a path such as "/api", never ending in "/", prepended to every forwarded path.
    public var pathPrefix: String

    public init(tls: Bool = false, host: String, port: Int, pathPrefix: String) {
        self.tls = tls
        self.host = host
        self.port = port
        self.pathPrefix = pathPrefix
    }

    public var description: String {
        "\(tls ? "https" : "http")://\(bracketedHost(host)):\(port)\(pathPrefix)"
    }
}

/// Where the Redis revocation store lives. Username and password are held percent-decoded.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    public var tls: Bool
    public var host: String
    public var port: Int
    public var database: Int
    public var username: String?
    public var password: String?

    public init(tls: Bool, host: String, port: Int, database: Int, username: String?, password: String?) {
        self.tls = tls
        self.host = host
        self.port = port
        self.database = database
        self.username = username
        self.password = password
    }

    /// The URL with the password replaced by `<redacted>`, so it is safe to log.
    public var description: String {
        var userinfo = ""
        if username != nil || password != nil {
            userinfo = percentEncodedUserinfo(username ?? "")
            if password != nil { userinfo += ":<redacted>" }
            userinfo += "@"
        }
        return "\(tls ? "rediss" : "redis")://\(userinfo)\(bracketedHost(host)):\(port)/\(database)"
    }
}

private func bracketedHost(_ host: String) -> String {
    host.contains(":") ? "[\(host)]" : host
}

/// Encodes everything outside RFC 3986 `unreserved`, so a username containing `:` or `@` parses back.
private func percentEncodedUserinfo(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
        let isUnreserved = (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
        if isUnreserved {
            out.unicodeScalars.append(Unicode.Scalar(byte))
        } else {
            let hex = String(byte, radix: 16, uppercase: true)
            out += "%" + (hex.count == 1 ? "0" + hex : hex)
        }
    }
    return out
}
