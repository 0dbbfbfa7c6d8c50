import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// A real WebSocket server (NIOWebSocket) on a loopback port, behind the proxy in the tunnel
/// tests. It echoes every text and binary message; the text `bye` makes it close the
/// connection (close frame, then TCP). A request that asks for no upgrade is answered 426. It
/// records each handshake's headers and counts the WebSocket connections open now.
final class WebSocketUpstream: Sendable {
    private let channel: Channel
    private let state = NIOLockedValueBox(Observed())

    struct Observed {
        var handshakes: [HTTPHeaders] = []
        var plainRequests: [HTTPHeaders] = []
        var openWebSockets = 0
    }

    var port: Int { channel.localAddress!.port! }
    var handshakes: [HTTPHeaders] { state.withLockedValue { $0.handshakes } }
    var plainRequests: [HTTPHeaders] { state.withLockedValue { $0.plainRequests } }
    var openWebSockets: Int { state.withLockedValue { $0.openWebSockets } }

    init(group: EventLoopGroup) throws {
        let state = self.state
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: 1 << 24,
            shouldUpgrade: { channel, head in
                state.withLockedValue { $0.handshakes.append(head.headers) }
                return channel.eventLoop.makeSucceededFuture(HTTPHeaders())
            },
            upgradePipelineHandler: { channel, _ in
                state.withLockedValue { $0.openWebSockets += 1 }
                channel.closeFuture.whenComplete { _ in state.withLockedValue { $0.openWebSockets -= 1 } }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(EchoHandler())
                }
            })
        channel = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 2048)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (upgraders: [upgrader], completionHandler: { context in
                            context.pipeline.syncOperations.removeHandler(name: "plain", promise: nil)
                        }))
                    try channel.pipeline.syncOperations.addHandler(PlainRequestHandler(state: state), name: "plain")
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .wait()
    }

    func stop() { try? channel.close().wait() }

    /// Requests without an upgrade: 426, as a WebSocket-only endpoint answers.
    private final class PlainRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let state: NIOLockedValueBox<Observed>

        init(state: NIOLockedValueBox<Observed>) { self.state = state }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .head(let head) = unwrapInboundIn(data) else {
                if case .end = unwrapInboundIn(data) {
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Length", value: "0")
                    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .upgradeRequired,
                                                                         headers: headers))), promise: nil)
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                }
                return
            }
            state.withLockedValue { $0.plainRequests.append(head.headers) }
        }
    }

    private final class EchoHandler: ChannelInboundHandler {
        typealias InboundIn = WebSocketFrame
        typealias OutboundOut = WebSocketFrame
        private var message = ByteBuffer()
        private var opcode = WebSocketOpcode.text

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            var payload = frame.unmaskedData
            switch frame.opcode {
            case .text, .binary, .continuation:
                if frame.opcode != .continuation {
                    opcode = frame.opcode
                    message.clear()
                }
                message.writeBuffer(&payload)
                guard frame.fin else { return }
                if opcode == .text, String(buffer: message) == "bye" {
                    let close = WebSocketFrame(fin: true, opcode: .connectionClose, data: ByteBuffer(bytes: [0x03, 0xE8]))
                    context.writeAndFlush(wrapOutboundOut(close)).assumeIsolated().whenComplete { _ in
                        context.close(promise: nil)
                    }
                    return
                }
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: opcode, data: message)), promise: nil)
                message = ByteBuffer()
            case .connectionClose:
                let close = WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)
                context.writeAndFlush(wrapOutboundOut(close)).assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
            case .ping:
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: payload)), promise: nil)
            default:
                break
            }
        }
    }
}
