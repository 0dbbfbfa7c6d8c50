import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A key server for `jwt.jwks_url` tests: serves whatever body and status the test sets, and
/// counts the fetches.
final class KeySetServer: Sendable {
    private struct State {
        var status: HTTPResponseStatus = .ok
        var body = #"{"keys": []}"#
        var fetches = 0
    }

    private let state = NIOLockedValueBox(State())
    private let channel: Channel

    /// Kept from the bind: after `stop()` the closed channel has no address, and the tests that
    /// stop the server still point Portcullis at this port.
    let port: Int
    private let tls: Bool
    var url: String { "\(tls ? "https" : "http")://localhost:\(port)/.well-known/jwks.json" }
    var fetches: Int { state.withLockedValue { $0.fetches } }

    /// With `certificates`, the server speaks HTTPS only.
    init(group: EventLoopGroup, certificates: TestCertificates.Files? = nil) throws {
        let state = self.state
        tls = certificates != nil
        let context = try certificates.map { files in
            try NIOSSLContext(configuration: .makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(files.certificateFile).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: files.keyFile, format: .pem))))
        }
        channel = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(KeySetHandler(state: { state.withLockedValue { s in
                        s.fetches += 1
                        return (s.status, s.body)
                    } }))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        port = channel.localAddress?.port ?? 0
    }

    func serve(_ body: String, status: HTTPResponseStatus = .ok) {
        state.withLockedValue {
            $0.body = body
            $0.status = status
        }
    }

    func stop() { channel.close(promise: nil) }

    /// A JWKS of P-256 public keys (RFC 7517 `EC` members).
    static func jwks(_ keys: [(kid: String, key: P256.Signing.PublicKey)]) -> String {
        let members = keys.map { kid, key in
            let raw = key.rawRepresentation
            return #"{"kty": "EC", "crv": "P-256", "kid": "\#(kid)", "use": "sig", "alg": "ES256", "#
                + #""x": "\#(base64url(raw.prefix(32)))", "y": "\#(base64url(raw.suffix(32)))"}"#
        }
        return #"{"keys": [\#(members.joined(separator: ", "))]}"#
    }

    private static func base64url(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

private final class KeySetHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let state: @Sendable () -> (HTTPResponseStatus, String)

    init(state: @escaping @Sendable () -> (HTTPResponseStatus, String)) { self.state = state }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        let (status, body) = state()
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        context.write(wrapOutboundOut(.head(.init(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
