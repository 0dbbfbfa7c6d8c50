import NIOCore

/// The upstream's `101 Switching Protocols` to a WebSocket handshake, checked and written for
/// the client. `Upgrade` and `Connection` are hop-by-hop, so the relay writes them itself; the
/// end-to-end fields (`Sec-WebSocket-Accept`, `-Protocol`, `-Extensions`) go as they came.
enum SwitchingProtocolsHead {
    /// Whether the 101 switches to WebSocket: an `Upgrade` field listing `websocket`. Any other
    /// protocol is not relayed (the client is answered 502).
    static func upgradesToWebSocket(_ head: ResponseHead, bytes: ByteBuffer) -> Bool {
        bytes.withUnsafeReadableBytes { raw in
            head.fields.contains { field in
                guard HTTPBytes.equalsIgnoringCase(raw, field.name, "upgrade") else { return false }
                var webSocket = false
                HTTPBytes.forEachListElement(raw, field.value) { name in
                    if HTTPBytes.equalsIgnoringCase(raw, name, "websocket") { webSocket = true }
                }
                return webSocket
            }
        }
    }

    static func write(_ head: ResponseHead, bytes: ByteBuffer, into out: inout ByteBuffer) {
        bytes.withUnsafeReadableBytes { raw in
            out.writeStaticString("HTTP/1.1 101 ")
            out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[head.reason]))
            out.writeStaticString("\r\n")
            for field in head.fields where !field.isHopByHop {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[field.line]))
            }
        }
        out.writeStaticString("Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
    }
}
