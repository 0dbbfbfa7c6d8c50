import NIOCore
import PortcullisCore

/// Writes the head sent to the upstream from the client's head, as bytes: the request line
/// with the path prefix, every field the client sent as it arrived except hop-by-hop ones,
/// client-sent copies of our claim headers and X-Forwarded-*; then X-Forwarded-For/-Proto/-Host
/// and the claim headers. Field values are copied byte for byte (obs-text included).
struct UpstreamRequestHead: Sendable {
    /// Lower-cased names of the claim headers, to strip whatever case the client used.
    private let claimHeaderNames: [[UInt8]]
    private let pathPrefix: [UInt8]
    private let plan: ClaimHeaderPlan
    private let forwardedProto: StaticString

    init(claimHeaders: ClaimHeaderPlan, pathPrefix: String, tls: Bool = false) {
        self.claimHeaderNames = claimHeaders.headerNames.map { Array($0.lowercased().utf8) }
        self.pathPrefix = Array(pathPrefix.utf8)
        self.plan = claimHeaders
        self.forwardedProto = tls ? "X-Forwarded-Proto: https\r\n" : "X-Forwarded-Proto: http\r\n"
    }

    /// `clientAddress` is the peer's IP address as text, when known. With `webSocketUpgrade`
    /// the head asks the upstream for the WebSocket upgrade the client asked for (its own
    /// `Upgrade` and `Connection` are hop-by-hop and never copied).
    func write(_ head: RequestHead, bytes: ByteBuffer, clientAddress: String?, claims: TokenClaims?,
               webSocketUpgrade: Bool = false, into out: inout ByteBuffer) {
        bytes.withUnsafeReadableBytes { raw in
            out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[head.method]))
            out.writeInteger(HTTPBytes.sp)
            out.writeBytes(pathPrefix)
            out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[head.target]))
            out.writeStaticString(" HTTP/1.1\r\n")
            var forwardedFor = false
            for field in head.fields where !field.isHopByHop {
                switch classify(raw, field.name) {
                case .forwardedFor: forwardedFor = true
                case .replaced: continue
                case .kept: out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[field.line]))
                }
            }
            // Earlier hops are kept, joined into one field that ends with this client.
            if forwardedFor || clientAddress != nil {
                out.writeStaticString("X-Forwarded-For: ")
                var first = true
                for field in head.fields where !field.isHopByHop && classify(raw, field.name) == .forwardedFor {
                    if !first { out.writeStaticString(", ") }
                    out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[field.value]))
                    first = false
                }
                if let clientAddress {
                    if !first { out.writeStaticString(", ") }
                    out.writeString(clientAddress)
                }
                out.writeStaticString("\r\n")
            }
            out.writeStaticString(forwardedProto)
            if let host = head.host {
                out.writeStaticString("X-Forwarded-Host: ")
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[head.fields[host].value]))
                out.writeStaticString("\r\n")
            }
        }
        if let claims {
            plan.forEachHeader(of: claims) { name, value in
                out.writeString(name)
                out.writeStaticString(": ")
                out.writeString(value)
                out.writeStaticString("\r\n")
            }
        }
        if webSocketUpgrade { out.writeStaticString("Upgrade: websocket\r\nConnection: Upgrade\r\n") }
        out.writeStaticString("\r\n")
    }

    private enum FieldClass { case kept, forwardedFor, replaced }

    /// X-Forwarded-Proto and -Host and the claim headers are replaced by ours; X-Forwarded-For is merged.
    private func classify(_ raw: UnsafeRawBufferPointer, _ name: Range<Int>) -> FieldClass {
        if name.count > 12, HTTPBytes.equalsIgnoringCase(raw, name.lowerBound..<name.lowerBound + 12, "x-forwarded-") {
            if HTTPBytes.equalsIgnoringCase(raw, name, "x-forwarded-for") { return .forwardedFor }
            if HTTPBytes.equalsIgnoringCase(raw, name, "x-forwarded-proto")
                || HTTPBytes.equalsIgnoringCase(raw, name, "x-forwarded-host") { return .replaced }
        }
        for claimName in claimHeaderNames where claimName.count == name.count {
            var matches = true
            for (offset, position) in name.enumerated() where HTTPBytes.lower(raw[position]) != claimName[offset] {
                matches = false
                break
            }
            if matches { return .replaced }
        }
        return .kept
    }
}
