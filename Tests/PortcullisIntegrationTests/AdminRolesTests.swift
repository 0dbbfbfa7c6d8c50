import Foundation
import PortcullisCore
import PortcullisGateway
import XCTest

/// `admin.tokens_file`: named credentials with the roles read, revoke and admin, over real
/// sockets; the file is read again on reload, so a removed token stops working at once.
final class AdminRolesTests: XCTestCase {
    private static let reader = "reader-token-0123456789abcdef"
    private static let logoutService = "logout-service-token-0123456789"
    private static let operatorToken = "operator-token-0123456789abcdef"

    private func call(_ h: GatewayHarness, _ method: String, _ path: String, token: String?, body: String? = nil)
        throws -> RawHTTPClient.Response {
        var headers: [(String, String)] = [("Content-Type", "application/json")]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        return try h.adminClient().request(method, path, headers: headers, body: body)
    }

    private func writeTokens(_ text: String, in directory: URL) throws -> String {
        let path = directory.appendingPathComponent("admin-tokens").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testRolesAllowWhatTheyNameAndNothingMore() async throws {
        let directory = try GatewayHarness.makeTemporaryDirectory()
        let file = try writeTokens("""
            # name      role    token
            support     read    \(Self.reader)
            logout-svc  revoke  \(Self.logoutService)

            ops         admin   \(Self.operatorToken)
            """, in: directory)
        let h = try await GatewayHarness(environment: ["PORTCULLIS_ADMIN_TOKENS_FILE": file])
        let revoke = #"{"jti": "role-1", "expires_at": \#(Int(Date().timeIntervalSince1970) + 600)}"#

        // read: every GET, nothing else.
        XCTAssertEqual(try call(h, "GET", "/v1/revocations", token: Self.reader).status, 200)
        XCTAssertEqual(try call(h, "GET", "/v1/revocations/role-1", token: Self.reader).status, 404)
        let refused = try call(h, "POST", "/v1/revocations", token: Self.reader, body: revoke)
        XCTAssertEqual(refused.status, 403)
        XCTAssertEqual(refused.json["message"] as? String, "Forbidden")
        XCTAssertEqual(refused.json["error_type"] as? String, "Forbidden")
        XCTAssertEqual(refused.bodyText, #"{"message": "Forbidden", "error_type": "Forbidden"}"#, "the shape of the proxy's denials")
        XCTAssertEqual(try call(h, "GET", "/v1/revocations/role-1", token: Self.reader).status, 404, "a refused call changed nothing")

        // revoke: creates revocations, never removes one (the logout service).
        XCTAssertEqual(try call(h, "POST", "/v1/revocations", token: Self.logoutService, body: revoke).status, 201)
        XCTAssertEqual(try call(h, "POST", "/v1/subjects/alice/revocations", token: Self.logoutService).status, 201)
        XCTAssertEqual(try call(h, "DELETE", "/v1/revocations/role-1", token: Self.logoutService).status, 403)
        XCTAssertEqual(try call(h, "DELETE", "/v1/subjects/alice/revocations", token: Self.logoutService).status, 403)
        XCTAssertEqual(try call(h, "GET", "/v1/revocations/role-1", token: Self.logoutService).status, 200)

        // admin: everything; admin.token is still the credential named admin.
        XCTAssertEqual(try call(h, "DELETE", "/v1/revocations/role-1", token: Self.operatorToken).status, 204)
        XCTAssertEqual(try call(h, "DELETE", "/v1/subjects/alice/revocations", token: GatewayHarness.adminToken).status, 204)

        // Unknown tokens are 401, not 403.
        XCTAssertEqual(try call(h, "GET", "/v1/revocations", token: "unknown-token-0123456789abcdef").status, 401)
        XCTAssertEqual(try call(h, "GET", "/v1/revocations", token: nil).status, 401)
        await h.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    func testARemovedTokenStopsWorkingAtTheReload() async throws {
        let directory = try GatewayHarness.makeTemporaryDirectory()
        let file = try writeTokens("support read \(Self.reader)\nops admin \(Self.operatorToken)\n", in: directory)
        let h = try await GatewayHarness(environment: ["PORTCULLIS_ADMIN_TOKENS_FILE": file])
        XCTAssertEqual(try call(h, "GET", "/v1/revocations", token: Self.reader).status, 200)

        _ = try writeTokens("ops admin \(Self.operatorToken)\n", in: directory)
        let running = h.gateway.currentConfiguration
        let yaml = """
            proxy:
              listen: "\(running.proxy.listen.host):\(running.proxy.listen.port)"
              upstream: "http://127.0.0.1:\(h.upstream.port)"
            jwt:
              secret: "\(GatewayHarness.secret)"
            revocation:
              file: "\(running.revocation.file)"
            admin:
              listen: "\(running.admin.listen.host):\(running.admin.listen.port)"
              token: "\(GatewayHarness.adminToken)"
              tokens_file: "\(file)"
            """
        let outcome = h.gateway.reload { () throws(ConfigurationError) in
            try ConfigurationLoader.load(yaml: yaml, environment: [:])
        }
        guard case .applied(let changed, _) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertTrue(changed.contains("admin.tokens_file"), "\(changed)")
        XCTAssertEqual(try call(h, "GET", "/v1/revocations", token: Self.reader).status, 401)
        XCTAssertEqual(try call(h, "GET", "/v1/revocations", token: Self.operatorToken).status, 200)
        await h.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    func testMalformedLinesAreReportedWithTheirNumbers() throws {
        let directory = try GatewayHarness.makeTemporaryDirectory()
        let file = try writeTokens("ok read \(Self.reader)\nbad writer \(Self.operatorToken)\nshort admin abc\nonly-two fields\n",
                                   in: directory)
        let yaml = """
            proxy:
              upstream: "http://127.0.0.1:1"
            jwt:
              secret: "\(GatewayHarness.secret)"
            admin:
              tokens_file: "\(file)"
            """
        XCTAssertThrowsError(try ConfigurationLoader.load(yaml: yaml, environment: [:])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(#"line 2: unknown role "writer" (read, revoke or admin)"#), text)
            XCTAssertTrue(text.contains("line 3: the token of short must be at least 16 characters"), text)
            XCTAssertTrue(text.contains("line 4: expected NAME ROLE TOKEN, found 2 field(s)"), text)
            XCTAssertFalse(text.contains(Self.operatorToken), "a token never appears in a problem")
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
