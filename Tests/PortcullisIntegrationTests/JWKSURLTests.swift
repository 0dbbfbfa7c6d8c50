import Crypto
import Foundation
import PortcullisCore
import XCTest

/// `jwt.jwks_url`: keys fetched over HTTP from a real server, readiness, refetch on an unknown
/// `kid`, and the last good set kept through failures.
final class JWKSURLTests: XCTestCase {
    private var keyServer: KeySetServer!
    private var harness: GatewayHarness?
    private let keyA = P256.Signing.PrivateKey()
    private let keyB = P256.Signing.PrivateKey()

    override func setUp() async throws {
        keyServer = try KeySetServer(group: GatewayHarness.sharedGroup)
    }

    override func tearDown() async throws {
        await harness?.stop()
        keyServer.stop()
    }

    private func start(_ environment: [String: String] = [:]) async throws -> GatewayHarness {
        let harness = try await GatewayHarness(environment: [
            "PORTCULLIS_JWT_ALGORITHMS": "ES256",
            "PORTCULLIS_JWT_JWKS_URL": keyServer.url,
        ].merging(environment) { $1 })
        self.harness = harness
        return harness
    }

    private func token(_ key: P256.Signing.PrivateKey, kid: String) throws -> String {
        let minter = try TokenMinter(algorithm: .ES256, privateKeyPEM: key.pemRepresentation)
        return minter.mint(.init(subject: "alice", ttlSeconds: 600, jti: UUID().uuidString),
                           issuer: nil, audience: [], now: Date().timeIntervalSince1970, keyID: kid)
    }

    private func status(_ harness: GatewayHarness, _ token: String) throws -> Int {
        try harness.client().request("GET", "/r", headers: [("Authorization", "Bearer \(token)")]).status
    }

    private func readyStatus(_ harness: GatewayHarness) throws -> Int {
        try harness.adminClient().request("GET", "/readyz").status
    }

