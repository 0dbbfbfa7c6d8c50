import NIOCore
import Synchronization

/// Counts the client connections open on the proxy listener across every event loop, for
/// `proxy.max_connections`. One atomic add at accept and one at close; nothing per request.
final class ConnectionLimit: Sendable {
    /// 0 means no limit.
    let maximum: Int
    private let open = Atomic<Int>(0)

    init(maximum: Int) {
        self.maximum = maximum
    }

    /// Counts a new connection; false when it is one too many. Either way `release()` must
    /// follow when it closes, so a refused connection holds its place only until then.
    func admit() -> Bool {
        let count = open.wrappingAdd(1, ordering: .relaxed).newValue
        return maximum == 0 || count <= maximum
    }

    func release() {
        open.wrappingSubtract(1, ordering: .relaxed)
    }
}

/// The whole pipeline of a connection over `proxy.max_connections`: the prebuilt 503 is written
/// as soon as the connection is active, then it is closed. The request is never read, so a
/// client that already sent one may see a reset instead of the answer.
final class ConnectionRefusalHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var refused = false

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { refuse(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        refuse(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    private func refuse(context: ChannelHandlerContext) {
        guard !refused else { return }
        refused = true
        context.writeAndFlush(NIOAny(DenialRenderer.tooManyConnectionsWire)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
