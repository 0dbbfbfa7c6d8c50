import Foundation
import XCTest

final class AdminAPITests: XCTestCase {
    private let auth = [("Authorization", "Bearer \(GatewayHarness.adminToken)")]

    func testHealthAndReadinessNeedNoAuth() async throws {
        let h = try await GatewayHarness()
        let admin = try h.adminClient()
        XCTAssertEqual(try admin.request("GET", "/healthz").status, 200)
        XCTAssertEqual(try admin.request("GET", "/readyz").status, 200)
        XCTAssertEqual(try admin.request("GET", "/nope").status, 404)
        await h.stop()
    }

    func testEveryV1EndpointDemandsTheToken() async throws {
        let h = try await GatewayHarness()
        let admin = try h.adminClient()
        let calls = [("POST", "/v1/revocations"), ("GET", "/v1/revocations/x"), ("DELETE", "/v1/revocations/x"),
                     ("GET", "/v1/revocations"), ("POST", "/v1/subjects/alice/revocations"),
                     ("DELETE", "/v1/subjects/alice/revocations")]
        for (method, path) in calls {
            for headers in [[], [("Authorization", "Bearer wrong-token-wrong-token")], [("Authorization", "Basic YTpi")]] {
                let response = try admin.request(method, path, headers: headers, body: method == "POST" ? #"{"jti":"x"}"# : nil)
                XCTAssertEqual(response.status, 401, "\(method) \(path) \(headers)")
            }
        }
        await h.stop()
    }

    func testRevokeLookupUnrevoke() async throws {
        let h = try await GatewayHarness()
        let admin = try h.adminClient()
        let expiresAt = Int(Date().timeIntervalSince1970) + 3600
        let created = try admin.request("POST", "/v1/revocations", headers: auth,
                                        body: #"{"jti": "jti-admin-1", "expires_at": \#(expiresAt), "reason": "laptop stolen"}"#)
        XCTAssertEqual(created.status, 201)
        XCTAssertEqual(created.json["jti"] as? String, "jti-admin-1")
        XCTAssertEqual(created.json["expires_at"] as? Int, expiresAt)
        let ttl = try XCTUnwrap(created.json["ttl_seconds"] as? Int)
        XCTAssertTrue((3595...3600).contains(ttl), "ttl \(ttl)")

        let found = try admin.request("GET", "/v1/revocations/jti-admin-1", headers: auth)
        XCTAssertEqual(found.status, 200)
        XCTAssertEqual(found.json["revoked"] as? Bool, true)
        XCTAssertEqual(found.json["reason"] as? String, "laptop stolen")

        XCTAssertEqual(try admin.request("DELETE", "/v1/revocations/jti-admin-1", headers: auth).status, 204)
        let gone = try admin.request("GET", "/v1/revocations/jti-admin-1", headers: auth)
        XCTAssertEqual(gone.status, 404)
        XCTAssertEqual(gone.json["revoked"] as? Bool, false)
        XCTAssertEqual(gone.json["jti"] as? String, "jti-admin-1")
        await h.stop()
    }

    func testUnrevokedTokenIsAcceptedAgain() async throws {
        let h = try await GatewayHarness()
        let token = h.token(jti: "jti-comeback")
        let client = try h.client()
        XCTAssertEqual(try h.revoke(jti: "jti-comeback").status, 201)
        XCTAssertEqual(try client.request("GET", "/", headers: [("Authorization", "Bearer \(token)")]).status, 401)
        XCTAssertEqual(try h.adminClient().request("DELETE", "/v1/revocations/jti-comeback", headers: auth).status, 204)
        XCTAssertEqual(try client.request("GET", "/", headers: [("Authorization", "Bearer \(token)")]).status, 200)
        await h.stop()
    }

    func testWithoutExpiresAtTheEntryLivesForMaxTTL() async throws {
        let h = try await GatewayHarness(environment: ["PORTCULLIS_REVOCATION_MAX_TTL": "2h"])
        let created = try h.adminClient().request("POST", "/v1/revocations", headers: auth, body: #"{"jti": "no-exp"}"#)
        XCTAssertEqual(created.status, 201)
        let ttl = try XCTUnwrap(created.json["ttl_seconds"] as? Int)
        XCTAssertTrue((7195...7200).contains(ttl), "ttl \(ttl)")
        await h.stop()
    }

    func testBadBodiesAre400NamingTheField() async throws {
        let h = try await GatewayHarness()
        let admin = try h.adminClient()
        let cases: [(String, String)] = [
            ("not json", "body"),
            ("[1, 2]", "body"),
            (#"{"expires_at": 1900000000}"#, "jti"),
            (#"{"jti": 42}"#, "jti"),
            (#"{"jti": ""}"#, "jti"),
            (#"{"jti": "a", "expires_at": "tomorrow"}"#, "expires_at"),
            (#"{"jti": "a", "expires_at": true}"#, "expires_at"),
            (#"{"jti": "a", "expires_at": -5}"#, "expires_at"),
            (#"{"jti": "a", "colour": "red"}"#, "colour"),
        ]
        for (body, field) in cases {
            let response = try admin.request("POST", "/v1/revocations", headers: auth, body: body)
            XCTAssertEqual(response.status, 400, body)
            XCTAssertEqual(response.json["error_type"] as? String, "BadRequest", body)
            XCTAssertTrue((response.json["message"] as? String ?? "").hasPrefix(field), "\(body): \(response.bodyText)")
        }
        await h.stop()
    }

    func testExpiredTokenRevocationAnswers201WithoutAnEntry() async throws {
        let h = try await GatewayHarness()
        let admin = try h.adminClient()
        let created = try admin.request("POST", "/v1/revocations", headers: auth,
                                        body: #"{"jti": "long-gone", "expires_at": 1000}"#)
        XCTAssertEqual(created.status, 201)
        XCTAssertEqual(created.json["ttl_seconds"] as? Int, 0)
        XCTAssertEqual(try admin.request("GET", "/v1/revocations/long-gone", headers: auth).status, 404)
        await h.stop()
    }
}
