import Crypto
import Foundation
import NIOConcurrencyHelpers
import PortcullisCore
import PortcullisGateway
import XCTest

/// Reload (SIGHUP): new configuration and keys without dropping connections or requests; a bad
/// configuration refused whole; keys bound at start reported as needing a restart.
final class ReloadTests: XCTestCase {
    private var harness: GatewayHarness!

    override func setUp() async throws {
        harness = try await GatewayHarness()
    }

    override func tearDown() async throws {
        await harness.stop()
    }

    /// The harness's configuration with `yaml` lines merged in, as a reload would load it.
    private func configuration(_ overrides: [String: String]) throws(ConfigurationError) -> Configuration {
        let running = harness.gateway.currentConfiguration
        let yaml = """
            proxy:
              listen: "\(running.proxy.listen.host):\(running.proxy.listen.port)"
              upstream: "http://127.0.0.1:\(harness.upstream.port)"
            jwt:
              secret: "\(GatewayHarness.secret)"
            revocation:
              file: "\(running.revocation.file)"
            admin:
              listen: "\(running.admin.listen.host):\(running.admin.listen.port)"
              token: "\(GatewayHarness.adminToken)"
            """
        return try ConfigurationLoader.load(yaml: yaml, environment: overrides)
    }

    func testReloadUnderLoadFailsNoRequestAndDropsNoConnection() async throws {
        let token = harness.token()
        let port = harness.proxyPort
        let failures = NIOLockedValueBox<[String]>([])
        let completed = NIOLockedValueBox(0)
        let stop = NIOLockedValueBox(false)
        // Four keep-alive connections sending back to back while reloads happen.
        let workers = (0..<4).map { _ in
            Thread {
                do {
                    let client = try RawHTTPClient(port: port)
                    while !stop.withLockedValue({ $0 }) {
                        let response = try client.request("GET", "/load", headers: [("Authorization", "Bearer \(token)")])
                        if response.status != 200 { failures.withLockedValue { $0.append("status \(response.status)") } }
                        completed.withLockedValue { $0 += 1 }
                    }
                } catch {
                    failures.withLockedValue { $0.append("\(error)") }
                }
            }
        }
        workers.forEach { $0.start() }
        var reloads = 0
        for round in 0..<20 {
            let outcome = harness.gateway.reload { () throws(ConfigurationError) in
                try configuration([
                    "PORTCULLIS_PROXY_PUBLIC_PATHS": "/public-\(round)/*",
                    "PORTCULLIS_PROXY_UPSTREAM_TIMEOUT": "\(20 + round)s",
                ])
            }
            guard case .applied(let changed, let needRestart) = outcome else { return XCTFail("\(outcome)") }
            XCTAssertTrue(changed.contains("proxy.public_paths"), "\(changed)")
            XCTAssertEqual(needRestart, [])
            reloads += 1
            try await Task.sleep(for: .milliseconds(20))
        }
        stop.withLockedValue { $0 = true }
        while workers.contains(where: { !$0.isFinished }) { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertEqual(failures.withLockedValue { $0 }, [])
        XCTAssertGreaterThan(completed.withLockedValue { $0 }, reloads, "requests ran during the reloads")
        XCTAssertEqual(harness.upstream.connectionsAccepted > 0, true)

        // The last reload is in force: its public path needs no token.
        XCTAssertEqual(try harness.client().request("GET", "/public-19/x").status, 200)
        XCTAssertEqual(try harness.client().request("GET", "/public-18/x").status, 401)
    }

    func testNewSecretTakesEffectForTheNextRequestOnTheSameConnection() async throws {
        let client = try harness.client()
        let oldToken = harness.token()
        XCTAssertEqual(try client.request("GET", "/a", headers: [("Authorization", "Bearer \(oldToken)")]).status, 200)

        let newSecret = "a-rotated-secret-0123456789abcdefghij"
        let outcome = harness.gateway.reload { () throws(ConfigurationError) in
            try configuration(["PORTCULLIS_JWT_SECRET": newSecret])
        }
        XCTAssertEqual(outcome, .applied(changed: ["jwt.secret"], needRestart: []))
        XCTAssertEqual(try client.request("GET", "/b", headers: [("Authorization", "Bearer \(oldToken)")]).status, 422,
                       "the same keep-alive connection sees the new key")
        let minter = try TokenMinter(algorithm: .HS256, secret: Array(newSecret.utf8))
        let newToken = minter.mint(.init(subject: "alice", ttlSeconds: 600), issuer: nil, audience: [],
                                   now: Date().timeIntervalSince1970)
        XCTAssertEqual(try client.request("GET", "/c", headers: [("Authorization", "Bearer \(newToken)")]).status, 200)
    }

    /// Key files are read again on reload: a PEM swapped for another key, then a JWKS file whose
    /// set changed, each take effect for the next request.
    func testReloadReadsKeyFilesAgain() async throws {
        let keyA = P256.Signing.PrivateKey(), keyB = P256.Signing.PrivateKey()
        func token(_ key: P256.Signing.PrivateKey, kid: String? = nil) throws -> String {
            try TokenMinter(algorithm: .ES256, privateKeyPEM: key.pemRepresentation)
                .mint(.init(subject: "alice", ttlSeconds: 600), issuer: nil, audience: [], now: Date().timeIntervalSince1970,
                      keyID: kid)
        }
        func status(_ token: String) throws -> Int {
            try harness.client().request("GET", "/k", headers: [("Authorization", "Bearer \(token)")]).status
        }
        let pem = harness.directory.appendingPathComponent("key.pem").path
        let jwks = harness.directory.appendingPathComponent("keys.jwks").path

        try keyA.publicKey.pemRepresentation.write(toFile: pem, atomically: true, encoding: .utf8)
        let toPEM = harness.gateway.reload { () throws(ConfigurationError) in
            try configuration(["PORTCULLIS_JWT_ALGORITHMS": "ES256", "PORTCULLIS_JWT_PUBLIC_KEY_FILE": pem])
        }
        guard case .applied = toPEM else { return XCTFail("\(toPEM)") }
        XCTAssertEqual(try status(try token(keyA)), 200)
        XCTAssertEqual(try status(try token(keyB)), 422)

        // Same configuration, new file contents: the reload alone brings key B in.
        try keyB.publicKey.pemRepresentation.write(toFile: pem, atomically: true, encoding: .utf8)
        let samePath = harness.gateway.reload { () throws(ConfigurationError) in
            try configuration(["PORTCULLIS_JWT_ALGORITHMS": "ES256", "PORTCULLIS_JWT_PUBLIC_KEY_FILE": pem])
        }
        XCTAssertEqual(samePath, .applied(changed: [], needRestart: []))
        XCTAssertEqual(try status(try token(keyB)), 200)
        XCTAssertEqual(try status(try token(keyA)), 422)

        // A JWKS file: a rotation adds kid b next to kid a, then retires a.
        let jwksEnvironment = ["PORTCULLIS_JWT_ALGORITHMS": "ES256", "PORTCULLIS_JWT_JWKS_FILE": jwks]
        try KeySetServer.jwks([("a", keyA.publicKey)]).write(toFile: jwks, atomically: true, encoding: .utf8)
        _ = harness.gateway.reload { () throws(ConfigurationError) in try configuration(jwksEnvironment) }
        XCTAssertEqual(try status(try token(keyA, kid: "a")), 200)
        XCTAssertEqual(try status(try token(keyB, kid: "b")), 422)
        try KeySetServer.jwks([("a", keyA.publicKey), ("b", keyB.publicKey)]).write(toFile: jwks, atomically: true, encoding: .utf8)
        _ = harness.gateway.reload { () throws(ConfigurationError) in try configuration(jwksEnvironment) }
        XCTAssertEqual(try status(try token(keyA, kid: "a")), 200)
        XCTAssertEqual(try status(try token(keyB, kid: "b")), 200)
        try KeySetServer.jwks([("b", keyB.publicKey)]).write(toFile: jwks, atomically: true, encoding: .utf8)
        _ = harness.gateway.reload { () throws(ConfigurationError) in try configuration(jwksEnvironment) }
        XCTAssertEqual(try status(try token(keyA, kid: "a")), 422)
        XCTAssertEqual(try status(try token(keyB, kid: "b")), 200)
    }

    func testInvalidReloadKeepsTheRunningConfigurationAndReportsEveryProblem() async throws {
        let token = harness.token()
        let outcome = harness.gateway.reload { () throws(ConfigurationError) in
            try configuration([
                "PORTCULLIS_JWT_SECRET": "short",
                "PORTCULLIS_PROXY_UPSTREAM_TIMEOUT": "soon",
                "PORTCULLIS_JWT_LOCATIONS": "headers,carrier-pigeon",
            ])
        }
        guard case .rejected(let problems) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(problems.count, 3, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("jwt.secret") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("proxy.upstream_timeout") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("jwt.locations") }, "\(problems)")
        XCTAssertEqual(try harness.client().request("GET", "/x", headers: [("Authorization", "Bearer \(token)")]).status, 200)
        XCTAssertEqual(harness.gateway.currentConfiguration.jwt.secret, GatewayHarness.secret)

        // A key file that does not load is refused too, with its key named.
        let missing = harness.gateway.reload { () throws(ConfigurationError) in
            var c = try configuration([:])
            c.jwt.algorithms = [.RS256]
            c.jwt.publicKeyFile = "/nonexistent/key.pem"
            return c
        }
        guard case .rejected(let keyProblems) = missing else { return XCTFail("\(missing)") }
        XCTAssertTrue(keyProblems.contains { $0.contains("jwt.public_key_file") }, "\(keyProblems)")
        XCTAssertEqual(try harness.client().request("GET", "/y", headers: [("Authorization", "Bearer \(token)")]).status, 200)

        let metrics = try harness.adminClient().request("GET", "/metrics").bodyText
        XCTAssertTrue(metrics.contains(#"portcullis_config_reloads_total{outcome="rejected"} 2"#), metrics)
    }

    func testKeysBoundAtStartAreReportedAsNeedingARestart() async throws {
        let outcome = harness.gateway.reload { () throws(ConfigurationError) in
            try configuration([
                "PORTCULLIS_PROXY_LISTEN": "127.0.0.1:1",
                "PORTCULLIS_REVOCATION_STORE": "redis",
                "PORTCULLIS_ERRORS_FORMAT": "rfc6750",
            ])
        }
        XCTAssertEqual(outcome, .applied(changed: ["errors.format"], needRestart: ["proxy.listen", "revocation.store"]))
        // The listener and store in force are unchanged; the live key applied.
        let response = try harness.client().request("GET", "/x")
        XCTAssertEqual(response.status, 401)
        XCTAssertEqual(harness.gateway.currentConfiguration.revocation.store, .memory)
        let metrics = try harness.adminClient().request("GET", "/metrics").bodyText
        XCTAssertTrue(metrics.contains(#"portcullis_config_reloads_total{outcome="applied"} 1"#), metrics)
    }

    func testAdminTokenRotatesOnReload() async throws {
        let newAdminToken = "rotated-admin-token-0123456789abc"
        _ = harness.gateway.reload { () throws(ConfigurationError) in
            try configuration(["PORTCULLIS_ADMIN_TOKEN": newAdminToken])
        }
        let old = try harness.adminClient().request("GET", "/v1/revocations",
                                                    headers: [("Authorization", "Bearer \(GatewayHarness.adminToken)")])
        XCTAssertEqual(old.status, 401)
        let new = try harness.adminClient().request("GET", "/v1/revocations", headers: [("Authorization", "Bearer \(newAdminToken)")])
        XCTAssertEqual(new.status, 200)
    }
}
