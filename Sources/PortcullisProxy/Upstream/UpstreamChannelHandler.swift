import NIOCore

/// Receives what comes back on an upstream connection. The client connection whose request is
/// being forwarded is the receiver; an idle pooled connection has none.
protocol UpstreamResponseReceiver: AnyObject {
    func upstreamRead(_ bytes: ByteBuffer)
    func upstreamReadComplete()
    func upstreamWritabilityChanged(isWritable: Bool)
    /// The connection failed or closed; it is not usable any more.
    func upstreamClosed()
}

/// The only handler of an upstream channel: raw bytes both ways (the client connection's state
/// machine frames them), reads held back while the client cannot take more.
final class UpstreamChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Held strongly (a weak load on every read costs an atomic); every path that ends an
    /// exchange or a connection sets it back to nil, which breaks the cycle.
    var receiver: UpstreamResponseReceiver?
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
        let bytes = unwrapInboundIn(data)
        if let receiver {
            receiver.upstreamRead(bytes)
        } else {
            // An idle connection that talks is not one to reuse.
            isActive = false
            context.close(promise: nil)
        }
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
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        isActive = false
        let receiver = self.receiver
        self.receiver = nil
        receiver?.upstreamClosed()
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

    func write(_ bytes: ByteBuffer) {
        context.write(NIOAny(bytes), promise: nil)
    }

    func flush() { context.flush() }

    func close() { context.close(promise: nil) }
}
