import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A one-shot HTTP/1.1 request to the admin API, for `portcullis revoke`.
struct AdminClient {
    struct Response {
        var status: Int
        var body: String
    }

    struct ClientError: Error, CustomStringConvertible {
        var description: String
    }

    let host: String
    let port: Int
    let pathPrefix: String
    let token: String
    /// For `https://` (an admin listener with `admin.tls_cert_file`): the certificate is
    /// verified against `caFile`, else the system's roots, and its name against the host.
    let tls: NIOSSLContext?

    /// `http://host:port[/prefix]` or `https://host:port[/prefix]`.
    init(url: String, token: String, caFile: String? = nil) throws {
        guard let components = URLComponents(string: url), components.scheme == "http" || components.scheme == "https",
              let host = components.host, !host.isEmpty
        else { throw ClientError(description: "--admin-url \(url): expected http://host:port or https://host:port") }
        self.host = host
        self.port = components.port ?? (components.scheme == "https" ? 443 : 80)
        self.pathPrefix = components.path.hasSuffix("/") ? String(components.path.dropLast()) : components.path
        self.token = token
        if components.scheme == "https" {
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let caFile {
                guard FileManager.default.isReadableFile(atPath: caFile) else {
                    throw ClientError(description: "--admin-ca-file \(caFile): not a readable file")
                }
                configuration.trustRoots = .file(caFile)
            }
            do {
                tls = try NIOSSLContext(configuration: configuration)
            } catch {
                throw ClientError(description: "--admin-ca-file \(caFile ?? "(system roots)"): \(error)")
            }
        } else {
            guard caFile == nil else {
                throw ClientError(description: "--admin-ca-file is for an https:// admin URL, not \(url)")
            }
            tls = nil
        }
    }

    private var base: String { "\(tls == nil ? "http" : "https")://\(host):\(port)" }

    func send(method: HTTPMethod, path: String, json: [String: Any]? = nil) throws -> Response {
        let body = try json.map { try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(host):\(port)")
        headers.add(name: "Authorization", value: "Bearer \(token)")
        headers.add(name: "Connection", value: "close")
        if let body {
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(body.count))
        }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: pathPrefix + path, headers: headers)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let promise = group.next().makePromise(of: Response.self)
        let (tls, serverName) = (self.tls, host)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        // SNI and name checks take a name; an IP address is checked as such.
                        let isAddress = serverName.contains(":") || serverName.allSatisfy { $0.isNumber || $0 == "." }
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: tls, serverHostname: isAddress ? nil : serverName))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
                }
            }
        let channel: Channel
        do {
            channel = try bootstrap.connect(host: host, port: port).wait()
        } catch {
            promise.fail(error)
            throw ClientError(description: "cannot reach the admin API at \(base): \(error)")
        }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        // The admin API answers at once; this bounds a server that accepted and then hung.
        let base = self.base
        let timeout = channel.eventLoop.scheduleTask(in: .seconds(15)) {
            channel.pipeline.fireErrorCaught(ClientError(description: "the admin API at \(base) did not answer within 15s"))
        }
        defer {
            timeout.cancel()
            channel.close(promise: nil)
        }
        return try promise.futureResult.wait()
    }
}

private final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<AdminClient.Response>
    private var completed = false
    private var status = 0
    private var body = ByteBuffer()

    init(promise: EventLoopPromise<AdminClient.Response>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): status = Int(head.status.code)
        case .body(var part): body.writeBuffer(&part)
        case .end: complete(.success(.init(status: status, body: String(buffer: body))))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        complete(.failure(AdminClient.ClientError(description: "the admin API closed the connection without an answer")))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        complete(.failure(error))
        context.close(promise: nil)
    }

    private func complete(_ result: Result<AdminClient.Response, Error>) {
        guard !completed else { return }
        completed = true
        promise.completeWith(result)
    }
}
