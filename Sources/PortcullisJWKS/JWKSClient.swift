import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Why a key-set fetch failed; `description` is written for the log line.
public struct JWKSFetchError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}

/// One HTTP(S) GET of `jwt.jwks_url`: a fresh connection per fetch (a fetch happens every
/// few minutes at most), bounded in time and in body size, 200 required, no redirects.
public struct JWKSClient: Sendable {
    public struct Endpoint: Sendable, Equatable {
        public var tls: Bool
        public var host: String
        public var port: Int
        /// Path and query, as sent in the request line.
        public var target: String

        /// Parses an `http://` or `https://` URL (already checked by the configuration loader).
        public init(url: String) throws(JWKSFetchError) {
            guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
                  scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
            else { throw JWKSFetchError("jwt.jwks_url \(url): expected an http:// or https:// URL with a host") }
            tls = scheme == "https"
            // URLComponents keeps the brackets of an IPv6 literal in `host`; connecting needs them off.
            self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
            port = components.port ?? (tls ? 443 : 80)
            let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
            target = components.percentEncodedQuery.map { "\(path)?\($0)" } ?? path
        }

        var hostHeader: String {
            let name = host.contains(":") ? "[\(host)]" : host
            return port == (tls ? 443 : 80) ? name : "\(name):\(port)"
        }
    }

    /// A key set larger than this is refused rather than buffered (real ones are a few KiB).
    public static let maxBodyBytes = 1 << 20

    public let endpoint: Endpoint
    let timeout: TimeAmount
    private let tls: NIOSSLContext?

    public init(url: String, caFile: String?, timeout: TimeAmount = .seconds(5)) throws(JWKSFetchError) {
        endpoint = try Endpoint(url: url)
        self.timeout = timeout
        guard endpoint.tls else {
            tls = nil
            return
        }
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile { configuration.trustRoots = .file(caFile) }
        do {
            tls = try NIOSSLContext(configuration: configuration)
        } catch {
            throw JWKSFetchError("jwt.jwks_url: TLS setup failed: \(error)")
        }
    }

    /// The response body of a 200, as text.
    public func fetch(on eventLoop: EventLoop) -> EventLoopFuture<String> {
        let promise = eventLoop.makePromise(of: String.self)
        let endpoint = self.endpoint
        let tls = self.tls
        // SNI and certificate checks use the host name; an IP literal is checked against the certificate's IP SANs.
        let serverHostname = endpoint.host.contains(where: \.isLetter) && !endpoint.host.contains(":") ? endpoint.host : nil
        let connected = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls, serverHostname: serverHostname))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(KeySetResponseHandler(promise: promise))
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
        let deadline = eventLoop.scheduleTask(in: timeout) {
            promise.fail(JWKSFetchError("no complete answer from \(endpoint.hostHeader) within \(timeout.prettyDescription)"))
        }
        connected.whenComplete { result in
            switch result {
            case .failure(let error):
                promise.fail(JWKSFetchError("cannot connect to \(endpoint.hostHeader): \(error)"))
            case .success(let channel):
                var headers = HTTPHeaders()
                headers.add(name: "Host", value: endpoint.hostHeader)
                headers.add(name: "Accept", value: "application/jwk-set+json, application/json")
                headers.add(name: "User-Agent", value: "portcullis")
                headers.add(name: "Connection", value: "close")
                channel.write(HTTPClientRequestPart.head(
                    HTTPRequestHead(version: .http1_1, method: .GET, uri: endpoint.target, headers: headers)), promise: nil)
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
            }
        }
        promise.futureResult.whenComplete { _ in deadline.cancel() }
        return promise.futureResult
    }
}

extension TimeAmount {
    var prettyDescription: String {
        nanoseconds % 1_000_000_000 == 0 ? "\(nanoseconds / 1_000_000_000)s" : "\(nanoseconds / 1_000_000)ms"
    }
}

/// Collects one response; anything but a complete 200 within the size bound fails the fetch.
private final class KeySetResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<String>
    private var status: HTTPResponseStatus?
    private var body = ByteBuffer()

    init(promise: EventLoopPromise<String>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status
            if head.status != .ok {
                promise.fail(JWKSFetchError("answered \(head.status.code) \(head.status.reasonPhrase)"))
            }
        case .body(var part):
            guard body.readableBytes + part.readableBytes <= JWKSClient.maxBodyBytes else {
                promise.fail(JWKSFetchError("the key set is larger than \(JWKSClient.maxBodyBytes) bytes"))
                context.close(promise: nil)
                return
            }
            body.writeBuffer(&part)
        case .end:
            if status == .ok { promise.succeed(String(decoding: body.readableBytesView, as: UTF8.self)) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(JWKSFetchError("the connection closed before a complete answer"))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(JWKSFetchError("\(error)"))
        context.close(promise: nil)
    }
}
