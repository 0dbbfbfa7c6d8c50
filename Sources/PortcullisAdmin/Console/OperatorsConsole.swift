/// The operators' console under `/ui/` on the admin listener: one page, its script and its
/// stylesheet, all compiled into the binary (no file to deploy, nothing fetched from elsewhere).
///
/// The page needs no token: it holds nothing secret. The operator's admin token lives in the
/// tab's `sessionStorage`, and every call the page makes is an ordinary `/v1/` call carrying
/// it, so the credential's role decides what the console may do. `AdminAPI` serves it when
/// the gateway plugs it in (`console:`), and sends `/ui` on to `/ui/`.
public struct OperatorsConsole: ConsolePage {
    public init() {}

    /// The answer for `GET /ui/<path>` (`path` is "" for the page itself), or nil for 404.
    public func answer(path: String) -> AdminResponse? {
        switch path {
        case "", "index.html": Self.page
        case "console.js": Self.script
        case "console.css": Self.stylesheet
        default: nil
        }
    }

    /// Scripts and styles only from this listener, no inline code, no form posting anywhere,
    /// no framing, and `connect-src 'self'` so the page can talk to nothing but this admin API.
    public static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; "
        + "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    static let protectiveHeaders: [(String, String)] = [
        ("Content-Security-Policy", contentSecurityPolicy),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cache-Control", "no-store"),
        ("X-Frame-Options", "DENY"),
    ]

    private static func asset(_ text: String, type: String) -> AdminResponse {
        AdminResponse(status: 200, body: Array(text.utf8), headers: [("Content-Type", type)] + protectiveHeaders)
    }

    static let page = asset(ConsoleAssets.html, type: "text/html; charset=utf-8")
    static let script = asset(ConsoleAssets.script, type: "text/javascript; charset=utf-8")
    static let stylesheet = asset(ConsoleAssets.stylesheet, type: "text/css; charset=utf-8")
}

/// The console's text, one file per language: ConsoleAssets+HTML.swift, +Script, +Stylesheet.
enum ConsoleAssets {}
