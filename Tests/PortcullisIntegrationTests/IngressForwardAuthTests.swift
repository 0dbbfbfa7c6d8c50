import Foundation
import XCTest

/// Portcullis behind the real ingresses from the system's packages: nginx (`auth_request`)
/// and Caddy (`forward_auth`), each started on a loopback port with the configuration from
/// deploy/examples/forward-auth/, in front of the test upstream.
final class IngressForwardAuthTests: XCTestCase {
    private var harness: GatewayHarness!
    private var ingress: IngressProcess?
    private var directory: URL!

    override func tearDown() async throws {
        ingress?.stop()
        await harness?.stop()
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    private func startGateway(denyStatus: String) async throws {
        harness = try await GatewayHarness(environment: [
            "PORTCULLIS_AUTHZ_LISTEN": "127.0.0.1:0",
            "PORTCULLIS_AUTHZ_DENY_STATUS": denyStatus,
            "PORTCULLIS_PROXY_PUBLIC_PATHS": "/public/*",
        ])
        directory = try GatewayHarness.makeTemporaryDirectory()
    }

    // MARK: nginx

    private func startNginx() throws -> Int {
        let port = PortcullisProcess.freePort()
        let site = try IngressProcess.example("forward-auth/nginx.conf", replacing: [
            ("127.0.0.1:9191", "127.0.0.1:\(harness.forwardAuthPort)"),
            ("127.0.0.1:3000", "127.0.0.1:\(harness.upstream.port)"),
            ("listen 127.0.0.1:8000", "listen 127.0.0.1:\(port)"),
        ])
        let nginx = try IngressProcess.executable(["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"])
        let temp = directory.appendingPathComponent("temp")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o777])
        try site.write(to: directory.appendingPathComponent("site.conf"), atomically: true, encoding: .utf8)
        let moduleTempPaths = try optionalTempPaths(nginx: nginx, under: temp)
        // What a packaged nginx.conf would hold, pointed into the test's directory.
        let main = """
            daemon off;
            master_process on;
            worker_processes 1;
            pid \(directory.path)/nginx.pid;
            error_log \(directory.path)/error.log warn;
            events { worker_connections 256; }
            http {
                access_log off;
                client_body_temp_path \(temp.path)/body;
                proxy_temp_path \(temp.path)/proxy;
            \(moduleTempPaths)
                include \(directory.path)/site.conf;
            }
            """
        try main.write(to: directory.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
        ingress = try IngressProcess(executable: nginx,
                                     arguments: ["-p", directory.path, "-c", directory.appendingPathComponent("nginx.conf").path,
                                                 "-e", directory.appendingPathComponent("error.log").path],
                                     port: port, directory: directory)
        return port
    }

    /// The packaged defaults are under /var/lib/nginx, which a test may not write; a directive
    /// for a module this nginx was built without is fatal, so only those it has.
    private func optionalTempPaths(nginx: String, under temp: URL) throws -> String {
        let version = Process()
        let pipe = Pipe()
        version.executableURL = URL(fileURLWithPath: nginx)
        version.arguments = ["-V"]
        version.standardError = pipe
        version.standardOutput = pipe
        try version.run()
        let flags = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        version.waitUntilExit()
        return ["fastcgi", "uwsgi", "scgi"].filter { !flags.contains("--without-http_\($0)_module") }
            .map { "    \($0)_temp_path \(temp.path)/\($0);" }.joined(separator: "\n")
    }

