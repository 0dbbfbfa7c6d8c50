/// How a request's body is delimited (RFC 9112 §6.3).
enum RequestBodyFraming: Equatable {
    case none
    case length(Int)
    case chunked
}

/// A request head parsed in place: every part is a byte range of the head as it arrived, so
/// nothing is copied or decoded unless the gate or the forwarding needs it.
struct RequestHead {
    var method: Range<Int>
    var target: Range<Int>
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    var minorVersion: Int
    var fields: [HeaderField]
    var framing: RequestBodyFraming
    /// The client wants the connection kept after this request (HTTP/1.1 without `close`, or
    /// HTTP/1.0 with `keep-alive`).
    var keepAlive: Bool
    var expectsContinue: Bool
    /// The request carries an `Upgrade` field.
    var upgrade: Bool
    /// A WebSocket opening handshake (RFC 6455 §4.1): an HTTP/1.1 `GET` without a body whose
    /// `Upgrade` lists `websocket` and whose `Connection` lists `upgrade`. Only this upgrade
    /// is ever relayed.
    var upgradesToWebSocket = false
    /// The index of the one `Host` field, if any.
    var host: Int?
    /// The field lines' bytes are `head[fieldsStart..<length - 2]`.
    var fieldsStart: Int
    var length: Int
}

/// Why a request head was refused; the connection answers and closes.
enum RequestHeadError: Error, Equatable {
    /// 400, with what was wrong (logged at debug level, never sent).
    case malformed(String)
    /// 431: the head is larger than `proxy.max_header_bytes`, or has more than `proxy.max_headers` fields.
    case tooLarge
    /// 414: the request target is longer than `proxy.max_uri_bytes`.
    case uriTooLong
}

/// Parses a complete request head (its `CRLF CRLF` found) by RFC 9112, refusing at least what
/// llhttp refuses, and everything that lets two parsers disagree on where a request ends:
/// Content-Length with Transfer-Encoding, a duplicate or malformed Content-Length, a
/// Transfer-Encoding whose final coding is not chunked, obs-fold, whitespace before a colon,
/// bytes outside field-vchar in a value (NUL, CR, LF), bare LF line ends, and more than one
/// Host (an HTTP/1.1 request needs exactly one).
struct RequestHeadParser {
    struct Limits {
        var maxFields: Int
        var maxTargetBytes: Int
    }

    let limits: Limits

