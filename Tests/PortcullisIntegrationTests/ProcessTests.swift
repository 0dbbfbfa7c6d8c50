import Crypto
import Foundation
import XCTest

/// The binary as operators run it: exit codes, signals, durability, memory.
final class ProcessTests: XCTestCase {
    private var directory: URL!
    private var upstream: GatewayHarness!

    override func setUp() async throws {
        directory = try GatewayHarness.makeTemporaryDirectory()
        // Only its TestUpstream is used: a real upstream on a loopback port.
        upstream = try await GatewayHarness()
    }

    override func tearDown() async throws {
        await upstream.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    private func writeConfig(proxyPort: Int, adminPort: Int, extra: String = "") throws -> String {
        let path = directory.appendingPathComponent("portcullis.yaml").path
        try """
            proxy:
              listen: "127.0.0.1:\(proxyPort)"
              upstream: "http://127.0.0.1:\(upstream.upstream.port)"
              threads: 1
            jwt:
              secret: "\(GatewayHarness.secret)"
            revocation:
              file: "\(directory.path)/revocations.log"
            admin:
              listen: "127.0.0.1:\(adminPort)"
              token: "\(GatewayHarness.adminToken)"
            log:
              level: warning
            \(extra)
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func start(_ config: String, adminPort: Int, environment: [String: String] = [:]) throws -> PortcullisProcess {
        let process = try PortcullisProcess(arguments: ["serve", "--config", config], environment: environment)
        do {
            try PortcullisProcess.waitUntilReady(adminPort: adminPort)
        } catch {
            process.terminate()
            XCTFail("not ready: \(process.stderrText)")
            throw error
        }
        return process
    }

    func testCheckConfigReportsEveryProblemAtOnce() throws {
        let path = directory.appendingPathComponent("bad.yaml").path
        try """
            proxy:
              listen: "nowhere"
              connect_timeout: "soon"
              max_header_bytes: "lots"
            jwt:
              algorithms: [HS256, XX999]
              secret: "short"
            revocation:
              stroe: memory
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let (status, _, stderr) = try PortcullisProcess.run(["check-config", "--config", path],
                                                            environment: ["PORTCULLIS_ADMIN_LISTN": "x"])
        XCTAssertEqual(status, 1)
        for key in ["proxy.listen", "proxy.upstream", "proxy.connect_timeout", "proxy.max_header_bytes",
                    "jwt.algorithms", "revocation.stroe", "PORTCULLIS_ADMIN_LISTN"] {
            XCTAssertTrue(stderr.contains(key), "\(key) missing from:\n\(stderr)")
        }
    }

    func testCheckConfigPrintsRedactedConfiguration() throws {
        let config = try writeConfig(proxyPort: 18080, adminPort: 18081)
        let (status, stdout, stderr) = try PortcullisProcess.run(["check-config", "--config", config])
        XCTAssertEqual(status, 0, stderr)
        XCTAssertTrue(stdout.contains("upstream:"), stdout)
        XCTAssertFalse(stdout.contains(GatewayHarness.secret), "the HMAC secret must not be printed")
        XCTAssertFalse(stdout.contains(GatewayHarness.adminToken), "the admin token must not be printed")
    }

    func testSIGTERMDrainsInFlightRequestsThenExitsZero() throws {
        let proxyPort = PortcullisProcess.freePort()
        let adminPort = PortcullisProcess.freePort()
        let process = try start(try writeConfig(proxyPort: proxyPort, adminPort: adminPort), adminPort: adminPort)
        defer { process.terminate() }
        let token = upstream.token()
        let idle = try RawHTTPClient(port: proxyPort)
        XCTAssertEqual(try idle.request("GET", "/warm", headers: [("Authorization", "Bearer \(token)")]).status, 200)

        let inFlight = try RawHTTPClient(port: proxyPort)
        try inFlight.send("GET /slow?ms=1500 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(token)\r\n\r\n")
        // The request must be with the upstream before the signal.
        let deadline = Date().addingTimeInterval(5)
        while upstream.upstream.requestsSeen < 2 && Date() < deadline { usleep(10_000) }
        process.signal(SIGTERM)

        let response = try inFlight.readResponse()
        XCTAssertEqual(response.status, 200, "the in-flight request completes")
        XCTAssertEqual(response.header("connection")?.lowercased(), "close")
        XCTAssertTrue(idle.isClosedByPeer(), "idle keep-alive connections are closed")
        XCTAssertEqual(process.waitForExit(seconds: 10), 0)
        XCTAssertThrowsError(try RawHTTPClient(port: proxyPort), "no longer accepting")
    }

    func testSIGHUPReloadsTheConfigFileAndRefusesABrokenOne() throws {
        let proxyPort = PortcullisProcess.freePort()
        let adminPort = PortcullisProcess.freePort()
        let config = try writeConfig(proxyPort: proxyPort, adminPort: adminPort)
        let process = try start(config, adminPort: adminPort)
        defer { process.terminate() }
        let client = try RawHTTPClient(port: proxyPort)
        let garbage = [("Authorization", "Bearer not-a-jwt")]
        XCTAssertEqual(try client.request("GET", "/x", headers: garbage).status, 422, "errors.format authx")

        _ = try writeConfig(proxyPort: proxyPort, adminPort: adminPort, extra: "errors:\n  format: rfc6750")
        process.signal(SIGHUP)
        let deadline = Date().addingTimeInterval(10)
        while try client.request("GET", "/x", headers: garbage).status != 401 && Date() < deadline { usleep(20_000) }
        XCTAssertEqual(try client.request("GET", "/x", headers: garbage).status, 401,
                       "the reloaded errors.format is in force on the same connection")

        try "proxy:\n  listen: [oops\n".write(toFile: config, atomically: true, encoding: .utf8)
        process.signal(SIGHUP)
        let admin = try RawHTTPClient(port: adminPort)
        let rejected = #"portcullis_config_reloads_total{outcome="rejected"} 1"#
        let refusedBy = Date().addingTimeInterval(10)
        while !(try admin.request("GET", "/metrics").bodyText.contains(rejected)) && Date() < refusedBy { usleep(20_000) }
        let metrics = try admin.request("GET", "/metrics").bodyText
        XCTAssertTrue(metrics.contains(rejected), metrics)
        XCTAssertTrue(metrics.contains(#"portcullis_config_reloads_total{outcome="applied"} 1"#), metrics)
        XCTAssertTrue(process.stderrText.contains("configuration reload refused"))
        XCTAssertEqual(try client.request("GET", "/x", headers: garbage).status, 401, "the running configuration stays")
        XCTAssertEqual(try client.request("GET", "/x", headers: [("Authorization", "Bearer \(upstream.token())")]).status, 200)
        XCTAssertNil(process.waitForExit(seconds: 0.1), "SIGHUP does not stop the process")
    }

    func testRevocationSurvivesSIGKILL() throws {
        let proxyPort = PortcullisProcess.freePort()
        let adminPort = PortcullisProcess.freePort()
        let config = try writeConfig(proxyPort: proxyPort, adminPort: adminPort)
        let token = upstream.token(jti: "survives-kill")
        let first = try start(config, adminPort: adminPort)
        let created = try RawHTTPClient(port: adminPort).request(
            "POST", "/v1/revocations", headers: [("Authorization", "Bearer \(GatewayHarness.adminToken)")],
            body: #"{"jti": "survives-kill", "expires_at": \#(Int(Date().timeIntervalSince1970) + 600)}"#)
        XCTAssertEqual(created.status, 201)
        first.signal(SIGKILL)
        XCTAssertNotNil(first.waitForExit(seconds: 5))

        let second = try start(config, adminPort: adminPort)
        defer { second.terminate() }
        let response = try RawHTTPClient(port: proxyPort).request("GET", "/", headers: [("Authorization", "Bearer \(token)")])
        XCTAssertEqual(response.status, 401)
        XCTAssertEqual(response.json["error_type"] as? String, "RevokedTokenError")
    }

    func testGigabyteStreamsInBoundedMemory() throws {
        let proxyPort = PortcullisProcess.freePort()
        let adminPort = PortcullisProcess.freePort()
        let process = try start(try writeConfig(proxyPort: proxyPort, adminPort: adminPort), adminPort: adminPort)
        defer { process.terminate() }
        let token = upstream.token(ttl: 3600)
        let gigabyte = 1 << 30

        // Download: the client reads slower than loopback could deliver, so backpressure must hold.
        let client = try RawHTTPClient(port: proxyPort, timeoutSeconds: 60)
        try client.send("GET /download?bytes=\(gigabyte) HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(token)\r\n\r\n")
        var received = 0
        let response = try client.readResponse { bytes in received += bytes.count }
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(received, gigabyte)

        // Upload: 1 GiB with Content-Length, hashed by the upstream.
        let piece = [UInt8](repeating: 0x5A, count: 1 << 20)
        try client.send("POST /upload HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(token)\r\nContent-Length: \(gigabyte)\r\n\r\n")
        for _ in 0..<1024 { try client.send(piece) }
        let uploaded = try client.readResponse()
        XCTAssertEqual(uploaded.json["body_bytes"] as? Int, gigabyte)

        let peak = try XCTUnwrap(process.peakRSS)
        XCTAssertLessThan(peak, 150 << 20, "peak RSS \(peak >> 20) MiB while 2 GiB passed through")
    }

    func testRevokeCommandAgainstALiveServer() throws {
        let proxyPort = PortcullisProcess.freePort()
        let adminPort = PortcullisProcess.freePort()
        let process = try start(try writeConfig(proxyPort: proxyPort, adminPort: adminPort), adminPort: adminPort)
        defer { process.terminate() }
        let url = "http://127.0.0.1:\(adminPort)"
        let token = upstream.token(sub: "carol", jti: "cli-jti", ttl: 600)
        func status() throws -> Int {
            try RawHTTPClient(port: proxyPort).request("GET", "/", headers: [("Authorization", "Bearer \(token)")]).status
        }
        XCTAssertEqual(try status(), 200)

        let expiresAt = Int(Date().timeIntervalSince1970) + 600
        var (code, out, err) = try PortcullisProcess.run(
            ["revoke", "--admin-url", url, "--jti", "cli-jti", "--expires-at", "\(expiresAt)", "--reason", "test"],
            environment: ["PORTCULLIS_ADMIN_TOKEN": GatewayHarness.adminToken])
        XCTAssertEqual(code, 0, err)
        XCTAssertTrue(out.contains(#""jti":"cli-jti""#), out)
        XCTAssertEqual(try status(), 401)

        (code, _, err) = try PortcullisProcess.run(
            ["revoke", "--admin-url", url, "--admin-token", GatewayHarness.adminToken, "--jti", "cli-jti", "--unrevoke"])
        XCTAssertEqual(code, 0, err)
        XCTAssertEqual(try status(), 200)

        (code, out, err) = try PortcullisProcess.run(
            ["revoke", "--admin-url", url, "--admin-token", GatewayHarness.adminToken, "--subject", "carol"])
        XCTAssertEqual(code, 0, err)
        XCTAssertTrue(out.contains("revoked_before"), out)
        XCTAssertEqual(try status(), 401, "carol's token was issued before the cut-off")

        // Revoking by token: another of carol's tokens, minted after the cut-off, then revoked whole.
        (code, _, err) = try PortcullisProcess.run(
            ["revoke", "--admin-url", url, "--admin-token", GatewayHarness.adminToken, "--subject", "carol", "--unrevoke"])
        XCTAssertEqual(code, 0, err)
        (code, out, err) = try PortcullisProcess.run(
            ["revoke", "--admin-url", url, "--admin-token", GatewayHarness.adminToken, "--token", token])
        XCTAssertEqual(code, 0, err)
        XCTAssertTrue(out.contains("cli-jti"), out)
        XCTAssertEqual(try status(), 401)

        // Failures: wrong admin token, unreachable API, no target.
        (code, _, err) = try PortcullisProcess.run(["revoke", "--admin-url", url, "--admin-token", "wrong-token-wrong", "--jti", "x"])
        XCTAssertEqual(code, 1)
        XCTAssertTrue(err.contains("401"), err)
        (code, _, err) = try PortcullisProcess.run(
            ["revoke", "--admin-url", "http://127.0.0.1:\(PortcullisProcess.freePort())", "--admin-token", "t", "--jti", "x"])
        XCTAssertEqual(code, 1)
        XCTAssertTrue(err.contains("cannot reach"), err)
        (code, _, err) = try PortcullisProcess.run(["revoke", "--admin-url", url, "--admin-token", "t"])
        XCTAssertNotEqual(code, 0)
        XCTAssertTrue(err.contains("exactly one of"), err)
    }

    func testAuditAndLookupCommandsAgainstALiveServer() throws {
        let proxyPort = PortcullisProcess.freePort()
        let adminPort = PortcullisProcess.freePort()
        let readerToken = "reader-token-0123456789abcdef"
        let tokensFile = directory.appendingPathComponent("admin-tokens").path
        try "support read \(readerToken)\n".write(toFile: tokensFile, atomically: true, encoding: .utf8)
        let process = try start(try writeConfig(proxyPort: proxyPort, adminPort: adminPort), adminPort: adminPort,
                                environment: ["PORTCULLIS_LOG_LEVEL": "info", "PORTCULLIS_REVOCATION_TOKEN_KEY": "revoked:{token}",
                                              "PORTCULLIS_ADMIN_TOKENS_FILE": tokensFile])
        defer { process.terminate() }
        let url = "http://127.0.0.1:\(adminPort)"
        let admin = ["--admin-url", url, "--admin-token", GatewayHarness.adminToken]

        var (code, out, err) = try PortcullisProcess.run(["revoke"] + admin + ["--jti", "cli-a", "--reason", "laptop stolen"])
        XCTAssertEqual(code, 0, err)
        let raw = upstream.token(jti: "", ttl: 600)
        (code, out, err) = try PortcullisProcess.run(["revoke"] + admin + ["--token", raw])
        XCTAssertEqual(code, 0, err)

        // --lookup: 0 and the revocation when revoked, 1 when not, 2 when the API cannot tell.
        (code, out, err) = try PortcullisProcess.run(["revoke"] + admin + ["--lookup", "cli-a"])
        XCTAssertEqual(code, 0, err)
        XCTAssertTrue(out.contains(#""revoked":true"#) && out.contains("laptop stolen"), out)
        (code, out, err) = try PortcullisProcess.run(["revoke"] + admin + ["--lookup", "never-revoked"])
        XCTAssertEqual(code, 1, err)
        XCTAssertTrue(out.contains(#""revoked":false"#), out)
        (code, out, err) = try PortcullisProcess.run(["revoke", "--admin-url", url, "--admin-token", "wrong-token-wrong", "--lookup", "cli-a"])
        XCTAssertEqual(code, 2)
        XCTAssertTrue(err.contains("401") && err.contains("Missing or invalid admin token"), err)

        // audit: newest first, one line each; --json as an array; --limit.
        (code, out, err) = try PortcullisProcess.run(["audit"] + admin)
        XCTAssertEqual(code, 0, err)
        let lines = out.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, out)
        let hashPrefix = String(SHA256.hash(data: Array(raw.utf8)).map { String(format: "%02x", $0) }.joined().prefix(12))
        XCTAssertTrue(lines[0].contains("revoke  \(hashPrefix)  by admin from 127.0.0.1"), "\(lines[0])")
        XCTAssertTrue(lines[1].contains("revoke  cli-a  by admin from 127.0.0.1  reason: laptop stolen"), "\(lines[1])")
        XCTAssertFalse(out.contains(raw))
        (code, out, err) = try PortcullisProcess.run(["audit", "--json"] + admin)
        XCTAssertEqual(code, 0, err)
        let array = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]], out)
        XCTAssertEqual(array.map { $0["target"] as? String }, [hashPrefix, "cli-a"])
        XCTAssertEqual(array.last?["reason"] as? String, "laptop stolen")
        // The read role is enough; PORTCULLIS_ADMIN_TOKEN stands in for --admin-token.
        (code, out, err) = try PortcullisProcess.run(["audit", "--admin-url", url, "--limit", "1"],
                                                    environment: ["PORTCULLIS_ADMIN_TOKEN": readerToken])
        XCTAssertEqual(code, 0, err)
        XCTAssertEqual(out.split(separator: "\n").count, 1, out)

        process.signal(SIGTERM)
        XCTAssertEqual(process.waitForExit(seconds: 10), 0)
        let log = process.stderrText
        XCTAssertTrue(log.contains("admin change"), log)
        XCTAssertFalse(log.contains(raw), "the raw token is never logged")

        // Again, with the log quieter (nobody reads it while the process runs): the audit and
        // the revocations came back from revocation.file. Past one page of 1000, --list and
        // --all follow the cursors.
        let second = try start(try writeConfig(proxyPort: proxyPort, adminPort: adminPort), adminPort: adminPort,
                               environment: ["PORTCULLIS_REVOCATION_TOKEN_KEY": "revoked:{token}",
                                             "PORTCULLIS_ADMIN_TOKENS_FILE": tokensFile])
        defer { second.terminate() }
        let client = try RawHTTPClient(port: adminPort)
        for index in 0..<1_100 {
            let created = try client.request("POST", "/v1/revocations", headers: [("Authorization", "Bearer \(GatewayHarness.adminToken)")],
                                             body: #"{"jti": "bulk-\#(index)"}"#)
            XCTAssertEqual(created.status, 201)
        }
        (code, out, err) = try PortcullisProcess.run(["revoke"] + admin + ["--list"])
        XCTAssertEqual(code, 0, err)
        let listed = out.split(separator: "\n").map(String.init)
        XCTAssertEqual(listed.count, 1_101, "every jti once (a raw token is not a jti)")
        XCTAssertEqual(Set(listed), Set((0..<1_100).map { "bulk-\($0)" } + ["cli-a"]))
        (code, out, err) = try PortcullisProcess.run(["audit", "--all"] + admin)
        XCTAssertEqual(code, 0, err)
        XCTAssertEqual(out.split(separator: "\n").count, 1_102)
        (code, out, err) = try PortcullisProcess.run(["audit", "--limit", "1050"] + admin)
        XCTAssertEqual(code, 0, err)
        let newest = out.split(separator: "\n")
        XCTAssertEqual(newest.count, 1_050)
        XCTAssertTrue(newest.first?.contains("bulk-1099") ?? false, "\(newest.first ?? "")")

        // Failures: a refused token (401, 403), an unreachable API, a bad URL.
        (code, _, err) = try PortcullisProcess.run(["audit", "--admin-url", url, "--admin-token", "wrong-token-wrong"])
        XCTAssertEqual(code, 1)
        XCTAssertTrue(err.contains("401") && err.contains("Missing or invalid admin token"), err)
        (code, _, err) = try PortcullisProcess.run(["revoke", "--admin-url", url, "--admin-token", readerToken, "--jti", "x"])
        XCTAssertEqual(code, 1)
        XCTAssertTrue(err.contains("403") && err.contains("Forbidden"), err)
        (code, _, err) = try PortcullisProcess.run(
            ["audit", "--admin-url", "http://127.0.0.1:\(PortcullisProcess.freePort())", "--admin-token", "t"])
        XCTAssertEqual(code, 1)
        XCTAssertTrue(err.contains("cannot reach"), err)
        (code, _, err) = try PortcullisProcess.run(["audit", "--admin-url", "ftp://example", "--admin-token", "t"])
        XCTAssertEqual(code, 1)
        XCTAssertTrue(err.contains("expected http://host:port or https://host:port"), err)
        (code, _, err) = try PortcullisProcess.run(["revoke"] + admin + ["--list", "--jti", "x"])
        XCTAssertNotEqual(code, 0)
        XCTAssertTrue(err.contains("exactly one of"), err)
    }

    /// `admin.tls_cert_file`: the CLI speaks HTTPS to the admin listener, verifying it against
    /// `--admin-ca-file`, and picks https itself when the URL comes from the configuration.
    func testAdminCommandsOverAnHTTPSAdminListener() throws {
        let certificates = try TestCertificates.make(in: directory)
        let proxyPort = PortcullisProcess.freePort()
        let adminPort = PortcullisProcess.freePort()
        let config = try writeConfig(proxyPort: proxyPort, adminPort: adminPort)
        let tls = ["PORTCULLIS_ADMIN_TLS_CERT_FILE": certificates.certificateFile,
                   "PORTCULLIS_ADMIN_TLS_KEY_FILE": certificates.keyFile]
        let process = try PortcullisProcess(arguments: ["serve", "--config", config], environment: tls)
        defer { process.terminate() }
        let url = "https://127.0.0.1:\(adminPort)"
        let admin = ["--admin-url", url, "--admin-token", GatewayHarness.adminToken, "--admin-ca-file", certificates.caFile]
        // Ready once the CLI gets an answer at all (exit 2: the API could not tell).
        let deadline = Date().addingTimeInterval(20)
        var (code, out, err) = (Int32(2), "", "")
        while Date() < deadline {
            (code, out, err) = try PortcullisProcess.run(["revoke"] + admin + ["--lookup", "over-tls"])
            if code != 2 { break }
            usleep(50_000)
        }
        XCTAssertEqual(code, 1, "not revoked yet: \(err) \(process.stderrText)")
        (code, out, err) = try PortcullisProcess.run(["revoke"] + admin + ["--jti", "over-tls", "--reason", "tls"])
        XCTAssertEqual(code, 0, err)
        // From the configuration: https because admin.tls_cert_file is set.
        (code, out, err) = try PortcullisProcess.run(["audit", "--config", config, "--admin-token", GatewayHarness.adminToken,
                                                      "--admin-ca-file", certificates.caFile], environment: tls)
        XCTAssertEqual(code, 0, err)
        XCTAssertTrue(out.contains("over-tls"), out)
        // An untrusted certificate is refused, and plain HTTP gets no answer from a TLS listener.
        (code, _, err) = try PortcullisProcess.run(["revoke", "--admin-url", url, "--admin-token", GatewayHarness.adminToken,
                                                    "--lookup", "over-tls"])
        XCTAssertEqual(code, 2)
        XCTAssertFalse(err.isEmpty)
        (code, _, err) = try PortcullisProcess.run(["audit", "--admin-url", "http://127.0.0.1:\(adminPort)", "--admin-token", "t",
                                                    "--admin-ca-file", certificates.caFile])
        XCTAssertEqual(code, 1)
        XCTAssertTrue(err.contains("--admin-ca-file is for an https:// admin URL"), err)
    }

    func testVersionAndHelp() throws {
        let (code, out, _) = try PortcullisProcess.run(["--version"])
        XCTAssertEqual(code, 0)
        XCTAssertFalse(out.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        let (helpCode, help, _) = try PortcullisProcess.run(["--help"])
        XCTAssertEqual(helpCode, 0)
        for command in ["serve", "check-config", "revoke", "audit", "mint"] {
            XCTAssertTrue(help.contains(command), "\(command) missing from --help")
        }
    }

    func testAccessLogNamesTheJTIAndNeverTheToken() throws {
        let proxyPort = PortcullisProcess.freePort()
        let adminPort = PortcullisProcess.freePort()
        let process = try start(try writeConfig(proxyPort: proxyPort, adminPort: adminPort), adminPort: adminPort,
                                environment: ["PORTCULLIS_LOG_LEVEL": "debug", "PORTCULLIS_LOG_FORMAT": "json"])
        let token = upstream.token(jti: "access-log-jti")
        let client = try RawHTTPClient(port: proxyPort)
        XCTAssertEqual(try client.request("GET", "/seen?token=\(token)", headers: [("Authorization", "Bearer \(token)")]).status, 200)
        XCTAssertEqual(try client.request("GET", "/denied").status, 401)
        process.signal(SIGTERM)
        XCTAssertEqual(process.waitForExit(seconds: 10), 0)
        let log = process.stderrText
        let access = log.split(separator: "\n").filter { $0.contains(#""msg":"access""#) }
        XCTAssertEqual(access.count, 2, log)
        XCTAssertTrue(access[0].contains("access-log-jti") && access[0].contains(#""http.status":"200""#), "\(access[0])")
        XCTAssertTrue(access[1].contains("MissingTokenError") && access[1].contains(#""http.status":"401""#), "\(access[1])")
        XCTAssertFalse(log.contains(token), "the token must never be logged")
    }

    func testTwoProcessesShareOneRedis() throws {
        let redis = try RedisServer()
        var processes: [PortcullisProcess] = []
        var proxyPorts: [Int] = []
        defer { processes.forEach { $0.terminate() } }
        for index in 0..<2 {
            let proxyPort = PortcullisProcess.freePort()
            let adminPort = PortcullisProcess.freePort()
            let config = try writeConfig(proxyPort: proxyPort, adminPort: adminPort)
            let copy = directory.appendingPathComponent("portcullis-\(index).yaml").path
            try FileManager.default.copyItem(atPath: config, toPath: copy)
            processes.append(try start(copy, adminPort: adminPort, environment: [
                "PORTCULLIS_REVOCATION_STORE": "redis", "PORTCULLIS_REVOCATION_REDIS_URL": redis.url,
            ]))
            proxyPorts.append(proxyPort)
            if index == 0 {
                // The first process revokes through its own admin API.
                let token = upstream.token(jti: "two-processes")
                XCTAssertEqual(try RawHTTPClient(port: proxyPort).request("GET", "/", headers: [("Authorization", "Bearer \(token)")]).status, 200)
                let created = try RawHTTPClient(port: adminPort).request(
                    "POST", "/v1/revocations", headers: [("Authorization", "Bearer \(GatewayHarness.adminToken)")],
                    body: #"{"jti": "two-processes", "expires_at": \#(Int(Date().timeIntervalSince1970) + 600)}"#)
                XCTAssertEqual(created.status, 201)
            }
        }
        let token = upstream.token(jti: "two-processes")
        for port in proxyPorts {
            XCTAssertEqual(try RawHTTPClient(port: port).request("GET", "/", headers: [("Authorization", "Bearer \(token)")]).status, 401)
        }
    }
}
