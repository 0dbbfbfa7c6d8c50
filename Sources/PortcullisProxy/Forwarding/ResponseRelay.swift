import NIOCore

/// How the upstream's body reaches the client, chosen when its head arrives.
enum ResponseRelay: Equatable {
    /// No body (HEAD, 204, 304, or a length of 0).
    case none
    /// Relayed as it comes; this many bytes are left.
    case length(remaining: Int)
    /// Chunked to a chunked-capable client: relayed byte for byte, the scanner finds the end.
    case chunked(ChunkedBodyScanner)
    /// Chunked to an HTTP/1.0 client: only the chunks' data is relayed, then the connection closes.
    case dechunked(ChunkedBodyScanner)
    /// Close-delimited to an HTTP/1.1 client: each read is framed as a chunk, so the client's
    /// connection stays usable; the upstream's close ends it with the last chunk.
    case reframed
    /// Close-delimited to an HTTP/1.0 client (or with a coding we cannot re-frame): relayed as
    /// it comes, and the client's connection closes after it.
    case untilClose

    /// Whether the client's connection must close after this response for it to be framed.
    var closesClient: Bool {
        switch self {
        case .dechunked, .untilClose: true
        default: false
        }
    }

    init(_ framing: ResponseBodyFraming, clientMinorVersion: Int, upstreamHasTransferCoding: Bool) {
        switch framing {
        case .none: self = .none
        case .length(let length): self = length == 0 ? .none : .length(remaining: length)
        case .chunked: self = clientMinorVersion == 1 ? .chunked(ChunkedBodyScanner()) : .dechunked(ChunkedBodyScanner())
        case .untilClose:
            self = clientMinorVersion == 1 && !upstreamHasTransferCoding ? .reframed : .untilClose
        }
    }
}

/// Writes the head the client gets: our status line in the client's version, the upstream's
/// fields as they came minus hop-by-hop ones (and minus Transfer-Encoding where the body is
/// re-framed), plus the framing and `Connection: close` fields this relay needs.
enum ClientResponseHead {
    static func write(_ head: ResponseHead, bytes: ByteBuffer, clientMinorVersion: Int, relay: ResponseRelay,
                      closeClient: Bool, into out: inout ByteBuffer) {
        bytes.withUnsafeReadableBytes { raw in
            writeStatusLine(head, raw: raw, clientMinorVersion: clientMinorVersion, into: &out)
            let dropsTransferEncoding: Bool
            switch relay {
            case .dechunked, .reframed: dropsTransferEncoding = true
            default: dropsTransferEncoding = false
            }
            for field in head.fields where !field.isHopByHop {
                if dropsTransferEncoding, HTTPBytes.equalsIgnoringCase(raw, field.name, "transfer-encoding") { continue }
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[field.line]))
            }
        }
        if relay == .reframed { out.writeStaticString("Transfer-Encoding: chunked\r\n") }
        if closeClient { out.writeStaticString("Connection: close\r\n") }
        out.writeStaticString("\r\n")
    }

    /// A 1xx head (100 Continue, 103 Early Hints) as it goes to the client.
    static func writeInterim(_ head: ResponseHead, bytes: ByteBuffer, into out: inout ByteBuffer) {
        bytes.withUnsafeReadableBytes { raw in
            writeStatusLine(head, raw: raw, clientMinorVersion: 1, into: &out)
            for field in head.fields where !field.isHopByHop {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[field.line]))
            }
        }
        out.writeStaticString("\r\n")
    }

    private static func writeStatusLine(_ head: ResponseHead, raw: UnsafeRawBufferPointer, clientMinorVersion: Int,
                                        into out: inout ByteBuffer) {
        out.writeStaticString(clientMinorVersion == 1 ? "HTTP/1.1 " : "HTTP/1.0 ")
        out.writeInteger(UInt8(ascii: "0") + UInt8(head.status / 100))
        out.writeInteger(UInt8(ascii: "0") + UInt8(head.status / 10 % 10))
        out.writeInteger(UInt8(ascii: "0") + UInt8(head.status % 10))
        out.writeInteger(HTTPBytes.sp)
        out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[head.reason]))
        out.writeStaticString("\r\n")
    }

    /// The size line of a re-framed chunk.
    static func writeChunkSize(_ size: Int, into out: inout ByteBuffer) {
        out.writeString(String(size, radix: 16))
        out.writeStaticString("\r\n")
    }
}
