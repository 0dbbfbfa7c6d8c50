import Foundation
import PortcullisCore
import XCTest
@testable import PortcullisAdmin

/// The admin API's pure parts, with no socket: routes, query, bodies, error rendering.
final class AdminRoutingTests: XCTestCase {
    func testRoutesAreParsedOnce() {
        let cases: [(String, String, AdminRoute)] = [
            ("GET", "/healthz", .health), ("GET", "/readyz", .ready), ("GET", "/metrics", .metrics),
            ("POST", "/healthz", .notFound), ("GET", "/healthz/x", .notFound), ("GET", "/", .notFound),
            ("GET", "/ui/", .console("")), ("GET", "/ui/app.js", .console("app.js")), ("GET", "/ui/a/b", .console("a/b")),
            ("POST", "/ui/", .notFound), ("GET", "/ui", .consoleRedirect), ("POST", "/ui", .notFound),
            ("POST", "/v1/revocations", .revoke), ("GET", "/v1/revocations", .list),
            ("GET", "/v1/revocations/a%20b%2Fc", .lookup(jti: "a b/c")), ("DELETE", "/v1/revocations/x", .unrevoke(jti: "x")),
            ("POST", "/v1/subjects/al%C3%AFce/revocations", .revokeSubject("alïce")),
            ("DELETE", "/v1/subjects/bob/revocations", .unrevokeSubject("bob")),
            ("GET", "/v1/audit", .audit),
            ("PUT", "/v1/revocations", .v1Refused(.methodNotAllowed)), ("POST", "/v1/audit", .v1Refused(.methodNotAllowed)),
            ("GET", "/v1/subjects/bob/revocations", .v1Refused(.methodNotAllowed)),
            ("GET", "/v1/nothing", .v1Refused(.notFound)), ("GET", "/v1", .v1Refused(.notFound)),
            ("GET", "/v1/revocations/%ZZ", .v1Refused(.badRequest("jti: not a valid path segment"))),
            ("DELETE", "/v1/subjects/%/revocations", .v1Refused(.badRequest("sub: not a valid path segment"))),
        ]
        for (method, path, expected) in cases {
            XCTAssertEqual(AdminRoute(method: method, path: Substring(path)), expected, "\(method) \(path)")
        }
        XCTAssertTrue(AdminRoute.v1Refused(.notFound).requiresCredential, "unknown /v1/ paths are behind the token too")
        XCTAssertTrue(AdminRoute.audit.requiresCredential)
        XCTAssertFalse(AdminRoute.console("").requiresCredential, "the console page itself needs no token")
        XCTAssertFalse(AdminRoute.metrics.requiresCredential)
    }

    func testPageQuery() throws {
        XCTAssertEqual(try PageQuery(nil), try PageQuery(""))
        XCTAssertEqual(try PageQuery(nil).limit, 100)
        let query = try PageQuery("limit=7&cursor=12-3")
        XCTAssertEqual(query.limit, 7)
        XCTAssertEqual(query.cursor, "12-3")
        for (text, name) in [("limit=0", "limit"), ("limit=1001", "limit"), ("limit", "limit"), ("cursor=%zz", "cursor"),
                             ("page=2", "page")] {
            XCTAssertThrowsError(try PageQuery(Substring(text)), text) { error in
                guard case .badRequest(let message)? = error as? AdminError else { return XCTFail("\(error)") }
                XCTAssertTrue(message.hasPrefix("\(name):"), message)
            }
        }
    }

    func testBodiesAreDecodedStrictly() throws {
        let body = try AdminBody.decode(RevocationRequest.self, from: Array(#"{"jti": "a", "expires_at": 1767225600.5, "reason": null}"#.utf8))
        XCTAssertEqual(body.jti, "a")
        XCTAssertEqual(body.expiresAt, 1_767_225_600.5)
        XCTAssertNil(body.reason, "null counts as absent")
        for (text, field) in [("", "body"), ("[]", "body"), ("{", "body"), (#"{"jti": 1}"#, "jti"),
                              (#"{"jti": "a", "expires_at": true}"#, "expires_at"), (#"{"jti": "a", "expires_at": false}"#, "expires_at"),
                              (#"{"jti": "a", "expires_at": 0}"#, "expires_at"), (#"{"jti": "a", "expires_at": "1"}"#, "expires_at"),
                              (#"{"jti": "a", "extra": 1}"#, "extra"), (#"{"token": ["x"]}"#, "token")] {
            XCTAssertThrowsError(try AdminBody.decode(RevocationRequest.self, from: Array(text.utf8)), text) { error in
                guard case .badRequest(let message)? = error as? AdminError else { return XCTFail("\(text): \(error)") }
                XCTAssertTrue(message.hasPrefix("\(field):"), "\(text): \(message)")
            }
        }
    }

    func testAnswersKeepTheirShape() throws {
        func text(_ response: AdminResponse) -> String { String(decoding: response.body, as: UTF8.self) }
        XCTAssertEqual(text(.json(201, RevocationCreated(jti: nil, expiresAt: UnixTime(1_767_225_600), ttlSeconds: 5))),
                       #"{"expires_at":1767225600,"jti":null,"ttl_seconds":5}"#)
        XCTAssertEqual(text(.json(201, RevocationCreated(jti: "a/b", expiresAt: UnixTime(1.5), ttlSeconds: 0))),
                       #"{"expires_at":1.5,"jti":"a/b","ttl_seconds":0}"#)
        XCTAssertEqual(text(.json(404, RevocationStatus(jti: "x", revoked: false))), #"{"jti":"x","revoked":false}"#)
        let entry = AuditEntry(time: 1_767_225_600.25, actor: "ops", action: .unrevokeSubject, target: "bob", reason: nil, peer: nil)
        XCTAssertEqual(text(.json(200, AuditListing.page([.init(entry: entry)], nextCursor: nil))),
                       #"{"items":[{"action":"unrevoke_subject","actor":"ops","peer":null,"reason":null,"target":"bob","time":1767225600.25}],"next_cursor":null}"#)
    }

    /// Admin errors come out as the proxy's denials do: one body shape, byte for byte.
    func testErrorsRenderAsTheProxysDenials() {
        let forbidden = AdminError.forbidden.response
        XCTAssertEqual(forbidden.status, 403)
        XCTAssertEqual(String(decoding: forbidden.body, as: UTF8.self), #"{"message": "Forbidden", "error_type": "Forbidden"}"#)
        XCTAssertEqual(forbidden.body, ErrorBody(message: "Forbidden", errorType: "Forbidden").bytes)
        let unauthorized = AdminError.unauthorized.response
        XCTAssertEqual(unauthorized.status, 401)
        XCTAssertTrue(unauthorized.headers.contains { $0.0 == "WWW-Authenticate" && $0.1 == "Bearer" })
        XCTAssertEqual(String(decoding: AdminError.badRequest(#"jti: "x" bad"#).response.body, as: UTF8.self),
                       #"{"message": "jti: \"x\" bad", "error_type": "BadRequest"}"#)
        XCTAssertEqual(AdminError(RevocationStoreError(.badCursor, "cursor: no")), .badRequest("cursor: no"))
        XCTAssertEqual(AdminError(RevocationStoreError(.notReplicated, "1 of 2")).response.status, 503)
        XCTAssertEqual(AdminError(RevocationStoreError(.durability, "disk full")), .storeUnavailable)
    }
}