    /// `bytes` holds exactly the head, from the request line to the final empty line's LF.
    /// `fields` is storage kept by the caller between requests, so parsing allocates nothing: it
    /// is moved into the head (and left empty), and given back once the request is done.
    func parse(_ bytes: UnsafeRawBufferPointer, fields: inout [HeaderField]) throws(RequestHeadError) -> RequestHead {
        fields.removeAll(keepingCapacity: true)
        let end = bytes.count
        var position = 0

        // method SP request-target SP HTTP-version CRLF
        while position < end, HTTPBytes.isToken(bytes[position]) { position += 1 }
        guard position > 0, position < end, bytes[position] == HTTPBytes.sp else {
            throw .malformed("invalid method")
        }
        let method = 0..<position
        position += 1
        let targetStart = position
        while position < end, HTTPBytes.isTarget(bytes[position]) { position += 1 }
        guard position > targetStart, position < end, bytes[position] == HTTPBytes.sp else {
            throw .malformed("invalid request target")
        }
        let target = targetStart..<position
        position += 1
        guard position + 10 <= end,
              bytes[position] == UInt8(ascii: "H"), bytes[position + 1] == UInt8(ascii: "T"),
              bytes[position + 2] == UInt8(ascii: "T"), bytes[position + 3] == UInt8(ascii: "P"),
              bytes[position + 4] == UInt8(ascii: "/"), bytes[position + 5] == UInt8(ascii: "1"),
              bytes[position + 6] == UInt8(ascii: "."),
              bytes[position + 7] == UInt8(ascii: "0") || bytes[position + 7] == UInt8(ascii: "1"),
              bytes[position + 8] == HTTPBytes.cr, bytes[position + 9] == HTTPBytes.lf
        else {
            throw .malformed("invalid HTTP version or request line end")
        }
        guard target.count <= limits.maxTargetBytes else { throw .uriTooLong }
        let minor = Int(bytes[position + 7] - UInt8(ascii: "0"))
        position += 10
        let fieldsStart = position

        do {
            try HeaderFieldLines.parse(bytes, from: position, to: end, maxFields: limits.maxFields, into: &fields)
        } catch {
            switch error {
            case .tooMany: throw .tooLarge
            case .malformed(let reason): throw .malformed(reason)
            }
        }

        var contentLength: Int?
        var transferEncoding = false
        var chunkedLast = false
        var chunkedEarlier = false
        var connection = HeaderFieldLines.ConnectionOptions()
        var host: Int?
        var hosts = 0
        var expectsContinue = false
        var upgrade = false
        var webSocket = false
        for index in fields.indices {
            let field = fields[index]
            switch field.name.count {
            case 4 where HTTPBytes.equalsIgnoringCase(bytes, field.name, "host"):
                hosts += 1
                host = index
            case 6 where HTTPBytes.equalsIgnoringCase(bytes, field.name, "expect"):
                expectsContinue = HTTPBytes.equalsIgnoringCase(bytes, field.value, "100-continue")
            case 7 where HTTPBytes.equalsIgnoringCase(bytes, field.name, "upgrade"):
                upgrade = true
                HTTPBytes.forEachListElement(bytes, field.value) { protocolName in
                    if HTTPBytes.equalsIgnoringCase(bytes, protocolName, "websocket") { webSocket = true }
                }
            case 10 where HTTPBytes.equalsIgnoringCase(bytes, field.name, "connection"):
                HeaderFieldLines.connectionOptions(bytes, field.value, into: &connection)
            case 14 where HTTPBytes.equalsIgnoringCase(bytes, field.name, "content-length"):
                guard contentLength == nil else { throw .malformed("more than one Content-Length") }
                guard let length = HTTPBytes.decimal(bytes, field.value), !Self.htabAfterValue(bytes, field) else {
                    throw .malformed("invalid Content-Length")
                }
                contentLength = length
            case 17 where HTTPBytes.equalsIgnoringCase(bytes, field.name, "transfer-encoding"):
                transferEncoding = true
                // As llhttp reads it (so no upstream built on it frames the body otherwise): a HTAB
                // after the last coding, or a trailing comma, leaves chunked not final.
                if Self.htabAfterValue(bytes, field) || field.value.last.map({ bytes[$0] == UInt8(ascii: ",") }) == true {
                    throw .malformed("Transfer-Encoding does not end in a single chunked")
                }
                HTTPBytes.forEachListElement(bytes, field.value) { coding in
                    if chunkedLast { chunkedEarlier = true }
                    chunkedLast = HTTPBytes.equalsIgnoringCase(bytes, coding, "chunked")
                }
            default:
                break
            }
        }
        guard hosts <= 1 else { throw .malformed("more than one Host") }
        guard hosts == 1 || minor == 0 else { throw .malformed("HTTP/1.1 request without Host") }
        let framing: RequestBodyFraming
        if transferEncoding {
            guard contentLength == nil else { throw .malformed("both Content-Length and Transfer-Encoding") }
            guard chunkedLast, !chunkedEarlier else { throw .malformed("Transfer-Encoding does not end in a single chunked") }
            framing = .chunked
        } else if let contentLength, contentLength > 0 {
            framing = .length(contentLength)
        } else {
            framing = .none
        }
        HeaderFieldLines.markHopByHop(bytes, &fields, connectionNamesOthers: connection.namesOthers)
        let keepAlive = minor == 1 ? !connection.close : (connection.keepAlive && !connection.close)
        let isGet = method.count == 3 && bytes[0] == UInt8(ascii: "G") && bytes[1] == UInt8(ascii: "E")
            && bytes[2] == UInt8(ascii: "T")
        // Moved into the head, so the caller's storage can be handed back later without a copy.
        let collected = fields
        fields = []
        var head = RequestHead(method: method, target: target, minorVersion: minor, fields: collected, framing: framing,
                               keepAlive: keepAlive, expectsContinue: expectsContinue, upgrade: upgrade, host: host,
                               fieldsStart: fieldsStart, length: end)
        head.upgradesToWebSocket = webSocket && connection.upgrade && !connection.close && isGet && minor == 1
            && framing == .none
        return head
    }

    /// A HTAB in the whitespace after a field's value. llhttp does not take it as OWS in
    /// Content-Length and Transfer-Encoding (`5\t`, `chunked\t` are refused), so neither do we.
    private static func htabAfterValue(_ bytes: UnsafeRawBufferPointer, _ field: HeaderField) -> Bool {
        var position = field.value.upperBound
        while position < field.line.upperBound - 2 {
            if bytes[position] == HTTPBytes.htab { return true }
            position += 1
        }
        return false
    }
}
