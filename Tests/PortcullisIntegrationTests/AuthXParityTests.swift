import Foundation
import XCTest

/// Portcullis with `routes` answers as AuthX does. `scripts/parity/authx_app.py` runs a FastAPI
/// app guarded by AuthX 1.7.1's own dependencies (`access_token_required`,
/// `refresh_token_required`, `fresh_token_required`, `scopes_required`) and its unguarded twin;
/// the twin sits behind Portcullis with the equivalent routes. The same requests, with tokens
/// AuthX minted, go to both: the status and the JSON body must be the same.
final class AuthXParityTests: XCTestCase {
    /// AuthX's endpoints in the script, as `routes` says them (read from the environment as JSON).
    static let routes = """
        [{"path": "/health", "auth": "none"},
         {"path": "/refresh", "methods": ["POST"], "token_type": "refresh"},
         {"path": "/password", "methods": ["POST"], "fresh": true},
         {"path": "/users", "methods": ["GET"], "scopes": ["users:read"]},
         {"path": "/admin/settings", "methods": ["PUT"], "scopes": ["admin:settings", "admin:users"]},
         {"path": "/reports", "methods": ["GET"], "scopes": ["reports:read", "admin"], "scopes_mode": "any"}]
        """

    static let endpoints = [
        ("GET", "/health"), ("GET", "/items"), ("POST", "/refresh"), ("POST", "/password"),
        ("GET", "/users"), ("PUT", "/admin/settings"), ("GET", "/reports"),
    ]

    struct Backends: Decodable {
        let protected: Int
        let twin: Int
        let tokens: [String: String]
        let revoked_jtis: [String: String]
    }

    func testPortcullisAnswersAsAuthXDoes() async throws {
        let python = try PythonVenv.python()
        let directory = try GatewayHarness.makeTemporaryDirectory()
        let output = directory.appendingPathComponent("backends.json")
        let app = Process()
        app.executableURL = URL(fileURLWithPath: python)
        app.arguments = [PythonVenv.repositoryRoot.appendingPathComponent("scripts/parity/authx_app.py").path, output.path]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PORTCULLIS_") }
        environment["PORTCULLIS_PARITY_SECRET"] = GatewayHarness.secret
        app.environment = environment
        let logURL = directory.appendingPathComponent("app.log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        app.standardOutput = try FileHandle(forWritingTo: logURL)
        app.standardError = try FileHandle(forWritingTo: logURL)
        try app.run()
        defer {
            app.terminate()
            // The script stops on SIGTERM; should it hang, the test must not.
            if !waitForExit(app, seconds: 10) { kill(app.processIdentifier, SIGKILL) }
            app.waitUntilExit()
            try? FileManager.default.removeItem(at: directory)
        }
        let backends = try await waitForBackends(output, app: app, log: logURL)

        let gateway = try await GatewayHarness(
            environment: ["PORTCULLIS_ROUTES": Self.routes], upstreamURL: "http://127.0.0.1:\(backends.twin)")
        do {
            try compare(backends, gateway)
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    private func compare(_ backends: Backends, _ gateway: GatewayHarness) throws {
        for (_, jti) in backends.revoked_jtis {
            XCTAssertEqual(try gateway.revoke(jti: jti).status, 201)
        }

        // Every token against every endpoint; a revoked token only where it would otherwise pass
        // (a token both revoked and refused for another reason is named by that other reason
        // here, since Portcullis asks the store only about tokens it would forward).
        var requests: [(method: String, path: String, token: String?)] = []
        let plain = backends.tokens.keys.filter { !$0.hasPrefix("revoked_") }.sorted()
        for (method, path) in Self.endpoints {
            requests.append((method, path, nil))
            for name in plain { requests.append((method, path, name)) }
        }
        requests += [("GET", "/items", "revoked_access"), ("POST", "/refresh", "revoked_refresh"),
                     ("POST", "/password", "revoked_fresh"), ("GET", "/users", "revoked_fresh")]

        var mismatches: [String] = []
        var seen: [String: Int] = [:]
        for request in requests {
            let headers = request.token.map { [("Authorization", "Bearer \(backends.tokens[$0]!)")] } ?? []
            let label = "\(request.method) \(request.path) with \(request.token ?? "no token")"
            let authx = try RawHTTPClient(port: backends.protected).request(request.method, request.path, headers: headers)
            let ours = try RawHTTPClient(port: gateway.proxyPort).request(request.method, request.path, headers: headers)
            let authxBody = try JSONSerialization.jsonObject(with: authx.body) as? NSDictionary
            let ourBody = try? JSONSerialization.jsonObject(with: ours.body) as? NSDictionary
            if authx.status != ours.status || authxBody == nil || authxBody != ourBody {
                mismatches.append("\(label):\n  AuthX      \(authx.status) \(authx.bodyText)\n  Portcullis \(ours.status) \(ours.bodyText)")
            }
            seen[(authxBody?["error_type"] as? String) ?? "\(authx.status)", default: 0] += 1
            if ours.status == 403 {
                XCTAssertTrue(ours.header("WWW-Authenticate")?.hasPrefix(#"Bearer error="insufficient_scope", scope=""#) == true, label)
            }
        }
        XCTAssert(mismatches.isEmpty, "\(mismatches.count) of \(requests.count) differ:\n" + mismatches.joined(separator: "\n"))
        // The set exercised every answer the routes can give, and passes.
        for answer in ["200", "MissingTokenError", "AccessTokenRequiredError", "RefreshTokenRequiredError",
                       "FreshTokenRequiredError", "InsufficientScopeError", "RevokedTokenError", "TokenExpiredError",
                       "TokenInvalidSignatureError", "JWTDecodeError"] {
            XCTAssertGreaterThan(seen[answer] ?? 0, 0, "no request got \(answer): \(seen)")
        }
    }

    private func waitForExit(_ process: Process, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return !process.isRunning
    }

    /// The script writes its ports and tokens once both servers accept connections.
    private func waitForBackends(_ output: URL, app: Process, log: URL) async throws -> Backends {
        // Imports alone take seconds on a busy machine; a minute is the bound of a broken setup.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let data = try? Data(contentsOf: output) {
                return try JSONDecoder().decode(Backends.self, from: data)
            }
            guard app.isRunning else { break }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        throw RawHTTPClient.ClientError(description: "authx_app.py did not start: \(text.suffix(4000))")
    }
}