    private func waitUntil(_ what: String, seconds: Double = 10, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return }
            usleep(20_000)
        }
        XCTFail("timed out waiting for: \(what)")
    }

    func testReadinessWaitsForTheFirstFetchThenTokensVerify() async throws {
        keyServer.serve("unavailable", status: .serviceUnavailable)
        let harness = try await start()
        let token = try token(keyA, kid: "a")
        try waitUntil("a first failed fetch") { keyServer.fetches >= 1 }
        XCTAssertEqual(try readyStatus(harness), 503, "not ready before a key set was loaded")
        let early = try harness.client().request("GET", "/r", headers: [("Authorization", "Bearer \(token)")])
        XCTAssertEqual(early.status, 422)
        XCTAssertTrue(early.bodyText.contains("JWTDecodeError"), early.bodyText)

        keyServer.serve(KeySetServer.jwks([("a", keyA.publicKey)]))
        // The first retry comes about a second after the failure.
        try waitUntil("ready after the retry") { try readyStatus(harness) == 200 }
        XCTAssertEqual(try status(harness, token), 200)
        XCTAssertEqual(try status(harness, try self.token(keyB, kid: "a")), 422, "kid a with another key's signature")
    }

    func testUnknownKidRefetchesAtMostOncePerInterval() async throws {
        keyServer.serve(KeySetServer.jwks([("a", keyA.publicKey)]))
        let harness = try await start([
            "PORTCULLIS_JWT_JWKS_REFRESH_INTERVAL": "1h", "PORTCULLIS_JWT_JWKS_MIN_REFETCH_INTERVAL": "1h",
        ])
        try waitUntil("ready") { try readyStatus(harness) == 200 }
        XCTAssertEqual(keyServer.fetches, 1)

        // The identity provider publishes key b; the first token naming it triggers one fetch.
        keyServer.serve(KeySetServer.jwks([("a", keyA.publicKey), ("b", keyB.publicKey)]))
        let tokenB = try token(keyB, kid: "b")
        XCTAssertEqual(try status(harness, tokenB), 422, "refused until the refetch lands")
        try waitUntil("key b in force") { try status(harness, tokenB) == 200 }
        XCTAssertEqual(keyServer.fetches, 2)

        // Made-up kids cannot make the gate hammer the key server: the interval has not passed.
        for index in 0..<20 {
            XCTAssertEqual(try status(harness, try token(keyB, kid: "made-up-\(index)")), 422)
        }
        // Something that must not happen: give a stray fetch time to arrive, then check.
        usleep(300_000)
        XCTAssertEqual(keyServer.fetches, 2)
        XCTAssertEqual(try status(harness, try token(keyA, kid: "a")), 200)
    }

    func testFailedAndInvalidFetchesKeepTheLastGoodSet() async throws {
        keyServer.serve(KeySetServer.jwks([("a", keyA.publicKey)]))
        let harness = try await start(["PORTCULLIS_JWT_JWKS_REFRESH_INTERVAL": "200ms"])
        try waitUntil("ready") { try readyStatus(harness) == 200 }
        let tokenA = try token(keyA, kid: "a")
        XCTAssertEqual(try status(harness, tokenA), 200)

        keyServer.serve("oops", status: .internalServerError)
        var seen = keyServer.fetches
        try waitUntil("two failed fetches") { keyServer.fetches >= seen + 2 }
        XCTAssertEqual(try status(harness, tokenA), 200, "the last good set stays after failed fetches")
        XCTAssertEqual(try readyStatus(harness), 200, "still ready: keys are loaded")

        keyServer.serve(#"{"keys": [{"kty": "EC", "crv": "P-256", "kid": "z"}]}"#)
        seen = keyServer.fetches
        try waitUntil("two invalid fetches") { keyServer.fetches >= seen + 2 }
        XCTAssertEqual(try status(harness, tokenA), 200, "the last good set stays after an unusable set")

        let metrics = try harness.adminClient().request("GET", "/metrics").bodyText
        XCTAssertTrue(metrics.contains(#"portcullis_jwks_refreshes_total{outcome="success"}"#), metrics)
        XCTAssertTrue(metrics.contains(#"portcullis_jwks_refreshes_total{outcome="fetch_failed"}"#), metrics)
        XCTAssertTrue(metrics.contains(#"portcullis_jwks_refreshes_total{outcome="invalid"}"#), metrics)

        // Rotation: the server now publishes only b; a is gone at the next refresh.
        keyServer.serve(KeySetServer.jwks([("b", keyB.publicKey)]))
        let tokenB = try token(keyB, kid: "b")
        try waitUntil("rotated to b") { try status(harness, tokenB) == 200 }
        XCTAssertEqual(try status(harness, tokenA), 422, "a retired key no longer verifies")
    }

    func testHTTPSWithAPrivateCA() async throws {
        keyServer.stop()
        let directory = try GatewayHarness.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificates = try TestCertificates.make(in: directory)
        keyServer = try KeySetServer(group: GatewayHarness.sharedGroup, certificates: certificates)
        keyServer.serve(KeySetServer.jwks([("a", keyA.publicKey)]))
        let harness = try await start(["PORTCULLIS_JWT_JWKS_TLS_CA_FILE": certificates.caFile])
        try waitUntil("ready over https") { try readyStatus(harness) == 200 }
        XCTAssertEqual(try status(harness, try token(keyA, kid: "a")), 200)
    }

    func testHTTPSRefusesAnUntrustedCertificate() async throws {
        keyServer.stop()
        let directory = try GatewayHarness.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        keyServer = try KeySetServer(group: GatewayHarness.sharedGroup, certificates: try TestCertificates.make(in: directory))
        keyServer.serve(KeySetServer.jwks([("a", keyA.publicKey)]))
        let harness = try await start()
        try waitUntil("a refused handshake") { keyServer.fetches == 0 && harness.gateway.jwks != nil }
        // The handshake fails before any request reaches the server, so nothing is counted there;
        // the metric shows the failed fetch.
        try waitUntil("a failed fetch in the metrics") {
            try harness.adminClient().request("GET", "/metrics").bodyText
                .contains(#"portcullis_jwks_refreshes_total{outcome="fetch_failed"} 1"#)
        }
        XCTAssertEqual(try readyStatus(harness), 503)
        XCTAssertEqual(keyServer.fetches, 0)
    }

    func testUnreachableKeyServerAtStartIsNotAStartFailure() async throws {
        keyServer.stop()
        let harness = try await start()
        XCTAssertEqual(try readyStatus(harness), 503)
        XCTAssertEqual(try harness.client().request("GET", "/healthz-through-proxy",
                                                      headers: [("Authorization", "Bearer \(try token(keyA, kid: "a"))")]).status,
                       422)
    }
}