    func testNginxAuthRequestWithDenyStatus401() async throws {
        try await startGateway(denyStatus: "401")
        let port = try startNginx()

        // A valid token: the upstream sees the subject nginx copied from Portcullis's answer.
        let valid = try RawHTTPClient(port: port).request("GET", "/api/items?page=1",
                                                          headers: [("Authorization", "Bearer \(harness.token(sub: "alice"))")])
        XCTAssertEqual(valid.status, 200, valid.bodyText)
        XCTAssertEqual(valid.json["uri"] as? String, "/api/items?page=1")
        XCTAssertEqual(valid.upstreamHeader("X-Auth-Subject"), "alice")

        // A revoked one: 401 with Portcullis's JSON body, through the error_page.
        let jti = UUID().uuidString
        XCTAssertEqual(try harness.revoke(jti: jti).status, 201)
        let revoked = try RawHTTPClient(port: port).request("GET", "/api/items",
                                                            headers: [("Authorization", "Bearer \(harness.token(jti: jti))")])
        XCTAssertEqual(revoked.status, 401)
        XCTAssertEqual(revoked.json["error_type"] as? String, "RevokedTokenError")
        XCTAssertEqual(revoked.json["message"] as? String, "Invalid token")
        XCTAssertEqual(revoked.header("WWW-Authenticate"), #"Bearer error="invalid_token""#)

        // No token.
        let missing = try RawHTTPClient(port: port).request("GET", "/api/items")
        XCTAssertEqual(missing.status, 401)
        XCTAssertEqual(missing.json["error_type"] as? String, "MissingTokenError")

        // A bad signature is a 422 in AuthX's terms; deny_status: 401 makes it a 401 nginx accepts.
        let forged = harness.token().dropLast(4) + "AAAA"
        let badSignature = try RawHTTPClient(port: port).request("GET", "/api/items", headers: [("Authorization", "Bearer \(forged)")])
        XCTAssertEqual(badSignature.status, 401)
        XCTAssertEqual(badSignature.json["error_type"] as? String, "TokenInvalidSignatureError")

        // A public path passes without a token, and a client-sent subject does not reach the upstream.
        let open = try RawHTTPClient(port: port).request("GET", "/public/readme", headers: [("X-Auth-Subject", "mallory")])
        XCTAssertEqual(open.status, 200, open.bodyText)
        XCTAssertEqual(open.json["uri"] as? String, "/public/readme")
        XCTAssertNil(open.upstreamHeader("X-Auth-Subject"))

        XCTAssertEqual(harness.upstream.requestsSeen, 2, "only the passing requests reached the upstream")
    }

    // MARK: Caddy

    private func startCaddy() throws -> Int {
        let port = PortcullisProcess.freePort()
        let site = try IngressProcess.example("forward-auth/Caddyfile", replacing: [
            ("127.0.0.1:9191", "127.0.0.1:\(harness.forwardAuthPort)"),
            ("127.0.0.1:3000", "127.0.0.1:\(harness.upstream.port)"),
            ("http://:8001", "http://:\(port)"),
        ])
        try site.write(to: directory.appendingPathComponent("site.Caddyfile"), atomically: true, encoding: .utf8)
        // No admin endpoint (its fixed port would collide), no certificates, storage in the test's directory.
        let main = """
            {
            \tadmin off
            \tauto_https off
            }

            import \(directory.path)/site.Caddyfile
            """
        let config = directory.appendingPathComponent("Caddyfile")
        try main.write(to: config, atomically: true, encoding: .utf8)
        let caddy = try IngressProcess.executable(["/usr/bin/caddy", "/usr/local/bin/caddy"])
        ingress = try IngressProcess(executable: caddy, arguments: ["run", "--config", config.path, "--adapter", "caddyfile"],
                                     environment: ["HOME": directory.path, "XDG_DATA_HOME": directory.path,
                                                   "XDG_CONFIG_HOME": directory.path],
                                     port: port, directory: directory)
        return port
    }

    func testCaddyForwardAuthPassesAuthXAnswersThrough() async throws {
        try await startGateway(denyStatus: "authx")
        let port = try startCaddy()

        let valid = try RawHTTPClient(port: port).request("POST", "/api/items",
                                                          headers: [("Authorization", "Bearer \(harness.token(sub: "bob"))")],
                                                          body: #"{"name": "x"}"#)
        XCTAssertEqual(valid.status, 200, valid.bodyText)
        XCTAssertEqual(valid.json["method"] as? String, "POST")
        XCTAssertEqual(valid.upstreamHeader("X-Auth-Subject"), "bob")
        XCTAssertEqual(valid.json["body_bytes"] as? Int, 13, "the body went to the upstream, not to Portcullis")

        let jti = UUID().uuidString
        XCTAssertEqual(try harness.revoke(jti: jti).status, 201)
        let revoked = try RawHTTPClient(port: port).request("GET", "/api/items",
                                                            headers: [("Authorization", "Bearer \(harness.token(jti: jti))")])
        XCTAssertEqual(revoked.status, 401)
        XCTAssertEqual(revoked.json["error_type"] as? String, "RevokedTokenError")
        XCTAssertEqual(revoked.header("WWW-Authenticate"), #"Bearer error="invalid_token""#)

        let missing = try RawHTTPClient(port: port).request("GET", "/api/items")
        XCTAssertEqual(missing.status, 401)
        XCTAssertEqual(missing.json["error_type"] as? String, "MissingTokenError")
        XCTAssertEqual(missing.header("WWW-Authenticate"), "Bearer")

        let forged = harness.token().dropLast(4) + "AAAA"
        let badSignature = try RawHTTPClient(port: port).request("GET", "/api/items", headers: [("Authorization", "Bearer \(forged)")])
        XCTAssertEqual(badSignature.status, 422)
        XCTAssertEqual(badSignature.json["error_type"] as? String, "TokenInvalidSignatureError")
        XCTAssertEqual(badSignature.json["message"] as? String, "Signature verification failed")

        let open = try RawHTTPClient(port: port).request("GET", "/public/readme", headers: [("X-Auth-Subject", "mallory")])
        XCTAssertEqual(open.status, 200, open.bodyText)
        XCTAssertEqual(open.json["uri"] as? String, "/public/readme")
        // The client's copy is dropped by the example's `request_header`. Caddy before 2.10
        // then sets the unreplaced placeholder when Portcullis sent no claim header
        // (caddyserver/caddy#6610); from 2.10 on it sets nothing.
        let subject = open.upstreamHeader("X-Auth-Subject")
        XCTAssertTrue(subject == nil || subject == "{http.reverse_proxy.header.X-Auth-Subject}", "\(subject ?? "nil")")

        XCTAssertEqual(harness.upstream.requestsSeen, 2, "only the passing requests reached the upstream")
    }
}
