import Foundation
import PortcullisAdmin
import XCTest

/// The operators' console at `/ui/`: its page and assets over a real admin listener, then the
/// page itself in a real headless Chromium driven through chromedriver (WebDriver), against a
/// real gateway.
///
/// `CONSOLE_SCREENSHOT_PATH=docs/console.png swift test --filter ConsoleTests` also writes the
/// README's screenshot.
final class ConsoleTests: XCTestCase {
    private static let operatorToken = "ops-console-token-0123456789abcdef"
    private static let readerToken = "support-console-token-0123456789ab"
    /// A reason that would run script if the page ever parsed a value as HTML.
    private static let hostileReason = "<img src=x onerror=alert(1)>"

    // MARK: The page and its assets, over the admin listener

    func testThePageAndItsAssetsNeedNoTokenAndCarryAStrictPolicy() async throws {
        let h = try await GatewayHarness()
        let assets: [(String, String)] = [
            ("/ui/", "text/html; charset=utf-8"),
            ("/ui/console.js", "text/javascript; charset=utf-8"),
            ("/ui/console.css", "text/css; charset=utf-8"),
        ]
        for (path, type) in assets {
            let response = try h.adminClient().request("GET", path) // no Authorization header
            XCTAssertEqual(response.status, 200, path)
            XCTAssertEqual(response.header("Content-Type"), type, path)
            XCTAssertEqual(response.header("Content-Security-Policy"), OperatorsConsole.contentSecurityPolicy, path)
            XCTAssertEqual(response.header("X-Content-Type-Options"), "nosniff", path)
            XCTAssertEqual(response.header("Referrer-Policy"), "no-referrer", path)
            XCTAssertEqual(response.header("Cache-Control"), "no-store", path)
            XCTAssertFalse(response.body.isEmpty, path)
        }
        let policy = OperatorsConsole.contentSecurityPolicy
        for directive in ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'",
                          "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"] {
            XCTAssertTrue(policy.contains(directive), directive)
        }
        XCTAssertFalse(policy.contains("unsafe-inline") || policy.contains("unsafe-eval"))

