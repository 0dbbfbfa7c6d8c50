import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import NIOSSL
import PortcullisCore
import ServiceLifecycle

/// The admin listener: collects each request (bodies are small), hands it to `AdminAPI`
/// off the event loop, writes the answer back in order.
public final class AdminServer: Service, Sendable {
    private let serverChannel: Channel
    private let quiescing: ServerQuiescingHelper
    private let group: EventLoopGroup
    private let api: NIOLockedValueBox<AdminAPI>

    public var localAddress: SocketAddress? { serverChannel.localAddress }

    /// `tls`, when given, makes the listener HTTPS only (`admin.tls_cert_file`/`tls_key_file`).
    public init(group: EventLoopGroup, host: String, port: Int, api: AdminAPI, tls: NIOSSLContext? = nil) async throws {
        self.group = group
        let box = NIOLockedValueBox(api)
        self.api = box
        let quiescing = ServerQuiescingHelper(group: group)
        self.quiescing = quiescing
        serverChannel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminRequestHandler(api: box))
                }
            }
            .bind(host: host, port: port)
            .get()
    }

    public func replace(api: AdminAPI) {
        self.api.withLockedValue { $0 = api }
    }

    /// Closes the listener without waiting for a drain (a failed start).
    public func shutdown() async throws {
        try await serverChannel.close()
    }

    public func run() async throws {
        let drained = group.next().makePromise(of: Void.self)
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await serverChannel.closeFuture.get()
            } onCancel: {
                self.quiescing.initiateShutdown(promise: drained)
            }
        } onGracefulShutdown: {
            self.quiescing.initiateShutdown(promise: drained)
        }
        // Closed without a graceful shutdown (cancellation): nothing else will complete it.
        if !Task.isShuttingDownGracefully { quiescing.initiateShutdown(promise: drained) }
        try await drained.futureResult.get()
    }
}

final class AdminRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Admin bodies are a few hundred bytes; this bounds what one request can make us hold.
    static let maxBody = 64 * 1024

    private let api: NIOLockedValueBox<AdminAPI>
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false

    init(api: NIOLockedValueBox<AdminAPI>) { self.api = api }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.removeAll(keepingCapacity: true)
            tooLarge = false
        case .body(var buffer):
            if body.count + buffer.readableBytes > Self.maxBody {
                tooLarge = true
            } else if let bytes = buffer.readBytes(length: buffer.readableBytes) {
                body.append(contentsOf: bytes)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            if tooLarge {
                write(AdminError.bodyTooLarge(limit: Self.maxBody).response, keepAlive: false, context: context)
                return
            }
            let request = AdminAPI.Request(
                method: head.method.rawValue, uri: head.uri,
                authorization: head.headers.first(name: "authorization"), body: body,
                peer: context.channel.remoteAddress?.ipAddress)
            let api = self.api.withLockedValue { $0 }
            let keepAlive = head.isKeepAlive
            let promise = context.eventLoop.makePromise(of: AdminResponse.self)
            promise.completeWithTask { await api.handle(request) }
            promise.futureResult.assumeIsolated().whenSuccess { response in
                self.write(response, keepAlive: keepAlive, context: context)
            }
        }
    }

    private func write(_ response: AdminResponse, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders(response.headers)
        headers.add(name: "Content-Length", value: String(response.body.count))
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: .http1_1, status: .init(statusCode: response.status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !response.body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            done.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
