import NIOCore
import NIOHTTP1
import PortcullisCore

/// The one place where a denial becomes an HTTP answer. Heads and bodies are built once for
/// the configured `errors.format`; per request they are only written.
struct DenialRenderer: Sendable {
    struct Rendered: Sendable {
        let head: HTTPResponseHead
        let body: ByteBuffer
    }

    private let rendered: [Denial: Rendered]
    let badRequest: Rendered
    let headerTooLarge: Rendered
    let uriTooLong: Rendered

    /// Answers written below the HTTP codec, as bytes, where no request head was delivered
    /// (a head that never completed, a connection refused at accept); both close the connection.
    static let requestTimeoutWire = wire(render(status: 408, message: "Request timeout", errorType: "RequestTimeout",
                                                wwwAuthenticate: nil))
    static let tooManyConnectionsWire = wire(render(status: 503, message: "Too many connections",
                                                    errorType: "TooManyConnections", wwwAuthenticate: nil))

    init(format: ErrorFormat) {
        var table: [Denial: Rendered] = [:]
        for denial in Denial.allCases {
            table[denial] = Self.render(status: denial.status(in: format), message: denial.message,
                                        errorType: denial.errorType,
                                        wwwAuthenticate: denial.wwwAuthenticate(in: format))
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
        let json = #"{"message": "\#(JSONStringEncoding.escaped(message))", "error_type": "\#(JSONStringEncoding.escaped(errorType))"}"#
        let body = ByteBuffer(string: json)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        if let wwwAuthenticate { headers.add(name: "WWW-Authenticate", value: wwwAuthenticate) }
        return Rendered(head: HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: headers),
                        body: body)
    }

    /// The answer as HTTP/1.1 bytes with `Connection: close`.
    static func wire(_ answer: Rendered) -> ByteBuffer {
        var text = "HTTP/1.1 \(answer.head.status.code) \(answer.head.status.reasonPhrase)\r\n"
        for (name, value) in answer.head.headers { text += "\(name): \(value)\r\n" }
        text += "Connection: close\r\n\r\n"
        var bytes = ByteBuffer(string: text)
        bytes.writeImmutableBuffer(answer.body)
        return bytes
    }
}