        let redirect = try h.adminClient().request("GET", "/ui")
        XCTAssertEqual(redirect.status, 308)
        XCTAssertEqual(redirect.header("Location"), "/ui/")
        XCTAssertEqual(try h.adminClient().request("GET", "/ui/nothing-here").status, 404)
        XCTAssertEqual(try h.adminClient().request("POST", "/ui/", body: "x").status, 404)
        // The API behind it still demands a token.
        XCTAssertEqual(try h.adminClient().request("GET", "/v1/revocations").status, 401)
        await h.stop()
    }

    func testThePageLoadsNothingFromElsewhereAndNeverParsesDataAsHTML() throws {
        let console = OperatorsConsole()
        let texts = try ["", "console.js", "console.css"].map { path in
            String(decoding: try XCTUnwrap(console.answer(path: path)).body, as: UTF8.self)
        }
        let (page, script, stylesheet) = (texts[0], texts[1], texts[2])
        for (name, text) in [("page", page), ("script", script), ("stylesheet", stylesheet)] {
            XCTAssertFalse(text.lowercased().contains("http://"), name)
            XCTAssertFalse(text.lowercased().contains("https://"), name)
        }
        // Every reference in the page is to this listener (relative) or inline data.
        let references = try NSRegularExpression(pattern: #"(?:src|href)\s*=\s*"([^"]*)""#)
        let found = references.matches(in: page, range: NSRange(page.startIndex..., in: page)).map {
            String(page[Range($0.range(at: 1), in: page)!])
        }
        XCTAssertEqual(Set(found), ["data:,", "console.css", "console.js"])
        XCTAssertFalse(page.contains("<style") || page.contains("style="), "no inline style (the policy would block it)")
        XCTAssertNil(page.range(of: #"\son[a-z]+\s*="#, options: .regularExpression), "no inline handler")
        XCTAssertEqual(page.components(separatedBy: "<script").count, 2, "one script element, with src")
        for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                     "localStorage", "document.cookie"] {
            XCTAssertFalse(script.contains(sink), "the script uses \(sink)")
        }
        XCTAssertTrue(script.contains("sessionStorage"))
        XCTAssertFalse(stylesheet.contains("@import") || stylesheet.contains("url("), "the stylesheet loads nothing")
    }

    // MARK: In a real browser

    /// A gateway with named credentials: `ops` (admin) and `support` (read).
    private func startGateway() async throws -> (GatewayHarness, URL) {
        let directory = try GatewayHarness.makeTemporaryDirectory()
        let file = directory.appendingPathComponent("admin-tokens")
        try "ops admin \(Self.operatorToken)\nsupport read \(Self.readerToken)\n"
            .write(to: file, atomically: true, encoding: .utf8)
        return (try await GatewayHarness(environment: ["PORTCULLIS_ADMIN_TOKENS_FILE": file.path]), directory)
    }

    private func startBrowser() async throws -> WebDriver {
        guard WebDriver.isInstalled else {
            throw XCTSkip("\(WebDriver.driverPath) is not installed: `make deps` installs chromium and chromium-driver")
        }
        return try await WebDriver()
    }

    private func lookup(_ h: GatewayHarness, _ jti: String) throws -> RawHTTPClient.Response {
        try h.adminClient().request("GET", "/v1/revocations/\(jti)",
                                    headers: [("Authorization", "Bearer \(Self.operatorToken)")])
    }

    private func useToken(_ token: String, in browser: WebDriver) async throws {
        try await browser.type(token, into: "#token-input")
        try await browser.click("#token-save")
        try await browser.waitForText("#token-state") { $0.hasPrefix("Token in use") }
    }

    /// A browser and a gateway for `body`, both stopped afterwards whatever happens.
    private func withBrowserAndGateway(_ body: (WebDriver, GatewayHarness) async throws -> Void) async throws {
        let browser = try await startBrowser()
        let (h, directory) = try await startGateway()
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            try await body(browser, h)
        } catch {
            await browser.quit()
            await h.stop()
            throw error
        }
        await browser.quit()
        await h.stop()
    }

    func testAnOperatorWalksThroughTheConsoleInARealBrowser() async throws {
        try await withBrowserAndGateway(walkThrough)
    }

    private func walkThrough(_ browser: WebDriver, _ h: GatewayHarness) async throws {
        // `/ui` is sent on to `/ui/`; readiness shows without a token.
        try await browser.navigate(to: "http://127.0.0.1:\(h.adminPort)/ui")
        try await browser.waitForText("#ready-state") { $0 == "Ready" }
        let landed = try await browser.execute("return location.pathname") as? String
        XCTAssertEqual(landed, "/ui/")
        let before = try await browser.text("#token-state")
        XCTAssertTrue(before.hasPrefix("No token yet"), before)

        // The token goes to sessionStorage only: not localStorage, not a cookie, not the URL.
        try await useToken(Self.operatorToken, in: browser)
        let storage = try await browser.execute("""
            return [sessionStorage.getItem('portcullis.console.adminToken'), localStorage.length, document.cookie,
                    location.href, document.getElementById('token-input').value]
            """) as? [Any]
        XCTAssertEqual(storage?[0] as? String, Self.operatorToken)
        XCTAssertEqual(storage?[1] as? Int, 0)
        XCTAssertEqual(storage?[2] as? String, "")
        XCTAssertFalse((storage?[3] as? String ?? "").contains(Self.operatorToken))
        XCTAssertEqual(storage?[4] as? String, "", "the field is emptied once the token is stored")

        // Look up a jti nobody revoked.
        let jti = "console-\(UUID().uuidString.lowercased())"
        try await browser.type(jti, into: "#lookup-jti")
        try await browser.click("#lookup-go")
        try await browser.waitForText("#lookup-result") { $0.contains("Not revoked") && $0.contains(jti) }

        // Paste a JWT minted with the gateway's key: header, claims, dates and status.
        let token = h.token(sub: "alice", jti: jti, ttl: 900, extra: [("email", "alice@example.com")])
        let claims = try Self.claims(of: token)
        try await browser.type(token, into: "#inspect-input")
        try await browser.click("#inspect-go")
        try await browser.waitForText("#inspect-status") { $0 == "Not revoked" }
        let header = try await browser.text("#inspect-header")
        XCTAssertTrue(header.contains(#""alg": "HS256""#), header)
        let shownClaims = try await browser.text("#inspect-claims")
        XCTAssertTrue(shownClaims.contains(#""sub": "alice""#), shownClaims)
        XCTAssertTrue(shownClaims.contains(#""jti": "\#(jti)""#), shownClaims)
        XCTAssertTrue(shownClaims.contains(#""email": "alice@example.com""#), shownClaims)
        for name in ["iat", "exp"] {
            let seconds = try XCTUnwrap(claims[name] as? Double, name)
            let shown = try await browser.text("#inspect-times dd[data-claim='\(name)']")
            XCTAssertTrue(shown.hasPrefix(Self.utc(seconds)), "\(name): \(shown), expected \(Self.utc(seconds))")
        }
        let expiry = try await browser.text("#inspect-times dd[data-claim='exp']")
        XCTAssertTrue(expiry.contains("in 1"), "15 minutes ahead: \(expiry)")

        // Revoke it as a token, with a reason that is markup.
        try await browser.click("#inspect-revoke")
        let prefilled = try await browser.execute("return document.getElementById('revoke-value').value") as? String
        XCTAssertEqual(prefilled, token, "the revoke form holds the inspected token")
        try await browser.type(Self.hostileReason, into: "#revoke-reason")
        try await browser.click("#revoke-go")
        try await browser.waitForText("#revoke-result") { $0.contains("Revoked jti \(jti)") }
        try await browser.waitForText("#inspect-status") { $0 == "Revoked" }
        let stored = try lookup(h, jti)
        XCTAssertEqual(stored.status, 200, "the API has the revocation")
        XCTAssertEqual(stored.json["reason"] as? String, Self.hostileReason)

        // In the revocations list, and in the audit with the reason as literal text.
        try await browser.waitForText("#revocations-table tbody") { $0.contains(jti) }
        var auditRow: WebDriver.Element?
        try await browser.wait(for: "the revocation in the audit") {
            for row in try await browser.elements("#audit-table tbody tr") {
                guard let target = try await browser.elements("td.target", in: row).first,
                      try await browser.text(of: target) == jti,
                      let action = try await browser.elements("td:nth-child(3)", in: row).first,
                      try await browser.text(of: action) == "revoke"
                else { continue }
                auditRow = row
                return true
            }
            return false
        }
        let row = try XCTUnwrap(auditRow)
        let reasonCells = try await browser.elements("td.reason", in: row)
        let reasonCell = try XCTUnwrap(reasonCells.first)
        let reasonText = try await browser.text(of: reasonCell)
        XCTAssertEqual(reasonText, Self.hostileReason, "the reason is shown as its characters")
        let imagesInReason = try await browser.elements("img", in: reasonCell)
        XCTAssertEqual(imagesInReason.count, 0, "no element was made from the reason")
        let actorCells = try await browser.elements("td.actor", in: row)
        let actor = try await browser.text(of: try XCTUnwrap(actorCells.first))
        XCTAssertEqual(actor, "ops")
        // The lookup card shows the reason as text too.
        try await browser.click("#lookup-go")
        try await browser.waitForText("#lookup-result .reason") { $0 == Self.hostileReason }
        let images = try await browser.execute("return document.querySelectorAll('img').length") as? Int
        XCTAssertEqual(images, 0, "no img element anywhere in the page")
        let alert = try await browser.openAlertText()
        XCTAssertNil(alert, "no alert fired")

        // Undo: accepted again, in the page and through the API.
        try await browser.click("#inspect-undo")
        try await browser.waitForText("#revoke-result") { $0.contains("Undone: jti \(jti)") }
        try await browser.waitForText("#inspect-status") { $0 == "Not revoked" }
        try await browser.waitForText("#revocations-table tbody") { !$0.contains(jti) }
        XCTAssertEqual(try lookup(h, jti).status, 404, "the API no longer has it")
        try await browser.click("#lookup-go")
        try await browser.waitForText("#lookup-result") { $0.contains("Not revoked") }

        // The read credential may look, not revoke: the page shows the API's "Forbidden".
        try await browser.click("#token-forget")
        try await browser.waitForText("#token-state") { $0.hasPrefix("No token yet") }
        try await useToken(Self.readerToken, in: browser)
        let refusedJti = "console-refused-\(UUID().uuidString.lowercased())"
        try await browser.click("#revoke-kind-jti + span")
        try await browser.type(refusedJti, into: "#revoke-value")
        try await browser.type("should not happen", into: "#revoke-reason")
        try await browser.click("#revoke-go")
        try await browser.waitForText("#revoke-result") { $0.contains("Forbidden") }
        XCTAssertEqual(try lookup(h, refusedJti).status, 404, "a refused revoke changed nothing")
        // Reading still works with it.
        try await browser.type(jti, into: "#lookup-jti")
        try await browser.click("#lookup-go")
        try await browser.waitForText("#lookup-result") { $0.contains("Not revoked") }
        let lastAlert = try await browser.openAlertText()
        XCTAssertNil(lastAlert)
    }

    /// The lists follow the API's cursors both ways; a subject is revoked and restored from the
    /// page, and the gate refuses, then accepts, that subject's token.
    func testListsPageThroughTheAPIsCursorsAndASubjectIsRevokedFromThePage() async throws {
        try await withBrowserAndGateway(pageThroughAndRevokeASubject)
    }

    private func pageThroughAndRevokeASubject(_ browser: WebDriver, _ h: GatewayHarness) async throws {
        // 12 revocations: the page shows 10 a page, so 10 then 2, in the list and in the audit.
        for n in 0..<12 {
            let response = try h.adminClient().request("POST", "/v1/revocations", headers: [
                ("Authorization", "Bearer \(Self.operatorToken)"), ("Content-Type", "application/json"),
            ], body: #"{"jti": "paged-\#(n)", "reason": "batch \#(n)"}"#)
            XCTAssertEqual(response.status, 201)
        }
        func rows(_ table: String) async throws -> Int {
            try await browser.elements("#\(table)-table tbody tr").count
        }
        try await browser.navigate(to: "http://127.0.0.1:\(h.adminPort)/ui/")
        try await useToken(Self.operatorToken, in: browser)
        for table in ["revocations", "audit"] {
            try await browser.wait(for: "\(table): a first page of 10") { try await rows(table) == 10 }
            try await browser.click("#\(table)-next")
            try await browser.waitForText("#\(table)-page") { $0 == "Page 2" }
            try await browser.wait(for: "\(table): a second page of 2") { try await rows(table) == 2 }
            let more = try await browser.execute("return document.getElementById('\(table)-next').disabled") as? Bool
            XCTAssertEqual(more, true, "\(table): the API said there is no third page")
            try await browser.click("#\(table)-prev")
            try await browser.waitForText("#\(table)-page") { $0 == "Page 1" }
            try await browser.wait(for: "\(table): back to the first page") { try await rows(table) == 10 }
        }
        let seen = try await browser.text("#revocations-table tbody") + (try await browser.text("#audit-table tbody"))
        XCTAssertTrue(seen.contains("paged-"), seen)

        // A subject, from the form: the gate refuses its earlier token, and accepts it after Undo.
        let earlier = h.token(sub: "mallory", now: Date().timeIntervalSince1970 - 5)
        XCTAssertEqual(try h.client().request("GET", "/x", headers: [("Authorization", "Bearer \(earlier)")]).status, 200)
        try await browser.click("#revoke-kind-subject + span")
        try await browser.waitForText("#revoke-value-label") { $0.hasPrefix("Subject") }
        try await browser.type("mallory", into: "#revoke-value")
        try await browser.type("Account offboarded", into: "#revoke-reason")
        try await browser.click("#revoke-go")
        try await browser.waitForText("#revoke-result") { $0.contains("Subject mallory revoked") }
        XCTAssertEqual(try h.client().request("GET", "/x", headers: [("Authorization", "Bearer \(earlier)")]).status, 401)
        try await browser.waitForText("#audit-table tbody tr:first-child") {
            $0.contains("revoke_subject") && $0.contains("mallory") && $0.contains("Account offboarded")
        }
        try await browser.click("#revoke-result button")
        try await browser.waitForText("#revoke-result") { $0.contains("Undone: subject mallory") }
        XCTAssertEqual(try h.client().request("GET", "/x", headers: [("Authorization", "Bearer \(earlier)")]).status, 200)
        try await browser.waitForText("#audit-table tbody tr:first-child") { $0.contains("unrevoke_subject") }
    }

    // MARK: The README's screenshot

    /// Realistic content (traffic at the gate, revocations with reasons, a decoded token), then a
    /// screenshot: a PNG of the window's size, written to CONSOLE_SCREENSHOT_PATH when set.
    func testScreenshotOfAConsoleInUse() async throws {
        try await withBrowserAndGateway { browser, h in
            let png = try await populateAndShoot(browser, h)
            XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "a PNG")
            if let path = ProcessInfo.processInfo.environment["CONSOLE_SCREENSHOT_PATH"], !path.isEmpty {
                try png.write(to: URL(fileURLWithPath: path))
            }
        }
    }

    private func populateAndShoot(_ browser: WebDriver, _ h: GatewayHarness) async throws -> Data {
        func admin(_ method: String, _ path: String, _ body: String? = nil) throws {
            let response = try h.adminClient().request(method, path, headers: [
                ("Authorization", "Bearer \(Self.operatorToken)"), ("Content-Type", "application/json"),
            ], body: body)
            XCTAssert((200..<300).contains(response.status), "\(method) \(path): \(response.status) \(response.bodyText)")
        }
        let stolen = h.token(sub: "dana", jti: "9c1e7a52-4b0d-4e61-a8f3-2d7b90c4e1f6", ttl: 3600)
        try admin("POST", "/v1/revocations", #"{"token": "\#(stolen)", "reason": "Laptop reported stolen (OPS-4127)"}"#)
        try admin("POST", "/v1/revocations", #"{"jti": "3f8d2c10-77aa-4c5e-9b21-6e0f4d8a9b35", "expires_at": \#(Int(Date().timeIntervalSince1970) + 5400), "reason": "Token posted in a public issue"}"#)
        try admin("POST", "/v1/revocations", #"{"jti": "b27e64d9-0c3f-4f8a-b5d1-84a9e2c7f013", "expires_at": \#(Int(Date().timeIntervalSince1970) + 86000), "reason": "Refresh token replayed from a new network"}"#)
        try admin("POST", "/v1/subjects/mallory/revocations", #"{"reason": "Account offboarded"}"#)

        // Traffic at the gate: forwarded, no token, revoked, forged.
        for _ in 0..<14 { _ = try h.client().request("GET", "/orders", headers: [("Authorization", "Bearer \(h.token())")]) }
        for _ in 0..<5 { _ = try h.client().request("GET", "/orders") }
        for _ in 0..<3 { _ = try h.client().request("GET", "/orders", headers: [("Authorization", "Bearer \(stolen)")]) }
        _ = try h.client().request("GET", "/orders", headers: [("Authorization", "Bearer \(h.token().dropLast(3))abc")])

        try await browser.navigate(to: "http://127.0.0.1:\(h.adminPort)/ui/")
        try await browser.waitForText("#ready-state") { $0 == "Ready" }
        try await useToken(Self.operatorToken, in: browser)
        try await browser.type("3f8d2c10-77aa-4c5e-9b21-6e0f4d8a9b35", into: "#lookup-jti")
        try await browser.click("#lookup-go")
        try await browser.waitForText("#lookup-result") { $0.contains("Revoked") }
        let alice = h.token(sub: "alice", jti: "5d0b8f3e-2a71-4c9e-8e46-f1a3c7b2d950", ttl: 900,
                            extra: [("email", "alice@example.com")])
        try await browser.type(alice, into: "#inspect-input")
        try await browser.click("#inspect-go")
        try await browser.waitForText("#inspect-status") { $0 == "Not revoked" }
        try await browser.click("#inspect-revoke")
        try await browser.type("Password changed by the user", into: "#revoke-reason")
        try await browser.click("#health-refresh")
        try await browser.waitForText("#metrics-table tbody") { $0.contains("RevokedTokenError") }
        try await browser.waitForText("#revocations-table tbody") { $0.contains("b27e64d9") }
        try await browser.waitForText("#audit-table tbody") { $0.contains("Account offboarded") }
        // The whole page in one picture: the window grown to the page's height.
        let heights = try await browser.execute(
            "return [document.documentElement.scrollHeight, window.innerHeight, window.outerHeight]") as? [Int] ?? []
        if heights.count == 3, heights[0] > heights[1] {
            try await browser.resizeWindow(width: 1280, height: min(heights[2] + heights[0] - heights[1], 1800))
        }
        _ = try await browser.execute("window.scrollTo(0, 0)")
        return try await browser.screenshot()
    }

    // MARK: Helpers

    private static func claims(of token: String) throws -> [String: Any] {
        var part = String(token.split(separator: ".")[1]).replacingOccurrences(of: "-", with: "+")
            .replacingOccurrences(of: "_", with: "/")
        while part.count % 4 != 0 { part += "=" }
        let data = try XCTUnwrap(Data(base64Encoded: part))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// As the page writes a time: `2025-01-31 12:00:00 UTC`.
    private static func utc(_ seconds: Double) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: seconds.rounded(.down))) + " UTC"
    }
}
