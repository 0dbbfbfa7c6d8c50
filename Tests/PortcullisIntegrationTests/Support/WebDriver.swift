import Foundation

/// A small client of the W3C WebDriver protocol, driving a headless Chromium through the
/// system's chromedriver (Debian's `chromium-driver`, installed by `make deps`): the driver
/// runs on a free loopback port with a throwaway profile, and `quit()` ends both.
///
/// The calls go over `RawHTTPClient`, not URLSession: chromedriver writes its header fields
/// without a space after the colon (`Content-Length:252`), which Foundation's URLSession on
/// Linux refuses ("Failed writing header").
final class WebDriver {
    static let driverPath = "/usr/bin/chromedriver"
    static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: driverPath) }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// An element reference as the protocol hands it out.
    struct Element {
        let id: String
    }

    private static let elementKey = "element-6066-11e4-a52e-4f735466cecf"

    private let driver = Process()
    private let directory: URL
    private let port: Int
    private(set) var sessionID = ""

    /// Starts chromedriver, waits for it to answer, and opens a session with a window of the
    /// given size.
    init(width: Int = 1280, height: Int = 900) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-webdriver-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let port = PortcullisProcess.freePort()
        self.port = port

        let log = directory.appendingPathComponent("chromedriver.log")
        driver.executableURL = URL(fileURLWithPath: Self.driverPath)
        driver.arguments = ["--port=\(port)", "--log-path=\(log.path)"]
        driver.standardOutput = FileHandle.nullDevice
        driver.standardError = FileHandle.nullDevice
        try driver.run()

        let deadline = Date().addingTimeInterval(20)
        var lastAnswer = ""
        while true {
            do {
                let status = try await send("GET", "/status") as? [String: Any]
                if status?["ready"] as? Bool == true { break }
                lastAnswer = "\(String(describing: status))"
            } catch {
                lastAnswer = "\(error)"
            }
            guard driver.isRunning, Date() < deadline else {
                let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                quitDriver()
                throw Failure(description: "chromedriver did not answer on port \(port) (\(lastAnswer)): \(output)")
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }

        var options: [String: Any] = ["args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--user-data-dir=\(directory.appendingPathComponent("profile").path)",
            "--window-size=\(width),\(height)", "--hide-scrollbars", "--no-first-run", "--no-default-browser-check",
        ]]
        // Debian's /usr/bin/chromium is a shell wrapper; the browser itself lives here.
        if FileManager.default.isExecutableFile(atPath: "/usr/lib/chromium/chromium") {
            options["binary"] = "/usr/lib/chromium/chromium"
        }
        let capabilities: [String: Any] = ["capabilities": ["alwaysMatch": [
            "browserName": "chrome", "goog:chromeOptions": options, "unhandledPromptBehavior": "ignore",
        ]]]
        do {
            let session = try await send("POST", "/session", capabilities) as? [String: Any]
            guard let id = session?["sessionId"] as? String else { throw Failure(description: "no sessionId in \(String(describing: session))") }
            sessionID = id
            _ = try await command("POST", "window/rect", ["width": width, "height": height])
        } catch {
            quitDriver()
            throw error
        }
    }

    /// Deletes the session (the browser closes) and stops the driver.
    func quit() async {
        if !sessionID.isEmpty { _ = try? await send("DELETE", "/session/\(sessionID)") }
        sessionID = ""
        quitDriver()
    }

    private func quitDriver() {
        if driver.isRunning {
            driver.terminate()
            let deadline = Date().addingTimeInterval(5)
            while driver.isRunning && Date() < deadline { usleep(20_000) }
            if driver.isRunning { kill(driver.processIdentifier, SIGKILL) }
        }
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Commands

    func navigate(to url: String) async throws {
        _ = try await command("POST", "url", ["url": url])
    }

    /// The first element matching a CSS selector, or a thrown "no such element".
    func element(_ css: String) async throws -> Element {
        try Self.element(from: try await command("POST", "element", ["using": "css selector", "value": css]))
    }

    func elements(_ css: String, in parent: Element? = nil) async throws -> [Element] {
        let path = parent.map { "element/\($0.id)/elements" } ?? "elements"
        let found = try await command("POST", path, ["using": "css selector", "value": css]) as? [Any] ?? []
        return try found.map(Self.element(from:))
    }

    func click(_ css: String) async throws {
        _ = try await command("POST", "element/\(try await element(css).id)/click", [:])
    }

    /// Clears the field, then types `text` into it as key strokes.
    func type(_ text: String, into css: String) async throws {
        let field = try await element(css)
        _ = try await command("POST", "element/\(field.id)/clear", [:])
        _ = try await command("POST", "element/\(field.id)/value", ["text": text])
    }

    /// The rendered text of the element (what a user reads).
    func text(_ css: String) async throws -> String {
        try await command("GET", "element/\(try await element(css).id)/text") as? String ?? ""
    }

    func text(of element: Element) async throws -> String {
        try await command("GET", "element/\(element.id)/text") as? String ?? ""
    }

    /// Runs a script in the page (with the driver's privileges: the page's CSP does not apply).
    func execute(_ script: String, _ arguments: [Any] = []) async throws -> Any? {
        try await command("POST", "execute/sync", ["script": script, "args": arguments])
    }

    func resizeWindow(width: Int, height: Int) async throws {
        _ = try await command("POST", "window/rect", ["width": width, "height": height])
    }

    /// The viewport as PNG.
    func screenshot() async throws -> Data {
        guard let encoded = try await command("GET", "screenshot") as? String, let png = Data(base64Encoded: encoded) else {
            throw Failure(description: "screenshot: no base64 PNG in the answer")
        }
        return png
    }

    /// The text of an open alert, confirm or prompt; nil when none is open.
    func openAlertText() async throws -> String? {
        do {
            return try await command("GET", "alert/text") as? String
        } catch let failure as Failure where failure.description.hasPrefix("no such alert") {
            return nil
        }
    }

    /// Polls `condition` until it holds, failing with `what` (and the last error) past `timeout`.
    func wait(for what: String, timeout: Double = 15, _ condition: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        var last: Error?
        while true {
            do {
                if try await condition() { return }
            } catch {
                last = error
            }
            guard Date() < deadline else {
                throw Failure(description: "timed out after \(timeout) s waiting for \(what)\(last.map { " (last error: \($0))" } ?? "")")
            }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
    }

    /// Waits until the element's text satisfies `predicate`, and returns that text.
    @discardableResult
    func waitForText(_ css: String, timeout: Double = 15, _ predicate: @escaping (String) -> Bool) async throws -> String {
        var seen = ""
        do {
            try await wait(for: "the text of \(css)", timeout: timeout) {
                seen = try await self.text(css)
                return predicate(seen)
            }
        } catch let failure as Failure {
            throw Failure(description: "\(failure.description); the text was \(seen.debugDescription)")
        }
        return seen
    }

    // MARK: Wire

    private static func element(from value: Any?) throws -> Element {
        guard let object = value as? [String: Any], let id = object[elementKey] as? String else {
            throw Failure(description: "not an element reference: \(String(describing: value))")
        }
        return Element(id: id)
    }

    private func command(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
        try await send(method, "/session/\(sessionID)/\(path)", body)
    }

    /// One protocol call: the answer's `value`, or a `Failure` with the protocol's error code
    /// first ("no such element: …").
    private func send(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
        let text = try body.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
        let response: RawHTTPClient.Response
        do {
            // chromedriver accepts only a loopback Host; a new session can take seconds to start.
            response = try RawHTTPClient(port: port, timeoutSeconds: 90).request(method, path, headers: [
                ("Host", "127.0.0.1:\(port)"), ("Content-Type", "application/json; charset=utf-8"), ("Connection", "close"),
            ], body: text)
        } catch {
            throw Failure(description: "\(method) \(path): \(error)")
        }
        let (data, status) = (response.body, response.status)
        let answer = (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) as? [String: Any]
        let value = answer?["value"]
        if status != 200 {
            let error = value as? [String: Any]
            throw Failure(description: "\(error?["error"] as? String ?? "HTTP \(status)"): \(error?["message"] as? String ?? "") (\(method) \(path))")
        }
        return value is NSNull ? nil : value
    }
}
