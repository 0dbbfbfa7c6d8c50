import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// An upstream that answers every request head with bytes the test wrote, to show how the
/// proxy frames what a real server may send (HTTP/1.0 close-delimited bodies, an unasked-for
/// 101, a malformed chunk, obs-text). It records each request head exactly as it arrived.
final class ScriptedUpstream: Sendable {
    struct Answer: Sendable {
        var bytes: [UInt8]
        /// Close the connection once the answer is written (a close-delimited body ends so).
        var close = false

        init(_ text: String, close: Bool = false) {
            self.bytes = Array(text.utf8)
            self.close = close
        }

        init(bytes: [UInt8], close: Bool = false) {
            self.bytes = bytes
            self.close = close
        }
    }

    private let channel: Channel
    private let heads = NIOLockedValueBox<[[UInt8]]>([])
    var port: Int { channel.localAddress!.port! }
    var requestHeads: [[UInt8]] { heads.withLockedValue { $0 } }

    /// `tls`: serve HTTPS with this certificate and key (an `https://` upstream).
    init(group: EventLoopGroup, tls: (certificateFile: String, keyFile: String)? = nil,
         answer: @escaping @Sendable (_ index: Int) -> Answer) throws {
        let heads = self.heads
        let context = try tls.map { files in
            try NIOSSLContext(configuration: .makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(files.certificateFile).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: files.keyFile, format: .pem))))
        }
        channel = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context)) }
                    try channel.pipeline.syncOperations.addHandler(Handler(heads: heads, answer: answer))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }

    func stop() { try? channel.close().wait() }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let heads: NIOLockedValueBox<[[UInt8]]>
        let answer: @Sendable (Int) -> Answer
        var received: [UInt8] = []

        init(heads: NIOLockedValueBox<[[UInt8]]>, answer: @escaping @Sendable (Int) -> Answer) {
            self.heads = heads
            self.answer = answer
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received += Array(buffer: unwrapInboundIn(data))
            while let end = headEnd() {
                let head = Array(received[0..<end])
                received.removeFirst(end)
                let index = heads.withLockedValue { heads in
                    heads.append(head)
                    return heads.count - 1
                }
                let reply = answer(index)
                let written = context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: reply.bytes)))
                if reply.close {
                    written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                    return
                }
            }
        }

        private func headEnd() -> Int? {
            guard received.count >= 4 else { return nil }
            for i in 0...(received.count - 4)
            where received[i] == 13 && received[i + 1] == 10 && received[i + 2] == 13 && received[i + 3] == 10 {
                return i + 4
            }
            return nil
        }
    }
}
