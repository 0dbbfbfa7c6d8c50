import PortcullisCore
import XCTest
@testable import PortcullisProxy

/// "Which request is the ingress asking about?" — read from the headers each ingress sends.
final class OriginalRequestTests: XCTestCase {
    struct Headers: RequestHeaders {
        var pairs: [(String, String)]
        func firstValue(_ name: String) -> String? { pairs.first { $0.0.lowercased() == name.lowercased() }?.1 }
        func allValues(_ name: String) -> [String] { pairs.filter { $0.0.lowercased() == name.lowercased() }.map(\.1) }
    }

    private func original(_ pairs: [(String, String)], method: String = "GET", target: String = "/") -> OriginalRequest {
        OriginalRequest(describedBy: Headers(pairs: pairs), ownMethod: method, ownTarget: target)
    }

    func testTraefikAndCaddySendXForwardedMethodAndUri() {
        XCTAssertEqual(original([("X-Forwarded-Method", "POST"), ("X-Forwarded-Uri", "/api/items?page=2")]),
                       OriginalRequest(method: "POST", target: "/api/items?page=2"))
    }

    func testNginxSendsXOriginalMethodAndURI() {
        XCTAssertEqual(original([("X-Original-Method", "DELETE"), ("X-Original-URI", "/api/items/7")], target: "/_portcullis"),
                       OriginalRequest(method: "DELETE", target: "/api/items/7"))
    }

    func testXForwardedWinsWhenBothArePresent() {
        let headers = [("X-Original-URI", "/original"), ("X-Forwarded-Uri", "/forwarded"),
                       ("X-Original-Method", "PUT"), ("X-Forwarded-Method", "PATCH")]
        XCTAssertEqual(original(headers), OriginalRequest(method: "PATCH", target: "/forwarded"))
    }

    func testEnvoySendsTheOriginalRequestAsItsOwn() {
        XCTAssertEqual(original([("Authorization", "Bearer x")], method: "POST", target: "/api/orders?x=1"),
                       OriginalRequest(method: "POST", target: "/api/orders?x=1"))
    }

    func testMethodAndUriAreTakenIndependently() {
        XCTAssertEqual(original([("X-Forwarded-Uri", "/only-uri")], method: "HEAD"),
                       OriginalRequest(method: "HEAD", target: "/only-uri"))
        XCTAssertEqual(original([("X-Original-Method", "POST")], target: "/own"),
                       OriginalRequest(method: "POST", target: "/own"))
    }

    func testEmptyHeaderFallsBackToTheNextConvention() {
        XCTAssertEqual(original([("X-Forwarded-Uri", ""), ("X-Original-URI", "/from-nginx")]).target, "/from-nginx")
        XCTAssertEqual(original([("X-Forwarded-Method", "")], method: "OPTIONS").method, "OPTIONS")
    }

    func testAbsoluteAndRelativeUrisBecomeOriginForm() {
        XCTAssertEqual(OriginalRequest.originForm("https://app.example.com/a/b?c=d"), "/a/b?c=d")
        XCTAssertEqual(OriginalRequest.originForm("http://app.example.com"), "/")
        XCTAssertEqual(OriginalRequest.originForm("http://app.example.com?q=1"), "/?q=1")
        XCTAssertEqual(OriginalRequest.originForm("a/b"), "/a/b")
        XCTAssertEqual(OriginalRequest.originForm("/a#frag"), "/a")
        // A "://" inside the path or query is not a scheme.
        XCTAssertEqual(OriginalRequest.originForm("/redirect?to=https://x.example/"), "/redirect?to=https://x.example/")
    }
}
