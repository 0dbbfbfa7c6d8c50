import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A real HTTP upstream on a loopback port for the integration tests.
///
/// - `/download?bytes=N[&chunked=1]`: streams N pattern bytes (byte i is i % 251) with backpressure
/// - `/slow?ms=N`: answers after N milliseconds
/// - `/reset`: closes the connection without answering
/// - `/status/NNN`: answers with that status
/// - anything else: a JSON echo of method, uri, headers and the body's SHA-256 and size
final class TestUpstream: Sendable {
    let channel: Channel
    let group: EventLoopGroup
    private let state = NIOLockedValueBox(Observed())

    struct Observed {
        var connections = 0
        var closedConnections = 0
        var requests = 0
    }

    var port: Int { channel.localAddress!.port! }
    var connectionsAccepted: Int { state.withLockedValue { $0.connections } }
    var connectionsClosed: Int { state.withLockedValue { $0.closedConnections } }
    var requestsSeen: Int { state.withLockedValue { $0.requests } }

    init(group: EventLoopGroup) throws {
        self.group = group
        let state = self.state
        channel = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                state.withLockedValue { $0.connections += 1 }
                channel.closeFuture.whenComplete { _ in state.withLockedValue { $0.closedConnections += 1 } }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(UpstreamBehaviour(onRequest: {
                        state.withLockedValue { $0.requests += 1 }
                    }))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .wait()
    }

    func stop() {
        try? channel.close().wait()
    }

    static func patternByte(_ index: Int) -> UInt8 { UInt8(index % 251) }
}

private final class UpstreamBehaviour: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let onRequest: @Sendable () -> Void
    private var head: HTTPRequestHead?
    private var hasher = SHA256()
    private var bodyBytes = 0
    private var download: (remaining: Int, offset: Int)?

    init(onRequest: @escaping @Sendable () -> Void) { self.onRequest = onRequest }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            hasher = SHA256()
            bodyBytes = 0
            onRequest()
            if head.uri == "/reset" { context.close(promise: nil) }
        case .body(let body):
            body.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            bodyBytes += body.readableBytes
        case .end:
            guard let head else { return }
            respond(to: head, context: context)
        }
    }

    private func parameter(_ name: String, in uri: String) -> String? {
        URLComponents(string: uri)?.queryItems?.first { $0.name == name }?.value
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?").first.map(String.init) ?? head.uri
        if path == "/download", let bytes = parameter("bytes", in: head.uri).flatMap(Int.init) {
            var headers = HTTPHeaders()
            if parameter("chunked", in: head.uri) == "1" {
                headers.add(name: "Transfer-Encoding", value: "chunked")
            } else {
                headers.add(name: "Content-Length", value: String(bytes))
            }
            context.write(wrapOutboundOut(.head(.init(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            download = (bytes, 0)
            pump(context: context)
            return
        }
        if path == "/slow", let ms = parameter("ms", in: head.uri).flatMap(Int64.init) {
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(ms)) {
                let (handler, context) = bound.value
                handler.send(status: .ok, body: #"{"slow": true}"#, context: context)
            }
            return
        }
        if path.hasPrefix("/status/"), let code = Int(path.dropFirst("/status/".count)) {
            send(status: .init(statusCode: code), body: #"{"status": \#(code)}"#, context: context)
            return
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        let headers = head.headers.map { [$0.name, $0.value] }
        let object: [String: Any] = [
            "method": head.method.rawValue, "uri": head.uri, "version": "\(head.version)",
            "headers": headers, "body_sha256": digest, "body_bytes": bodyBytes,
        ]
        let json = String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        send(status: .ok, body: json, context: context)
    }

    private func send(status: HTTPResponseStatus, body: String, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "X-Upstream", value: "test")
        context.write(wrapOutboundOut(.head(.init(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// Writes while the socket takes more, then waits for writability: bounded memory.
    private func pump(context: ChannelHandlerContext) {
        while var state = download, context.channel.isWritable {
            if state.remaining == 0 {
                download = nil
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                return
            }
            let size = min(64 * 1024, state.remaining)
            var buffer = context.channel.allocator.buffer(capacity: size)
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { raw in
                for i in 0..<size { raw[i] = TestUpstream.patternByte(state.offset + i) }
                return size
            }
            state.remaining -= size
            state.offset += size
            download = state
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { pump(context: context) }
        context.fireChannelWritabilityChanged()
    }
}
