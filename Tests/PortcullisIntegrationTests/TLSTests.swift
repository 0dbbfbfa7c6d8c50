import Foundation
import NIOPosix
import PortcullisCore
import PortcullisGateway
import XCTest

/// TLS both ways: the HTTPS listener (and its certificate rotated on reload), an `https://`
/// upstream verified against `proxy.upstream_ca_file`, and the admin listener over HTTPS.
/// Certificates are made by the tests with openssl.
final class TLSTests: XCTestCase {
    private var directory: URL!
    private var certificates: TestCertificates.Files!

    override func setUp() async throws {
        directory = try GatewayHarness.makeTemporaryDirectory()
        certificates = try TestCertificates.make(in: directory)
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func listenerEnvironment(_ files: TestCertificates.Files) -> [String: String] {
        ["PORTCULLIS_PROXY_TLS_CERT_FILE": files.certificateFile, "PORTCULLIS_PROXY_TLS_KEY_FILE": files.keyFile]
    }

    private func get(_ path: String, token: String) -> String {
        "GET \(path) HTTP/1.1\r\nHost: test.local\r\nAuthorization: Bearer \(token)\r\n\r\n"
    }

    func testHTTPSListenerForwardsWithProtoHTTPSAndRefusesPlainHTTP() async throws {
        let h = try await GatewayHarness(environment: listenerEnvironment(certificates))
        let client = try TLSTestClient(port: h.proxyPort, caFile: certificates.caFile, group: GatewayHarness.sharedGroup)
        let response = try client.request(get("/echo", token: h.token()))
        XCTAssertEqual(response.status, 200)
        let echoed = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any]
        let headers = echoed?["headers"] as? [[String]] ?? []
        XCTAssertEqual(headers.first { $0.first?.lowercased() == "x-forwarded-proto" }?.last, "https", response.body)
        // A denial is answered over TLS too.
        XCTAssertEqual(try client.request("GET / HTTP/1.1\r\nHost: t\r\n\r\n").status, 401)
        // Plain HTTP gets no HTTP answer: the listener speaks HTTPS only.
        let plain = try h.client()
        try plain.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertThrowsError(try plain.readResponse())
        await h.stop()
    }

    func testCertificateIsReadAgainOnReloadForNewConnections() async throws {
        let h = try await GatewayHarness(environment: listenerEnvironment(certificates))
        let old = try TLSTestClient(port: h.proxyPort, caFile: certificates.caFile, group: GatewayHarness.sharedGroup)
        XCTAssertEqual(try old.request(get("/", token: h.token())).status, 200)
        let firstSerial = try XCTUnwrap(old.peerCertificateSerial)

        // Rotate: a new CA and certificate written over the same two files, then a reload.
        let next = try TestCertificates.make(in: try GatewayHarness.makeTemporaryDirectory())
        try FileManager.default.removeItem(atPath: certificates.certificateFile)
        try FileManager.default.removeItem(atPath: certificates.keyFile)
        try FileManager.default.copyItem(atPath: next.certificateFile, toPath: certificates.certificateFile)
        try FileManager.default.copyItem(atPath: next.keyFile, toPath: certificates.keyFile)
        let running = h.gateway.currentConfiguration
        let outcome = h.gateway.reload { () throws(ConfigurationError) in running }
        guard case .applied = outcome else { return XCTFail("\(outcome)") }

        let fresh = try TLSTestClient(port: h.proxyPort, caFile: next.caFile, group: GatewayHarness.sharedGroup)
        XCTAssertEqual(try fresh.request(get("/", token: h.token())).status, 200)
        let secondSerial = try XCTUnwrap(fresh.peerCertificateSerial)
        XCTAssertNotEqual(firstSerial, secondSerial, "a new connection gets the rotated certificate")
        // The connection opened before the rotation lives on.
        XCTAssertEqual(try old.request(get("/", token: h.token())).status, 200)
        XCTAssertEqual(old.peerCertificateSerial, firstSerial)
        await h.stop()
    }

    func testReloadWithAnUnreadableKeyKeepsTheOldCertificate() async throws {
        let h = try await GatewayHarness(environment: listenerEnvironment(certificates))
        try "not a key".write(toFile: certificates.keyFile, atomically: true, encoding: .utf8)
        let running = h.gateway.currentConfiguration
        guard case .rejected(let problems) = h.gateway.reload({ () throws(ConfigurationError) in running }) else {
            return XCTFail("a broken key must refuse the reload")
        }
        XCTAssertTrue(problems.contains { $0.contains("proxy.tls_cert_file") && $0.contains("private key") }, "\(problems)")
        let client = try TLSTestClient(port: h.proxyPort, caFile: certificates.caFile, group: GatewayHarness.sharedGroup)
        XCTAssertEqual(try client.request(get("/", token: h.token())).status, 200, "the old certificate serves on")
        await h.stop()
    }

    func testHTTPSUpstreamIsVerifiedAgainstTheCAFile() async throws {
        let upstream = try ScriptedUpstream(group: GatewayHarness.sharedGroup,
                                            tls: (certificates.certificateFile, certificates.keyFile)) { _ in
            .init("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        }
        let trusted = try await GatewayHarness(environment: ["PORTCULLIS_PROXY_UPSTREAM_CA_FILE": certificates.caFile],
                                               upstreamURL: "https://127.0.0.1:\(upstream.port)")
        let passed = try trusted.client().request("GET", "/", headers: [("Authorization", "Bearer \(trusted.token())")])
        XCTAssertEqual(passed.status, 200)
        XCTAssertEqual(passed.bodyText, "ok")
        await trusted.stop()

        // A CA that did not sign the upstream's certificate: 502, nothing relayed.
        let other = try TestCertificates.make(in: try GatewayHarness.makeTemporaryDirectory())
        let untrusted = try await GatewayHarness(environment: ["PORTCULLIS_PROXY_UPSTREAM_CA_FILE": other.caFile],
                                                 upstreamURL: "https://127.0.0.1:\(upstream.port)")
        let refused = try untrusted.client().request("GET", "/", headers: [("Authorization", "Bearer \(untrusted.token())")])
        XCTAssertEqual(refused.status, 502)
        XCTAssertEqual(refused.json["error_type"] as? String, "UpstreamError")
        await untrusted.stop()
        upstream.stop()
    }

    func testAdminListenerOverHTTPS() async throws {
        let h = try await GatewayHarness(environment: [
            "PORTCULLIS_ADMIN_TLS_CERT_FILE": certificates.certificateFile,
            "PORTCULLIS_ADMIN_TLS_KEY_FILE": certificates.keyFile,
        ])
        let client = try TLSTestClient(port: h.adminPort, caFile: certificates.caFile, group: GatewayHarness.sharedGroup)
        XCTAssertEqual(try client.request("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n").status, 200)
        await h.stop()
    }

    func testHalfConfiguredTLSIsRefusedNamingTheKey() throws {
        let yaml = """
            proxy:
              upstream: "http://127.0.0.1:1"
              tls_cert_file: "\(certificates.certificateFile)"
              upstream_ca_file: "\(certificates.caFile)"
            jwt:
              secret: "\(GatewayHarness.secret)"
            """
        XCTAssertThrowsError(try ConfigurationLoader.load(yaml: yaml, environment: [:])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("proxy.tls_key_file: is required when proxy.tls_cert_file is set"), text)
            XCTAssertTrue(text.contains("proxy.upstream_ca_file"), text)
        }
    }
}
