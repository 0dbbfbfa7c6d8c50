import Crypto
import Foundation
import XCTest

/// INTERFACE §4 "Audit" over real sockets, on both stores: every change recorded once with who,
/// what, on what, why and from where; refused calls not recorded; pages newest first.
final class AuditTests: XCTestCase {
    private func run(_ kind: StoreUnderTest.Kind, environment: [String: String] = [:],
                     _ scenario: (StoreUnderTest) async throws -> Void) async throws {
        try await StoreUnderTest.run(kind, environment: environment, scenario)
    }

    private static let reader = "reader-token-0123456789abcdef"
    private static let revoker = "revoker-token-0123456789abcdef"

    /// Every entry of `GET /v1/audit`, newest first, following `next_cursor` with `limit`.
    static func auditAll(port: Int, token: String = GatewayHarness.adminToken, limit: Int = 100,
                         file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        var items: [[String: Any]] = []
        var cursor: String?
        for _ in 0..<10_000 {
            let target = "/v1/audit?limit=\(limit)" + (cursor.map { "&cursor=\($0)" } ?? "")
            let page = try RawHTTPClient(port: port).request("GET", target, headers: [("Authorization", "Bearer \(token)")])
            XCTAssertEqual(page.status, 200, "\(target): \(page.bodyText)", file: file, line: line)
            XCTAssertEqual(Set(page.json.keys), ["items", "next_cursor"], file: file, line: line)
            let pageItems = try XCTUnwrap(page.json["items"] as? [[String: Any]], page.bodyText, file: file, line: line)
            XCTAssertLessThanOrEqual(pageItems.count, limit, "a page larger than limit", file: file, line: line)
            items += pageItems
            guard let next = page.json["next_cursor"] as? String else {
                XCTAssertTrue(page.json["next_cursor"] is NSNull, page.bodyText, file: file, line: line)
                return items
            }
            cursor = next
        }
        XCTFail("the pages did not end", file: file, line: line)
        return items
    }

    private func audit(_ s: StoreUnderTest, limit: Int = 100) throws -> [[String: Any]] {
        try Self.auditAll(port: s.harness.adminPort, limit: limit)
    }

    // MARK: What is recorded

    func testEveryChangeIsRecordedNewestFirstMemory() async throws { try await run(.memory, everyChangeIsRecordedNewestFirst) }
    func testEveryChangeIsRecordedNewestFirstRedis() async throws { try await run(.redis, everyChangeIsRecordedNewestFirst) }

