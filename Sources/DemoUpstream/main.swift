import NIOCore
import NIOHTTP1
import Foundation
import NIOPosix

/// A stand-in backend for `make run`: answers every request with a JSON echo of what it got,
/// so the claim headers Portcullis adds are visible.
/// Usage: portcullis-demo-upstream [port]   (default 8000, loopback only)

final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private var head: HTTPRequestHead?
    private var bodyBytes = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            bodyBytes = 0
        case .body(let body):
            bodyBytes += body.readableBytes
        case .end:
            guard let head else { return }
            let shown = ["x-auth-subject", "x-auth-jti", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"]
            let headers = shown.compactMap { name in
                head.headers.first(name: name).map { "\"\(name)\": \"\(escape($0))\"" }
            }.joined(separator: ", ")
            let json = """
                {"upstream": "portcullis demo", "method": "\(head.method.rawValue)", "uri": "\(escape(head.uri))", \
                "body_bytes": \(bodyBytes), "headers": {\(headers)}}

                """
            var responseHeaders = HTTPHeaders()
            responseHeaders.add(name: "Content-Type", value: "application/json")
            responseHeaders.add(name: "Content-Length", value: String(json.utf8.count))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: responseHeaders))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: json)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            self.head = nil
        }
    }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}

let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 8000 : 8000
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let channel = try ServerBootstrap(group: group)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline()
            try channel.pipeline.syncOperations.addHandler(EchoHandler())
        }
    }
    .bind(host: "127.0.0.1", port: port)
    .wait()
print("demo upstream listening on http://127.0.0.1:\(port)")
try channel.closeFuture.wait()
