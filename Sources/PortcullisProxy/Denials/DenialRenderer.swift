import NIOCore
import PortcullisCore

/// The one place where a denial becomes an HTTP answer. Every answer is rendered to wire bytes
/// once for the configured `errors.format`, in two variants (keeping the connection, and with
/// `Connection: close`); per request one of them is written as it is.
struct DenialRenderer: Sendable {
    struct Rendered: Sendable {
        let status: Int
        /// The whole answer, head and JSON body, for a connection that stays open.
        let keepAlive: ByteBuffer
        /// The same with `Connection: close`.
        let close: ByteBuffer
    }

    private let rendered: [Denial: Rendered]
    let badRequest: Rendered
    let headerTooLarge: Rendered
    let uriTooLong: Rendered

    /// Answers written where no request is in progress (a head that never completed, a
    /// connection refused at accept); both close the connection.
    static let requestTimeoutWire = render(status: 408, message: "Request timeout", errorType: "RequestTimeout",
                                           wwwAuthenticate: nil).close
    static let tooManyConnectionsWire = render(status: 503, message: "Too many connections",
                                               errorType: "TooManyConnections", wwwAuthenticate: nil).close

    /// `denyStatus` is the forward-auth listener's `authz.deny_status`; the proxy keeps `.authx`.
    init(format: ErrorFormat, denyStatus: ForwardAuthDenyStatus = .authx) {
        var table: [Denial: Rendered] = [:]
        for denial in Denial.allCases {
            table[denial] = Self.render(status: denial.status(in: format, denyStatus: denyStatus), message: denial.message,
                                        errorType: denial.errorType,
                                        wwwAuthenticate: denial.wwwAuthenticate(in: format, denyStatus: denyStatus))
        }
        rendered = table
        badRequest = Self.render(status: 400, message: "Bad Request", errorType: "BadRequest", wwwAuthenticate: nil)
        headerTooLarge = Self.render(status: 431, message: "Request Header Fields Too Large",
                                     errorType: "RequestHeaderFieldsTooLarge", wwwAuthenticate: nil)
        uriTooLong = Self.render(status: 414, message: "URI too long", errorType: "URITooLong", wwwAuthenticate: nil)
    }

    func rendering(_ denial: Denial) -> Rendered {
        // Every case was rendered in init.
        rendered[denial]!
    }

    /// A 403 for missing scopes: its message names the token's scopes, so it is rendered here,
    /// on the denial path only. Status and `WWW-Authenticate` are the same in both formats.
    func rendering(_ refusal: ScopeRefusal) -> Rendered {
        Self.render(status: refusal.denial.status, message: refusal.message, errorType: refusal.denial.errorType,
                    wwwAuthenticate: refusal.wwwAuthenticate)
    }

    static func render(status: Int, message: String, errorType: String, wwwAuthenticate: String?) -> Rendered {
        let json = ErrorBody(message: message, errorType: errorType).json
        var head = "HTTP/1.1 \(status) \(reasonPhrase(status))\r\n"
        head += "Content-Type: application/json\r\n"
        head += "Content-Length: \(json.utf8.count)\r\n"
        if let wwwAuthenticate { head += "WWW-Authenticate: \(wwwAuthenticate)\r\n" }
        return Rendered(status: status, keepAlive: ByteBuffer(string: head + "\r\n" + json),
                        close: ByteBuffer(string: head + "Connection: close\r\n\r\n" + json))
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 408: "Request Timeout"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 422: "Unprocessable Entity"
        case 431: "Request Header Fields Too Large"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Error"
        }
    }
}
