import Foundation
import XCTest

/// INTERFACE §4 over real sockets, every scenario on both stores: the embedded one and Redis
/// (a real redis-server). Each `test…Memory`/`test…Redis` pair runs the same scenario.
final class AdminAPITests: XCTestCase {
    private func run(_ kind: StoreUnderTest.Kind, environment: [String: String] = [:],
                     _ scenario: (StoreUnderTest) async throws -> Void) async throws {
        try await StoreUnderTest.run(kind, environment: environment, scenario)
    }

    private var now: Int { Int(Date().timeIntervalSince1970) }

    // MARK: Health and authentication

    func testHealthAndReadinessNeedNoAuthMemory() async throws { try await run(.memory, healthAndReadinessNeedNoAuth) }
    func testHealthAndReadinessNeedNoAuthRedis() async throws { try await run(.redis, healthAndReadinessNeedNoAuth) }

    private func healthAndReadinessNeedNoAuth(_ s: StoreUnderTest) async throws {
        let admin = try s.harness.adminClient()
        XCTAssertEqual(try admin.request("GET", "/healthz").status, 200, "\(s.kind)")
        XCTAssertEqual(try admin.request("GET", "/readyz").status, 200, "\(s.kind)")
        XCTAssertEqual(try admin.request("GET", "/nope").status, 404, "\(s.kind)")
    }

    func testEveryV1EndpointDemandsTheTokenMemory() async throws { try await run(.memory, everyV1EndpointDemandsTheToken) }
    func testEveryV1EndpointDemandsTheTokenRedis() async throws { try await run(.redis, everyV1EndpointDemandsTheToken) }