    private func everyChangeIsRecordedNewestFirst(_ s: StoreUnderTest) async throws {
        XCTAssertEqual(try audit(s).count, 0, "\(s.kind): an empty audit at first")
        let before = Date().timeIntervalSince1970
        let future = Int(before) + 600
        XCTAssertEqual(try s.admin("POST", "/v1/revocations", body: #"{"jti": "au-1", "expires_at": \#(future), "reason": "laptop stolen"}"#).status, 201)
        let token = s.harness.token(jti: "au-2")
        XCTAssertEqual(try s.admin("POST", "/v1/revocations", body: #"{"token": "\#(token)"}"#).status, 201)
        XCTAssertEqual(try s.admin("POST", "/v1/subjects/alice/revocations", body: #"{"reason": "password changed"}"#).status, 201)
        XCTAssertEqual(try s.admin("POST", "/v1/subjects/bob/revocations").status, 201)
        XCTAssertEqual(try s.admin("DELETE", "/v1/revocations/au-1").status, 204)
        XCTAssertEqual(try s.admin("DELETE", "/v1/subjects/alice/revocations").status, 204)
        let after = Date().timeIntervalSince1970

        let items = try audit(s)
        XCTAssertEqual(items.map { $0["action"] as? String },
                       ["unrevoke_subject", "unrevoke", "revoke_subject", "revoke_subject", "revoke", "revoke"], "\(s.kind)")
        XCTAssertEqual(items.map { $0["target"] as? String }, ["alice", "au-1", "bob", "alice", "au-2", "au-1"], "\(s.kind)")
        XCTAssertEqual(items.map { $0["reason"] as? String },
                       [nil, nil, nil, "password changed", nil, "laptop stolen"], "\(s.kind)")
        var previous = Double.infinity
        for item in items {
            XCTAssertEqual(Set(item.keys), ["time", "actor", "action", "target", "reason", "peer"], "\(s.kind): \(item)")
            XCTAssertEqual(item["actor"] as? String, "admin", "\(s.kind): admin.token is the credential named admin")
            XCTAssertEqual(item["peer"] as? String, "127.0.0.1", "\(s.kind)")
            let time = try XCTUnwrap((item["time"] as? NSNumber)?.doubleValue, "\(s.kind): \(item)")
            XCTAssertTrue(time >= before - 1 && time <= after + 1, "\(s.kind): time \(time) not in [\(before), \(after)]")
            XCTAssertLessThanOrEqual(time, previous, "\(s.kind): newest first")
            previous = time
            if item["reason"] as? String == nil { XCTAssertTrue(item["reason"] is NSNull, "\(s.kind): reason is null, not absent") }
        }
        if let redis = s.redis {
            // INTERFACE §5: the audit is the stream portcullis:audit.
            XCTAssertEqual(try redis.cli(["TYPE", "portcullis:audit"]), "stream")
            XCTAssertEqual(try redis.cli(["XLEN", "portcullis:audit"]), "6")
            let raw = try redis.cli(["XREVRANGE", "portcullis:audit", "+", "-", "COUNT", "1"])
            for field in ["time", "actor", "admin", "action", "unrevoke_subject", "target", "alice", "peer", "127.0.0.1"] {
                XCTAssertTrue(raw.contains(field), "\(field) missing from \(raw)")
            }
        }
    }

    func testRawTokenIsRecordedAsItsHashPrefixMemory() async throws {
        try await run(.memory, environment: ["PORTCULLIS_REVOCATION_TOKEN_KEY": "revoked:{token}"], rawTokenIsRecordedAsItsHashPrefix)
    }
    func testRawTokenIsRecordedAsItsHashPrefixRedis() async throws {
        try await run(.redis, environment: ["PORTCULLIS_REVOCATION_TOKEN_KEY": "revoked:{token}"], rawTokenIsRecordedAsItsHashPrefix)
    }

    private func rawTokenIsRecordedAsItsHashPrefix(_ s: StoreUnderTest) async throws {
        let noJTI = s.harness.token(jti: "", ttl: 900)
        XCTAssertEqual(try s.admin("POST", "/v1/revocations", body: #"{"token": "\#(noJTI)", "reason": "no jti"}"#).status, 201)
        let page = try s.admin("GET", "/v1/audit")
        let items = try XCTUnwrap(page.json["items"] as? [[String: Any]])
        XCTAssertEqual(items.count, 1, "\(s.kind)")
        let digest = SHA256.hash(data: Array(noJTI.utf8)).map { String(format: "%02x", $0) }.joined()
        XCTAssertEqual(items.first?["target"] as? String, String(digest.prefix(12)), "\(s.kind)")
        XCTAssertEqual(items.first?["reason"] as? String, "no jti")
        XCTAssertFalse(page.bodyText.contains(noJTI), "\(s.kind): the token itself is never in the audit")
        // Nor any of its parts: the signature alone would be a secret worth hiding.
        XCTAssertFalse(page.bodyText.contains(String(noJTI.split(separator: ".").last ?? "")), "\(s.kind)")
        if let redis = s.redis {
            let raw = try redis.cli(["XRANGE", "portcullis:audit", "-", "+"])
            XCTAssertFalse(raw.contains(noJTI), "the stream never holds the token")
        } else {
            let file = try String(contentsOfFile: s.harness.directory.appendingPathComponent("revocations.log").path,
                                  encoding: .utf8)
            XCTAssertFalse(file.contains(noJTI), "the journal never holds the token")
        }
    }

    // MARK: What is not recorded

    func testRefusedCallsAreNotRecordedMemory() async throws { try await refusedCallsAreNotRecorded(.memory) }
    func testRefusedCallsAreNotRecordedRedis() async throws { try await refusedCallsAreNotRecorded(.redis) }

    private func refusedCallsAreNotRecorded(_ kind: StoreUnderTest.Kind) async throws {
        let directory = try GatewayHarness.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let tokens = directory.appendingPathComponent("admin-tokens").path
        try "support read \(Self.reader)\nlogout-svc revoke \(Self.revoker)\n".write(toFile: tokens, atomically: true, encoding: .utf8)
        try await run(kind, environment: ["PORTCULLIS_ADMIN_TOKENS_FILE": tokens]) { s in
            let admin = try s.harness.adminClient()
            func call(_ method: String, _ path: String, _ token: String?, body: String? = nil) throws -> Int {
                try admin.request(method, path, headers: token.map { [("Authorization", "Bearer \($0)")] } ?? [], body: body).status
            }
            let revoke = #"{"jti": "refused-1"}"#
            // 401: no token, unknown token.
            for token in [nil, "unknown-token-0123456789abcdef"] {
                XCTAssertEqual(try call("POST", "/v1/revocations", token, body: revoke), 401)
                XCTAssertEqual(try call("POST", "/v1/subjects/alice/revocations", token), 401)
                XCTAssertEqual(try call("DELETE", "/v1/revocations/refused-1", token), 401)
                XCTAssertEqual(try call("DELETE", "/v1/subjects/alice/revocations", token), 401)
                XCTAssertEqual(try call("GET", "/v1/audit", token), 401)
            }
            // 403: beyond the role.
            XCTAssertEqual(try call("POST", "/v1/revocations", Self.reader, body: revoke), 403)
            XCTAssertEqual(try call("POST", "/v1/subjects/alice/revocations", Self.reader), 403)
            XCTAssertEqual(try call("DELETE", "/v1/revocations/refused-1", Self.revoker), 403)
            XCTAssertEqual(try call("DELETE", "/v1/subjects/alice/revocations", Self.revoker), 403)
            // 400: nothing changed either.
            XCTAssertEqual(try call("POST", "/v1/revocations", Self.revoker, body: #"{"jti": 5}"#), 400)
            // The read role reads the audit, and it is empty.
            XCTAssertEqual(try Self.auditAll(port: s.harness.adminPort, token: Self.reader).count, 0, "\(s.kind)")

            // The revoke role's change is recorded under its credential's name.
            XCTAssertEqual(try call("POST", "/v1/revocations", Self.revoker, body: #"{"jti": "by-revoker", "reason": "r"}"#), 201)
            let items = try Self.auditAll(port: s.harness.adminPort, token: Self.reader)
            XCTAssertEqual(items.count, 1, "\(s.kind)")
            XCTAssertEqual(items.first?["actor"] as? String, "logout-svc", "\(s.kind)")
            XCTAssertEqual(items.first?["target"] as? String, "by-revoker", "\(s.kind)")
            if let redis = s.redis { XCTAssertEqual(try redis.cli(["XLEN", "portcullis:audit"]), "1") }
        }
    }

    // MARK: Paging

    func testPagingNewestFirstWithCursorsMemory() async throws { try await run(.memory, pagingNewestFirstWithCursors) }
    func testPagingNewestFirstWithCursorsRedis() async throws { try await run(.redis, pagingNewestFirstWithCursors) }

    private func pagingNewestFirstWithCursors(_ s: StoreUnderTest) async throws {
        let targets = (1...25).map { "page-\($0)" }
        for jti in targets {
            XCTAssertEqual(try s.admin("POST", "/v1/revocations", body: #"{"jti": "\#(jti)"}"#).status, 201)
        }
        for limit in [1, 7, 24, 25, 26, 1000] {
            let items = try audit(s, limit: limit)
            XCTAssertEqual(items.map { $0["target"] as? String }, targets.reversed(), "\(s.kind) limit \(limit)")
        }
        // The default page holds them all, with a null cursor.
        let all = try s.admin("GET", "/v1/audit")
        XCTAssertEqual((all.json["items"] as? [Any])?.count, 25)
        XCTAssertTrue(all.json["next_cursor"] is NSNull, all.bodyText.suffix(60).description)
        // A page, then a newer change, then the next page: it continues where the first ended.
        let first = try s.admin("GET", "/v1/audit?limit=5")
        let cursor = try XCTUnwrap(first.json["next_cursor"] as? String)
        XCTAssertTrue(cursor.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }, "URL-safe: \(cursor)")
        XCTAssertEqual(try s.admin("POST", "/v1/revocations", body: #"{"jti": "newer"}"#).status, 201)
        let second = try s.admin("GET", "/v1/audit?limit=5&cursor=\(cursor)")
        XCTAssertEqual((second.json["items"] as? [[String: Any]])?.map { $0["target"] as? String },
                       ["page-20", "page-19", "page-18", "page-17", "page-16"], "\(s.kind)")

        for (query, parameter) in [("limit=0", "limit"), ("limit=1001", "limit"), ("limit=x", "limit"), ("limit=true", "limit"),
                                   ("cursor=not-a-cursor", "cursor"), ("cursor=%%%", "cursor"), ("cursor=1.5", "cursor"),
                                   ("colour=red", "colour")] {
            let response = try s.admin("GET", "/v1/audit?\(query)")
            XCTAssertEqual(response.status, 400, "\(s.kind) ?\(query): \(response.bodyText)")
            XCTAssertEqual(response.json["error_type"] as? String, "BadRequest")
            XCTAssertTrue((response.json["message"] as? String ?? "").hasPrefix("\(parameter):"), "\(s.kind) ?\(query): \(response.bodyText)")
        }
        XCTAssertEqual(try s.admin("POST", "/v1/audit").status, 405)
    }

    // MARK: The logout path

    func testLogoutRevocationsAreRecordedMemory() async throws { try await run(.memory, environment: logout, logoutRevocationsAreRecorded) }
    func testLogoutRevocationsAreRecordedRedis() async throws { try await run(.redis, environment: logout, logoutRevocationsAreRecorded) }

    private var logout: [String: String] {
        ["PORTCULLIS_PROXY_LOGOUT_PATH": "/auth/logout", "PORTCULLIS_REVOCATION_TOKEN_KEY": "revoked:{token}",
         "PORTCULLIS_AUTHZ_LISTEN": "127.0.0.1:0"]
    }

    private func logoutRevocationsAreRecorded(_ s: StoreUnderTest) async throws {
        let access = s.harness.token(sub: "dana", jti: "lo-access")
        let refresh = s.harness.token(sub: "dana", jti: "", ttl: 3600, type: "refresh")
        let out = try s.harness.client().request("POST", "/auth/logout", headers: [
            ("Authorization", "Bearer \(access)"), ("X-Refresh-Token", refresh),
        ], body: "{}")
        XCTAssertEqual(out.status, 200, "\(s.kind): \(out.bodyText)")
        // Through the forward-auth listener too.
        let other = s.harness.token(sub: "erin", jti: "lo-forward-auth")
        let checked = try s.harness.forwardAuthClient().request("GET", "/", headers: [
            ("X-Forwarded-Method", "POST"), ("X-Forwarded-Uri", "/auth/logout"), ("Authorization", "Bearer \(other)"),
        ])
        XCTAssertEqual(checked.status, 200, "\(s.kind): \(checked.bodyText)")

        let items = try audit(s)
        let digest = SHA256.hash(data: Array(refresh.utf8)).map { String(format: "%02x", $0) }.joined()
        XCTAssertEqual(items.map { $0["target"] as? String }, ["lo-forward-auth", String(digest.prefix(12)), "lo-access"],
                       "\(s.kind): one entry per token revoked, newest first")
        for item in items {
            XCTAssertEqual(item["actor"] as? String, "logout", "\(s.kind)")
            XCTAssertEqual(item["action"] as? String, "logout", "\(s.kind)")
            XCTAssertEqual(item["reason"] as? String, "logout", "\(s.kind)")
            XCTAssertEqual(item["peer"] as? String, "127.0.0.1", "\(s.kind)")
        }
        XCTAssertFalse(try s.admin("GET", "/v1/audit").bodyText.contains(refresh), "\(s.kind)")
    }

    // MARK: Memory: durable and bounded

    func testMemoryAuditSurvivesARestartAndIsBounded() async throws {
        let directory = try GatewayHarness.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let environment = ["PORTCULLIS_ADMIN_AUDIT_MAX_ENTRIES": "5"]
        let first = try await GatewayHarness(environment: environment, directory: directory)
        let auth = [("Authorization", "Bearer \(GatewayHarness.adminToken)")]
        for index in 1...12 {
            XCTAssertEqual(try first.adminClient().request("POST", "/v1/revocations", headers: auth,
                                                           body: #"{"jti": "keep-\#(index)"}"#).status, 201)
        }
        let expected = (8...12).reversed().map { "keep-\($0)" }
        XCTAssertEqual(try Self.auditAll(port: first.adminPort, limit: 2).map { $0["target"] as? String }, expected)
        await first.gateway.shutdown()
        _ = try? await first.runTask.value
        first.upstream.stop()

        let second = try await GatewayHarness(environment: environment, directory: directory)
        XCTAssertEqual(try Self.auditAll(port: second.adminPort, limit: 3).map { $0["target"] as? String }, expected,
                       "replayed from revocation.file")
        XCTAssertEqual(try second.adminClient().request("DELETE", "/v1/revocations/keep-12", headers: auth).status, 204)
        XCTAssertEqual(try Self.auditAll(port: second.adminPort).map { $0["action"] as? String },
                       ["unrevoke", "revoke", "revoke", "revoke", "revoke"])
        await second.stop()
    }

    // MARK: Redis: one audit for every instance

    func testTwoInstancesOnOneRedisShareOneAudit() async throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let environment = ["PORTCULLIS_REVOCATION_STORE": "redis", "PORTCULLIS_REVOCATION_REDIS_URL": redis.url]
        let one = try await GatewayHarness(environment: environment)
        let two = try await GatewayHarness(environment: environment)
        for h in [one, two] { try await waitUntilReady(h) }
        let auth = [("Authorization", "Bearer \(GatewayHarness.adminToken)")]
        XCTAssertEqual(try one.adminClient().request("POST", "/v1/revocations", headers: auth, body: #"{"jti": "from-one"}"#).status, 201)
        XCTAssertEqual(try two.adminClient().request("POST", "/v1/subjects/zoe/revocations", headers: auth).status, 201)
        XCTAssertEqual(try one.adminClient().request("DELETE", "/v1/subjects/zoe/revocations", headers: auth).status, 204)
        for h in [one, two] {
            let items = try Self.auditAll(port: h.adminPort, limit: 2)
            XCTAssertEqual(items.map { $0["target"] as? String }, ["zoe", "zoe", "from-one"], "each change once, seen by both")
            XCTAssertEqual(items.map { $0["action"] as? String }, ["unrevoke_subject", "revoke_subject", "revoke"])
        }
        XCTAssertEqual(try redis.cli(["XLEN", "portcullis:audit"]), "3")
        await one.stop()
        await two.stop()
    }

    func testRedisStreamIsTrimmedApproximately() async throws {
        // A generous store timeout: 800 admin commands in a row on a loaded machine.
        try await run(.redis, environment: ["PORTCULLIS_ADMIN_AUDIT_MAX_ENTRIES": "10", "PORTCULLIS_REVOCATION_TIMEOUT": "2s"]) { s in
            for index in 0..<400 {
                let created = try s.admin("POST", "/v1/revocations", body: #"{"jti": "trim-\#(index)"}"#)
                XCTAssertEqual(created.status, 201, "\(index): \(created.bodyText)")
                if created.status != 201 { return }
            }
            let length = try XCTUnwrap(Int(try s.redis!.cli(["XLEN", "portcullis:audit"])))
            XCTAssertGreaterThanOrEqual(length, 10, "MAXLEN ~ keeps at least the bound")
            XCTAssertLessThan(length, 400, "the stream was trimmed")
            let items = try audit(s, limit: 1000)
            XCTAssertEqual(items.count, length)
            XCTAssertEqual(items.prefix(10).map { $0["target"] as? String }, (390..<400).reversed().map { "trim-\($0)" })
        }
    }

    /// A revocation stays in force and answered 201 when its audit entry cannot be written;
    /// the failure is counted.
    func testAnAuditWriteFailureDoesNotFailTheRevocation() async throws {
        try await run(.redis) { s in
            // Not a stream: XADD fails with WRONGTYPE.
            _ = try s.redis!.cli(["SET", "portcullis:audit", "not-a-stream"])
            XCTAssertEqual(try s.admin("POST", "/v1/revocations", body: #"{"jti": "unaudited"}"#).status, 201)
            XCTAssertEqual(try s.admin("GET", "/v1/revocations/unaudited").status, 200)
            let metrics = try s.harness.adminClient().request("GET", "/metrics").bodyText
            XCTAssertTrue(metrics.contains("portcullis_audit_write_failures_total 1"), metrics)
        }
    }

    private func waitUntilReady(_ h: GatewayHarness) async throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if (try? h.adminClient().request("GET", "/readyz"))?.status == 200 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTFail("not ready")
    }
}
