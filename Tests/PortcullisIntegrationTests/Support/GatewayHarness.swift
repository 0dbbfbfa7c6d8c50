import Foundation
import Logging
import NIOCore
import NIOPosix
import PortcullisCore
import PortcullisGateway

/// A whole gateway started in-process on loopback port 0, in front of a `TestUpstream`.
final class GatewayHarness {
    static let secret = "portcullis-test-secret-0123456789abcdef"
    static let adminToken = "admin-token-for-tests-0123456789"

    /// One group for every test: shutting a group down while listeners finish closing only
    /// produces noise, and the test process ends anyway.
    static let sharedGroup = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let group: MultiThreadedEventLoopGroup
    let upstream: TestUpstream
    let gateway: Gateway
    let directory: URL
    /// Ends once the gateway has drained and stopped.
    let runTask: Task<Void, Error>

    var proxyPort: Int { gateway.proxyPort! }
    var adminPort: Int { gateway.adminPort! }

    /// `environment` holds PORTCULLIS_* overrides on top of the YAML below, as in production.
    init(environment: [String: String] = [:], upstreamURL: String? = nil, directory: URL? = nil) async throws {
        group = Self.sharedGroup
        upstream = try TestUpstream(group: group)
        self.directory = try directory ?? Self.makeTemporaryDirectory()
        let yaml = """
            proxy:
              listen: "127.0.0.1:0"
              upstream: "\(upstreamURL ?? "http://127.0.0.1:\(upstream.port)")"
            jwt:
              secret: "\(Self.secret)"
            revocation:
              file: "\(self.directory.path)/revocations.log"
            admin:
              listen: "127.0.0.1:0"
              token: "\(Self.adminToken)"
            """
        let configuration = try ConfigurationLoader.load(yaml: yaml, environment: environment)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        gateway = try await Gateway(configuration: configuration, group: group, logger: logger)
        let gateway = self.gateway
        runTask = Task { try await gateway.run(signals: false) }
    }

    func stop() async {
        await gateway.shutdown()
        _ = try? await runTask.value
        upstream.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    func client() throws -> RawHTTPClient { try RawHTTPClient(port: proxyPort) }
    func adminClient() throws -> RawHTTPClient { try RawHTTPClient(port: adminPort) }

    /// An HS256 token signed with the test secret (AuthX claim shape).
    func token(sub: String = "alice", jti: String = UUID().uuidString, ttl: Double = 600, type: String = "access",
               now: Double = Date().timeIntervalSince1970, extra: [(String, String)] = []) -> String {
        let minter = try! TokenMinter(algorithm: .HS256, secret: Array(Self.secret.utf8))
        return minter.mint(.init(subject: sub, ttlSeconds: ttl, type: type, jti: jti, extraClaims: extra),
                           issuer: nil, audience: [], now: now)
    }

    func revoke(jti: String, expiresAt: Double = Date().timeIntervalSince1970 + 600) throws -> RawHTTPClient.Response {
        try adminClient().request("POST", "/v1/revocations",
                                  headers: [("Authorization", "Bearer \(Self.adminToken)"), ("Content-Type", "application/json")],
                                  body: #"{"jti": "\#(jti)", "expires_at": \#(Int(expiresAt))}"#)
    }

    static func makeTemporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