    private func everyV1EndpointDemandsTheToken(_ s: StoreUnderTest) async throws {
        // Present beforehand, so that a DELETE which got through would show.
        XCTAssertEqual(try s.admin("POST", "/v1/revocations", body: #"{"jti": "x"}"#).status, 201)
        XCTAssertEqual(try s.admin("POST", "/v1/subjects/alice/revocations").status, 201)
        let calls = [("POST", "/v1/revocations"), ("GET", "/v1/revocations/x"), ("DELETE", "/v1/revocations/x"),
                     ("GET", "/v1/revocations"), ("GET", "/v1/revocations?limit=5"),
                     ("POST", "/v1/subjects/alice/revocations"), ("DELETE", "/v1/subjects/alice/revocations")]
        let wrong = [[], [("Authorization", "Bearer wrong-token-wrong-token")], [("Authorization", "Basic YTpi")],
                     [("Authorization", "Bearer")], [("Authorization", "Bearer \(GatewayHarness.adminToken)x")]]
        for (method, path) in calls {
            for headers in wrong {
                let body = method == "POST" && path == "/v1/revocations" ? #"{"jti":"y"}"# : nil
                let response = try s.harness.adminClient().request(method, path, headers: headers, body: body)
                XCTAssertEqual(response.status, 401, "\(s.kind) \(method) \(path) \(headers)")
                XCTAssertEqual(response.header("WWW-Authenticate"), "Bearer", "\(s.kind) \(method) \(path)")
                XCTAssertEqual(response.json["error_type"] as? String, "Unauthorized", "\(s.kind) \(method) \(path)")
                XCTAssertFalse(response.bodyText.contains("\"items\""), "\(s.kind): a listing leaked")
            }
        }
        // Nothing changed.
        XCTAssertEqual(try s.admin("GET", "/v1/revocations/x").status, 200, "\(s.kind)")
        XCTAssertEqual(try s.admin("GET", "/v1/revocations/y").status, 404, "\(s.kind)")
        let before = s.harness.token(sub: "alice", now: Date().timeIntervalSince1970 - 60)
        XCTAssertEqual(try s.proxyStatus(before), 401, "\(s.kind): the subject cut-off is still there")
    }

    // MARK: Bad requests

    func testBadBodiesAre400NamingTheFieldMemory() async throws { try await run(.memory, badBodiesAre400NamingTheField) }
    func testBadBodiesAre400NamingTheFieldRedis() async throws { try await run(.redis, badBodiesAre400NamingTheField) }

    private func badBodiesAre400NamingTheField(_ s: StoreUnderTest) async throws {
        let forged = s.harness.token(jti: "forged").dropLast(2) + "AA"
        let cases: [(String, String, String)] = [
            ("/v1/revocations", "not json", "body"),
            ("/v1/revocations", "", "body"),
            ("/v1/revocations", "[1, 2]", "body"),
            ("/v1/revocations", #"{"jti": "a""#, "body"),
            ("/v1/revocations", #"{}"#, "jti"),
            ("/v1/revocations", #"{"expires_at": 1900000000}"#, "jti"),
            ("/v1/revocations", #"{"jti": 42}"#, "jti"),
            ("/v1/revocations", #"{"jti": ["a"]}"#, "jti"),
            ("/v1/revocations", #"{"jti": ""}"#, "jti"),
            ("/v1/revocations", #"{"jti": "a", "expires_at": "tomorrow"}"#, "expires_at"),
            ("/v1/revocations", #"{"jti": "a", "expires_at": true}"#, "expires_at"),
            ("/v1/revocations", #"{"jti": "a", "expires_at": -5}"#, "expires_at"),
            ("/v1/revocations", #"{"jti": "a", "reason": 7}"#, "reason"),
            ("/v1/revocations", #"{"jti": "a", "colour": "red"}"#, "colour"),
            ("/v1/revocations", #"{"token": 5}"#, "token"),
            ("/v1/revocations", #"{"token": "not-a-jwt"}"#, "token"),
            ("/v1/revocations", #"{"token": "\#(forged)"}"#, "token"),
            ("/v1/subjects/bob/revocations", "not json", "body"),
            ("/v1/subjects/bob/revocations", #"{"reason": false}"#, "reason"),
            ("/v1/subjects/bob/revocations", #"{"sub": "bob"}"#, "sub"),
        ]
        for (path, body, field) in cases {
            let response = try s.admin("POST", path, body: body)
            XCTAssertEqual(response.status, 400, "\(s.kind) \(path) \(body)")
            XCTAssertEqual(response.json["error_type"] as? String, "BadRequest", "\(s.kind) \(body)")
            XCTAssertTrue((response.json["message"] as? String ?? "").hasPrefix("\(field):"),
                          "\(s.kind) \(body): \(response.bodyText)")
        }
        // A token and a jti at once is refused too.
        let both = try s.admin("POST", "/v1/revocations", body: #"{"token": "\#(s.harness.token())", "jti": "a"}"#)
        XCTAssertEqual(both.status, 400, "\(s.kind)")
        // None of these wrote anything; the subject has no cut-off.
        XCTAssertEqual(try s.admin("GET", "/v1/revocations/a").status, 404, "\(s.kind)")
        XCTAssertEqual(try s.listAll(limit: 100), [], "\(s.kind)")
        XCTAssertEqual(try s.proxyStatus(s.harness.token(sub: "bob", now: Date().timeIntervalSince1970 - 60)), 200)
    }

    func testListingQueryIsValidatedMemory() async throws { try await run(.memory, listingQueryIsValidated) }
    func testListingQueryIsValidatedRedis() async throws { try await run(.redis, listingQueryIsValidated) }

    private func listingQueryIsValidated(_ s: StoreUnderTest) async throws {
        for jti in ["q1", "q2", "q3"] { XCTAssertEqual(try s.admin("POST", "/v1/revocations", body: #"{"jti": "\#(jti)"}"#).status, 201) }
        // A cursor the other store would issue: base64url of its own format.
        let foreign = s.kind == .memory ? "czE6MDoxMDo" : "bTE6cTE"
        let cases: [(String, String)] = [
            ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=-1", "limit"), ("limit=abc", "limit"),
            ("limit=", "limit"), ("limit", "limit"), ("limit=2.5", "limit"), ("limit=99999999999999999999", "limit"),
            ("cursor=%%%", "cursor"), ("cursor=not-a-cursor", "cursor"), ("cursor=0", "cursor"),
            ("cursor=\(foreign)", "cursor"), ("limit=2&cursor=@@", "cursor"),
            ("colour=red", "colour"),
        ]
        for (query, field) in cases {
            let response = try s.admin("GET", "/v1/revocations?\(query)")
            XCTAssertEqual(response.status, 400, "\(s.kind) ?\(query): \(response.bodyText)")
            XCTAssertEqual(response.json["error_type"] as? String, "BadRequest", "\(s.kind) ?\(query)")
            XCTAssertTrue((response.json["message"] as? String ?? "").hasPrefix("\(field):"),
                          "\(s.kind) ?\(query): \(response.bodyText)")
        }
        // The bounds themselves are accepted; an empty cursor is the first page.
        for query in ["limit=1", "limit=1000", "cursor=", ""] {
            XCTAssertEqual(try s.admin("GET", "/v1/revocations?\(query)").status, 200, "\(s.kind) ?\(query)")
        }
        let firstPage = try s.admin("GET", "/v1/revocations?limit=1")
        let cursor = try XCTUnwrap(firstPage.json["next_cursor"] as? String, "\(s.kind): 3 entries, limit 1")
        XCTAssertTrue(cursor.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" },
                      "\(s.kind): the cursor needs no escaping in a URL: \(cursor)")
    }

    // MARK: Revoke, look up, un-revoke

    func testRevokeLookupUnrevokeMemory() async throws { try await run(.memory, revokeLookupUnrevoke) }
    func testRevokeLookupUnrevokeRedis() async throws { try await run(.redis, revokeLookupUnrevoke) }

    private func revokeLookupUnrevoke(_ s: StoreUnderTest) async throws {
        let expiresAt = now + 3600
        let created = try s.admin("POST", "/v1/revocations",
                                  body: #"{"jti": "jti-admin-1", "expires_at": \#(expiresAt), "reason": "laptop stolen"}"#)
        XCTAssertEqual(created.status, 201, "\(s.kind)")
        XCTAssertEqual(created.json["jti"] as? String, "jti-admin-1")
        XCTAssertEqual(created.json["expires_at"] as? Int, expiresAt)
        let ttl = try XCTUnwrap(created.json["ttl_seconds"] as? Int)
        XCTAssertTrue((3595...3600).contains(ttl), "\(s.kind): ttl \(ttl)")

        let found = try s.admin("GET", "/v1/revocations/jti-admin-1")
        XCTAssertEqual(found.status, 200, "\(s.kind)")
        XCTAssertEqual(found.json["jti"] as? String, "jti-admin-1")
        XCTAssertEqual(found.json["revoked"] as? Bool, true)
        XCTAssertEqual(found.json["reason"] as? String, "laptop stolen", "\(s.kind): \(found.bodyText)")
        let foundTTL = try XCTUnwrap(found.json["ttl_seconds"] as? Int)
        XCTAssertTrue((3590...3600).contains(foundTTL), "\(s.kind): ttl \(foundTTL)")
        XCTAssertEqual(Set(found.json.keys), ["jti", "revoked", "ttl_seconds", "reason"])

        if let redis = s.redis {
            // INTERFACE §5: the jti key's value stays `1`; the reason sits beside it, same TTL.
            XCTAssertEqual(try redis.cli(["GET", "portcullis:jti:jti-admin-1"]), "1")
            XCTAssertEqual(try redis.cli(["GET", "portcullis:reason:portcullis:jti:jti-admin-1"]), "laptop stolen")
            let keyTTL = Int(try redis.cli(["TTL", "portcullis:jti:jti-admin-1"])) ?? -100
            let reasonTTL = Int(try redis.cli(["TTL", "portcullis:reason:portcullis:jti:jti-admin-1"])) ?? -100
            XCTAssertTrue((3590...3600).contains(keyTTL), "jti key TTL \(keyTTL)")
            XCTAssertLessThanOrEqual(abs(keyTTL - reasonTTL), 1, "jti key TTL \(keyTTL), reason key TTL \(reasonTTL)")
        }

        // Revoking again without a reason leaves no stale reason behind.
        XCTAssertEqual(try s.admin("POST", "/v1/revocations", body: #"{"jti": "jti-admin-1", "expires_at": \#(expiresAt)}"#).status, 201)
        let again = try s.admin("GET", "/v1/revocations/jti-admin-1")
        XCTAssertEqual(again.status, 200)
        XCTAssertNil(again.json["reason"], "\(s.kind): \(again.bodyText)")
        XCTAssertEqual(try s.admin("POST", "/v1/revocations", body: #"{"jti": "jti-admin-1", "expires_at": \#(expiresAt), "reason": "second"}"#).status, 201)
        XCTAssertEqual(try s.admin("GET", "/v1/revocations/jti-admin-1").json["reason"] as? String, "second", "\(s.kind)")

        XCTAssertEqual(try s.admin("DELETE", "/v1/revocations/jti-admin-1").status, 204)
        let gone = try s.admin("GET", "/v1/revocations/jti-admin-1")
        XCTAssertEqual(gone.status, 404, "\(s.kind)")
        XCTAssertEqual(gone.json["revoked"] as? Bool, false)
        XCTAssertEqual(gone.json["jti"] as? String, "jti-admin-1")
        XCTAssertEqual(Set(gone.json.keys), ["jti", "revoked"])
        if let redis = s.redis {
            XCTAssertEqual(try redis.cli(["EXISTS", "portcullis:jti:jti-admin-1", "portcullis:reason:portcullis:jti:jti-admin-1"]), "0")
        }
        // Un-revoking what is not there is still 204.
        XCTAssertEqual(try s.admin("DELETE", "/v1/revocations/jti-admin-1").status, 204)
        XCTAssertEqual(try s.admin("DELETE", "/v1/revocations/never-revoked").status, 204)
        // Path parameters are percent-decoded.
        XCTAssertEqual(try s.admin("POST", "/v1/revocations", body: #"{"jti": "a b/c", "reason": "ünïcödé"}"#).status, 201)
        let encoded = try s.admin("GET", "/v1/revocations/a%20b%2Fc")
        XCTAssertEqual(encoded.status, 200, "\(s.kind)")
        XCTAssertEqual(encoded.json["jti"] as? String, "a b/c")
        XCTAssertEqual(encoded.json["reason"] as? String, "ünïcödé", "\(s.kind)")
    }

    func testUnrevokedTokenIsAcceptedAgainMemory() async throws { try await run(.memory, unrevokedTokenIsAcceptedAgain) }
    func testUnrevokedTokenIsAcceptedAgainRedis() async throws { try await run(.redis, unrevokedTokenIsAcceptedAgain) }

    private func unrevokedTokenIsAcceptedAgain(_ s: StoreUnderTest) async throws {
        let token = s.harness.token(jti: "jti-comeback")
        let other = s.harness.token(jti: "jti-bystander")
        XCTAssertEqual(try s.proxyStatus(token), 200, "\(s.kind)")
        XCTAssertEqual(try s.harness.revoke(jti: "jti-comeback").status, 201)
        XCTAssertEqual(try s.proxyStatus(token), 401, "\(s.kind): rejected on the very next request")
        XCTAssertEqual(try s.proxyStatus(other), 200, "\(s.kind)")
        XCTAssertEqual(try s.admin("DELETE", "/v1/revocations/jti-comeback").status, 204)
        XCTAssertEqual(try s.proxyStatus(token), 200, "\(s.kind): accepted on the very next request")
    }

    func testRevokeByTokenMemory() async throws { try await run(.memory, revokeByToken) }
    func testRevokeByTokenRedis() async throws { try await run(.redis, revokeByToken) }

    private func revokeByToken(_ s: StoreUnderTest) async throws {
        let issued = Date().timeIntervalSince1970
        let token = s.harness.token(jti: "by-token-1", ttl: 900, now: issued)
        XCTAssertEqual(try s.proxyStatus(token), 200)
        let created = try s.admin("POST", "/v1/revocations", body: #"{"token": "\#(token)", "reason": "leaked"}"#)
        XCTAssertEqual(created.status, 201, "\(s.kind): \(created.bodyText)")
        XCTAssertEqual(created.json["jti"] as? String, "by-token-1")
        XCTAssertEqual(created.json["expires_at"] as? Int, Int(issued) + 900, "exp read from the token")
        let ttl = try XCTUnwrap(created.json["ttl_seconds"] as? Int)
        XCTAssertTrue((890...900).contains(ttl), "\(s.kind): ttl \(ttl)")
        XCTAssertEqual(try s.proxyStatus(token), 401, "\(s.kind)")
        let found = try s.admin("GET", "/v1/revocations/by-token-1")
        XCTAssertEqual(found.status, 200)
        XCTAssertEqual(found.json["reason"] as? String, "leaked", "\(s.kind)")
        if let redis = s.redis {
            XCTAssertEqual(try redis.cli(["GET", "portcullis:jti:by-token-1"]), "1")
        }

        // Without a jti and without revocation.token_key there is nothing to store it under.
        let noJTI = s.harness.token(jti: "", ttl: 900)
        let refused = try s.admin("POST", "/v1/revocations", body: #"{"token": "\#(noJTI)"}"#)
        XCTAssertEqual(refused.status, 400, "\(s.kind)")
        XCTAssertTrue((refused.json["message"] as? String ?? "").hasPrefix("token:"), refused.bodyText)
        XCTAssertEqual(try s.proxyStatus(noJTI), 200, "\(s.kind)")
    }

    func testRevokeTokenWithoutJTIUnderTokenKeyMemory() async throws {
        try await run(.memory, environment: ["PORTCULLIS_REVOCATION_TOKEN_KEY": "revoked:{token}"], revokeTokenWithoutJTIUnderTokenKey)
    }
    func testRevokeTokenWithoutJTIUnderTokenKeyRedis() async throws {
        try await run(.redis, environment: ["PORTCULLIS_REVOCATION_TOKEN_KEY": "revoked:{token}"], revokeTokenWithoutJTIUnderTokenKey)
    }

    private func revokeTokenWithoutJTIUnderTokenKey(_ s: StoreUnderTest) async throws {
        let issued = Date().timeIntervalSince1970
        let noJTI = s.harness.token(jti: "", ttl: 900, now: issued)
        let sibling = s.harness.token(jti: "", ttl: 901, now: issued)
        XCTAssertEqual(try s.proxyStatus(noJTI), 200)
        let created = try s.admin("POST", "/v1/revocations", body: #"{"token": "\#(noJTI)", "reason": "no jti"}"#)
        XCTAssertEqual(created.status, 201, "\(s.kind): \(created.bodyText)")
        XCTAssertTrue(created.json["jti"] is NSNull, "\(s.kind): \(created.bodyText)")
        XCTAssertEqual(created.json["expires_at"] as? Int, Int(issued) + 900)
        let ttl = try XCTUnwrap(created.json["ttl_seconds"] as? Int)
        XCTAssertTrue((890...900).contains(ttl), "\(s.kind): ttl \(ttl)")
        XCTAssertEqual(try s.proxyStatus(noJTI), 401, "\(s.kind)")
        XCTAssertEqual(try s.proxyStatus(sibling), 200, "\(s.kind): only that exact token")
        if let redis = s.redis {
            XCTAssertEqual(try redis.cli(["EXISTS", "revoked:\(noJTI)"]), "1")
        }
        // Not a jti: it does not show in the jti listing.
        XCTAssertEqual(try s.listAll(limit: 10), [], "\(s.kind)")
    }

    func testWithoutExpiresAtTheEntryLivesForMaxTTLMemory() async throws {
        try await run(.memory, environment: ["PORTCULLIS_REVOCATION_MAX_TTL": "2h"], withoutExpiresAtTheEntryLivesForMaxTTL)
    }
    func testWithoutExpiresAtTheEntryLivesForMaxTTLRedis() async throws {
        try await run(.redis, environment: ["PORTCULLIS_REVOCATION_MAX_TTL": "2h"], withoutExpiresAtTheEntryLivesForMaxTTL)
    }

    private func withoutExpiresAtTheEntryLivesForMaxTTL(_ s: StoreUnderTest) async throws {
        let created = try s.admin("POST", "/v1/revocations", body: #"{"jti": "no-exp"}"#)
        XCTAssertEqual(created.status, 201)
        let ttl = try XCTUnwrap(created.json["ttl_seconds"] as? Int)
        XCTAssertTrue((7195...7200).contains(ttl), "\(s.kind): ttl \(ttl)")
        // now + max_ttl, in whole seconds like every unix time the API writes.
        let expiresAt = try XCTUnwrap(created.json["expires_at"] as? Int)
        XCTAssertTrue(abs(expiresAt - (now + 7200)) <= 5, "\(s.kind): expires_at \(expiresAt)")
        if let redis = s.redis {
            let keyTTL = Int(try redis.cli(["TTL", "portcullis:jti:no-exp"])) ?? -100
            XCTAssertTrue((7190...7200).contains(keyTTL), "key TTL \(keyTTL)")
            XCTAssertEqual(try redis.cli(["EXISTS", "portcullis:reason:portcullis:jti:no-exp"]), "0", "no reason, no side key")
        }
    }

    func testExpiredTokenRevocationAnswers201WithoutAnEntryMemory() async throws {
        try await run(.memory, expiredTokenRevocationAnswers201WithoutAnEntry)
    }
    func testExpiredTokenRevocationAnswers201WithoutAnEntryRedis() async throws {
        try await run(.redis, expiredTokenRevocationAnswers201WithoutAnEntry)
    }

    private func expiredTokenRevocationAnswers201WithoutAnEntry(_ s: StoreUnderTest) async throws {
        let created = try s.admin("POST", "/v1/revocations", body: #"{"jti": "long-gone", "expires_at": 1000, "reason": "old"}"#)
        XCTAssertEqual(created.status, 201)
        XCTAssertEqual(created.json["ttl_seconds"] as? Int, 0)
        XCTAssertEqual(try s.admin("GET", "/v1/revocations/long-gone").status, 404, "\(s.kind)")
        if let redis = s.redis {
            XCTAssertEqual(try redis.cli(["EXISTS", "portcullis:jti:long-gone", "portcullis:reason:portcullis:jti:long-gone"]), "0",
                           "nothing written")
            XCTAssertEqual(try redis.cli(["DBSIZE"]), "1", "but the audit entry of the call")
            XCTAssertEqual(try redis.cli(["XLEN", "portcullis:audit"]), "1")
        }
    }

    // MARK: Listing

    func testListingReturnsEachJTIExactlyOnceMemory() async throws { try await run(.memory, listingReturnsEachJTIExactlyOnce) }
    func testListingReturnsEachJTIExactlyOnceRedis() async throws { try await run(.redis, listingReturnsEachJTIExactlyOnce) }

    private func listingReturnsEachJTIExactlyOnce(_ s: StoreUnderTest) async throws {
        XCTAssertEqual(try s.listAll(limit: 7), [], "\(s.kind): empty store, one empty page")
        let expected = (1...53).map { "list-\($0)" }
        for (index, jti) in expected.enumerated() {
            // Every other one with a reason: on Redis its side key must not show up as a jti.
            let reason = index % 2 == 0 ? #", "reason": "r\#(index)""# : ""
            XCTAssertEqual(try s.admin("POST", "/v1/revocations", body: #"{"jti": "\#(jti)"\#(reason)}"#).status, 201)
        }
        // Neither a subject cut-off nor a raw token is a jti.
        XCTAssertEqual(try s.admin("POST", "/v1/subjects/carol/revocations").status, 201)
        for limit in [7, 1, 53, 52, 54, 100, 1000] {
            let listed = try s.listAll(limit: limit)
            XCTAssertEqual(listed.count, expected.count, "\(s.kind) limit \(limit): \(listed.count) items")
            XCTAssertEqual(Set(listed), Set(expected), "\(s.kind) limit \(limit)")
            XCTAssertEqual(Set(listed).count, listed.count, "\(s.kind) limit \(limit): a jti came twice")
        }
        // One page when it all fits, and its next_cursor is null.
        let single = try s.admin("GET", "/v1/revocations?limit=1000")
        XCTAssertEqual((single.json["items"] as? [Any])?.count, 53, "\(s.kind)")
        XCTAssertTrue(single.json["next_cursor"] is NSNull, "\(s.kind): \(single.bodyText.suffix(80))")
        // Un-revoked entries leave the listing.
        for jti in expected.prefix(10) { XCTAssertEqual(try s.admin("DELETE", "/v1/revocations/\(jti)").status, 204) }
        XCTAssertEqual(Set(try s.listAll(limit: 4)), Set(expected.dropFirst(10)), "\(s.kind)")
    }

    // MARK: Subjects

    func testSubjectCutoffRevokesTokensIssuedUpToNowMemory() async throws { try await run(.memory, subjectCutoffRevokesTokensIssuedUpToNow) }
    func testSubjectCutoffRevokesTokensIssuedUpToNowRedis() async throws { try await run(.redis, subjectCutoffRevokesTokensIssuedUpToNow) }

    private func subjectCutoffRevokesTokensIssuedUpToNow(_ s: StoreUnderTest) async throws {
        let earlier = s.harness.token(sub: "dave", now: Date().timeIntervalSince1970 - 60)
        let otherSubject = s.harness.token(sub: "erin", now: Date().timeIntervalSince1970 - 60)
        XCTAssertEqual(try s.proxyStatus(earlier), 200)
        let created = try s.admin("POST", "/v1/subjects/dave/revocations", body: #"{"reason": "password changed"}"#)
        XCTAssertEqual(created.status, 201, "\(s.kind): \(created.bodyText)")
        XCTAssertEqual(created.json["sub"] as? String, "dave")
        let cutoff = try XCTUnwrap(created.json["revoked_before"] as? Int)
        XCTAssertTrue(abs(cutoff - now) <= 2, "\(s.kind): revoked_before \(cutoff)")
        if let redis = s.redis {
            XCTAssertEqual(try redis.cli(["GET", "portcullis:sub:dave"]), "\(cutoff)")
        }

        XCTAssertEqual(try s.proxyStatus(earlier), 401, "\(s.kind): issued before the cut-off")
        let atCutoff = s.harness.token(sub: "dave", now: Double(cutoff))
        XCTAssertEqual(try s.proxyStatus(atCutoff), 401, "\(s.kind): issued at the cut-off second")
        XCTAssertEqual(try s.proxyStatus(otherSubject), 200, "\(s.kind): another subject")
        // A token issued after the cut-off: wait for the clock to pass it (at most about a second).
        let deadline = Date().addingTimeInterval(5)
        while Int(Date().timeIntervalSince1970) <= cutoff && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let later = s.harness.token(sub: "dave")
        XCTAssertEqual(try s.proxyStatus(later), 200, "\(s.kind): issued after the cut-off")

        // A bodyless POST is fine too, and moves the cut-off forward.
        XCTAssertEqual(try s.admin("POST", "/v1/subjects/dave/revocations").status, 201)
        XCTAssertEqual(try s.proxyStatus(later), 401, "\(s.kind): the new cut-off covers it")

        XCTAssertEqual(try s.admin("DELETE", "/v1/subjects/dave/revocations").status, 204)
        XCTAssertEqual(try s.proxyStatus(earlier), 200, "\(s.kind): accepted again once the cut-off is gone")
        XCTAssertEqual(try s.proxyStatus(later), 200, "\(s.kind)")
        XCTAssertEqual(try s.admin("DELETE", "/v1/subjects/dave/revocations").status, 204, "absent is still 204")
        if let redis = s.redis {
            XCTAssertEqual(try redis.cli(["EXISTS", "portcullis:sub:dave"]), "0")
        }
    }
}
