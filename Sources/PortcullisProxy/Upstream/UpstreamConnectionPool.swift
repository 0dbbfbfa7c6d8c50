import NIOCore
import NIOPosix
import NIOSSL

/// Keep-alive connections to the upstream for one event loop. Used only on that loop, so
/// a client's request and its upstream connection share a thread and need no locks.
final class UpstreamConnectionPool {
    struct Settings: Sendable {
        var host: String
        var port: Int
        var connectTimeout: TimeAmount
        /// For an `https://` upstream; the certificate is checked against `host`.
        var tls: NIOSSLContext? = nil
        /// Idle connections kept per event loop; beyond this, released connections are closed.
        var maxIdle: Int = 256
    }

    let eventLoop: EventLoop
    private let settings: Settings
    private var idle: [UpstreamConnection] = []
    private var closed = false

    init(eventLoop: EventLoop, settings: Settings) {
        self.eventLoop = eventLoop
        self.settings = settings
    }

    /// An idle connection that is still open, most recently used first.
    func takeIdle() -> UpstreamConnection? {
        while let connection = idle.popLast() {
            if connection.isUsable { return connection }
        }
        return nil
    }

    func connect() -> EventLoopFuture<UpstreamConnection> {
        let tls = settings.tls
        // SNI and the name check use the host name; an IP literal is checked against the IP SANs.
        let host = settings.host
        let serverHostname = host.contains(where: \.isLetter) && !host.contains(":") ? host : nil
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(settings.connectTimeout)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls, serverHostname: serverHostname))
                    }
                    // Bytes only: the client connection frames requests and responses itself.
                    try channel.pipeline.syncOperations.addHandler(UpstreamChannelHandler())
                }
            }
            .connect(host: settings.host, port: settings.port)
            .flatMapThrowing { channel in
                let context = try channel.pipeline.syncOperations.context(handlerType: UpstreamChannelHandler.self)
                let handler = try channel.pipeline.syncOperations.handler(type: UpstreamChannelHandler.self)
                return UpstreamConnection(channel: channel, handler: handler, context: context)
            }
    }

    /// Back to the pool after a complete exchange on a connection that may be kept alive.
    func release(_ connection: UpstreamConnection) {
        connection.handler.receiver = nil
        guard !closed, connection.isUsable, idle.count < settings.maxIdle else {
            connection.close()
            return
        }
        connection.hasBeenUsed = true
        connection.handler.resumeReads(context: connection.context)
        connection.handler.onClose = { [weak self, weak connection] in
            guard let self, let connection else { return }
            self.idle.removeAll { $0 === connection }
        }
        idle.append(connection)
    }

    /// Closes the idle connections; the future completes once they are closed.
    func closeAll() -> EventLoopFuture<Void> {
        closed = true
        let connections = idle
        idle.removeAll()
        let closes = connections.map { connection in
            connection.channel.close().recover { _ in }
        }
        return EventLoopFuture.andAllSucceed(closes, on: eventLoop)
    }
}
