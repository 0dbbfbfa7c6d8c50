import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// A keep-alive HTTPS client for the TLS tests: raw request text in, the response (framed by
/// Content-Length) out, and the certificate the server presented.
final class TLSTestClient {
    struct Response {
        var status: Int
        var head: String
        var body: String

        func header(_ name: String) -> String? {
            for line in head.components(separatedBy: "\r\n").dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                if line[..<colon].lowercased() == name.lowercased() {
                    return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
            }
            return nil
        }
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    private let channel: Channel
    private let received: NIOLockedValueBox<[UInt8]>

    init(port: Int, caFile: String, group: EventLoopGroup) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .file(caFile)
        let context = try NIOSSLContext(configuration: configuration)
        let received = NIOLockedValueBox<[UInt8]>([])
        self.received = received
        channel = try ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
                    try channel.pipeline.syncOperations.addHandler(Collector(received: received))
                }
            }
            .connect(host: "127.0.0.1", port: port).wait()
    }

    deinit { channel.close(promise: nil) }

    func request(_ text: String, timeout: TimeInterval = 10) throws -> Response {
        received.withLockedValue { $0.removeAll() }
        try channel.writeAndFlush(ByteBuffer(string: text)).wait()
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let response = complete() { return response }
            guard channel.isActive else { break }
            usleep(5_000)
        }
        throw Failure(description: "no complete response (\(received.withLockedValue { $0.count }) bytes)")
    }

    /// The serial number of the certificate the server presented on this connection.
    var peerCertificateSerial: [UInt8]? {
        try? channel.eventLoop.submit { [channel] in
            try channel.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).peerCertificate?.serialNumber
        }.wait()
    }

    private func complete() -> Response? {
        let bytes = received.withLockedValue { $0 }
        guard let end = (0..<max(0, bytes.count - 3)).first(where: {
            bytes[$0] == 13 && bytes[$0 + 1] == 10 && bytes[$0 + 2] == 13 && bytes[$0 + 3] == 10
        }) else { return nil }
        let head = String(decoding: bytes[0..<end], as: UTF8.self)
        var response = Response(status: Int(head.split(separator: " ")[1]) ?? 0, head: head, body: "")
        let length = response.header("content-length").flatMap(Int.init) ?? 0
        guard bytes.count >= end + 4 + length else { return nil }
        response.body = String(decoding: bytes[(end + 4)..<(end + 4 + length)], as: UTF8.self)
        return response
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let received: NIOLockedValueBox<[UInt8]>
        init(received: NIOLockedValueBox<[UInt8]>) { self.received = received }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = Array(buffer: unwrapInboundIn(data))
            received.withLockedValue { $0 += bytes }
        }
        func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
    }
}
