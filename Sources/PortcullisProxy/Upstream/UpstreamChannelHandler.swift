import NIOCore
import NIOHTTP1

/// Receives what comes back on an upstream connection. The client-side handler of the request
/// being forwarded is the receiver; an idle pooled connection has none.
protocol UpstreamResponseReceiver: AnyObject {
    func upstreamReceived(_ part: HTTPClientResponsePart)
    func upstreamReadComplete()
    func upstreamWritabilityChanged(isWritable: Bool)
    /// The connection failed or closed; it is not usable any more.
    func upstreamFailed(_ error: Error)
}

/// The last handler of an upstream channel: hands response parts to the current receiver
/// and holds reads back while the client cannot take more (backpressure).
final class UpstreamChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    weak var receiver: UpstreamResponseReceiver?
    /// Called once when the channel goes away, so the pool can forget it.
    var onClose: (() -> Void)?

    private var readsPaused = false
    private var readPending = false
    private(set) var isActive = true

    func pauseReads() { readsPaused = true }

    func resumeReads(context: ChannelHandlerContext) {
        readsPaused = false
        if readPending {
            readPending = false
            context.read()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        receiver?.upstreamReceived(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        receiver?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        receiver?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
    }

    func read(context: ChannelHandlerContext) {
        if readsPaused {
            readPending = true
        } else {
            context.read()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        isActive = false
        let receiver = self.receiver
        self.receiver = nil
        receiver?.upstreamFailed(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        isActive = false
        let receiver = self.receiver
        self.receiver = nil
        receiver?.upstreamFailed(ChannelError.eof)
        onClose?()
        onClose = nil
    }
}

/// One keep-alive connection to the upstream, owned by the pool of its event loop.
final class UpstreamConnection {
    let channel: Channel
    let handler: UpstreamChannelHandler
    let context: ChannelHandlerContext
    /// True once it has carried a request: a failure on a reused connection may be the
    /// upstream closing it while idle, which justifies one retry of a body-less request.
    var hasBeenUsed = false

    init(channel: Channel, handler: UpstreamChannelHandler, context: ChannelHandlerContext) {
        self.channel = channel
        self.handler = handler
        self.context = context
    }

    var isUsable: Bool { handler.isActive && channel.isActive }

    func write(_ part: HTTPClientRequestPart) {
        context.write(NIOAny(part), promise: nil)
    }

    func flush() { context.flush() }

    func close() { context.close(promise: nil) }
}
