/// How a response's body is delimited (RFC 9112 §6.3), given the request it answers.
enum ResponseBodyFraming: Equatable {
    /// HEAD, 1xx, 204, 304: no body whatever the fields say.
    case none
    case length(Int)
    case chunked
    /// Read until the upstream closes (no length, or a Transfer-Encoding not ending in chunked).
    case untilClose
}

/// The upstream's response head, parsed only for what relaying needs: status, framing,
/// whether the connection can be reused, and which fields are hop-by-hop.
struct ResponseHead {
    var status: Int
    var minorVersion: Int
    /// The reason phrase (may be empty).
    var reason: Range<Int>
    var fields: [HeaderField]
    var framing: ResponseBodyFraming
    /// The upstream keeps the connection open after this response.
    var keepAlive: Bool
    var length: Int
}

enum ResponseHeadError: Error, Equatable {
    case malformed(String)
}

/// Parses an upstream response head. Stricter than a browser: an upstream that sends an
/// ambiguous length is answered 502 rather than relayed in a way the client may frame
/// differently (Content-Length with Transfer-Encoding, duplicate or invalid Content-Length).
struct ResponseHeadParser {
    var maxFields: Int

    func parse(_ bytes: UnsafeRawBufferPointer, requestIsHead: Bool,
               fields: inout [HeaderField]) throws(ResponseHeadError) -> ResponseHead {
        fields.removeAll(keepingCapacity: true)
        let end = bytes.count
        // HTTP/1.x SP 3DIGIT SP reason CRLF (the SP before an empty reason may be missing)
        guard end >= 14,
              bytes[0] == UInt8(ascii: "H"), bytes[1] == UInt8(ascii: "T"), bytes[2] == UInt8(ascii: "T"),
              bytes[3] == UInt8(ascii: "P"), bytes[4] == UInt8(ascii: "/"), bytes[5] == UInt8(ascii: "1"),
              bytes[6] == UInt8(ascii: "."), bytes[7] == UInt8(ascii: "0") || bytes[7] == UInt8(ascii: "1"),
              bytes[8] == HTTPBytes.sp
        else { throw .malformed("invalid status line") }
        let minor = Int(bytes[7] - UInt8(ascii: "0"))
        var status = 0
        for position in 9..<12 {
            let digit = bytes[position] &- UInt8(ascii: "0")
            guard digit < 10 else { throw .malformed("invalid status code") }
            status = status * 10 + Int(digit)
        }
        guard status >= 100 else { throw .malformed("invalid status code") }
        var position = 12
        var reason = 12..<12
        if bytes[position] == HTTPBytes.sp {
            position += 1
            let start = position
            while position < end, HTTPBytes.isFieldValue(bytes[position]) { position += 1 }
            reason = start..<position
        }
        guard position + 1 < end, bytes[position] == HTTPBytes.cr, bytes[position + 1] == HTTPBytes.lf else {
            throw .malformed("invalid status line end")
        }
        position += 2
        do {
            try HeaderFieldLines.parse(bytes, from: position, to: end, maxFields: maxFields, into: &fields)
        } catch {
            switch error {
            case .tooMany: throw .malformed("too many fields")
            case .malformed(let reason): throw .malformed(reason)
            }
        }

        var contentLength: Int?
        var transferEncoding = false
        var chunkedLast = false
        var connection = HeaderFieldLines.ConnectionOptions()
        for field in fields {
            switch field.name.count {
            case 10 where HTTPBytes.equalsIgnoringCase(bytes, field.name, "connection"):
                HeaderFieldLines.connectionOptions(bytes, field.value, into: &connection)
            case 14 where HTTPBytes.equalsIgnoringCase(bytes, field.name, "content-length"):
                guard let length = HTTPBytes.decimal(bytes, field.value) else {
                    throw .malformed("invalid Content-Length")
                }
                guard contentLength == nil || contentLength == length else {
                    throw .malformed("differing Content-Length values")
                }
                contentLength = length
            case 17 where HTTPBytes.equalsIgnoringCase(bytes, field.name, "transfer-encoding"):
                transferEncoding = true
                HTTPBytes.forEachListElement(bytes, field.value) { coding in
                    chunkedLast = HTTPBytes.equalsIgnoringCase(bytes, coding, "chunked")
                }
            default:
                break
            }
        }
        let framing: ResponseBodyFraming
        if requestIsHead || status < 200 || status == 204 || status == 304 {
            framing = .none
        } else if transferEncoding {
            guard contentLength == nil else { throw .malformed("both Content-Length and Transfer-Encoding") }
            framing = chunkedLast ? .chunked : .untilClose
        } else if let contentLength {
            framing = .length(contentLength)
        } else {
            framing = .untilClose
        }
        HeaderFieldLines.markHopByHop(bytes, &fields, connectionNamesOthers: connection.namesOthers)
        var keepAlive = minor == 1 ? !connection.close : (connection.keepAlive && !connection.close)
        if framing == .untilClose { keepAlive = false }
        let collected = fields
        fields = []
        return ResponseHead(status: status, minorVersion: minor, reason: reason, fields: collected,
                            framing: framing, keepAlive: keepAlive, length: end)
    }
}
