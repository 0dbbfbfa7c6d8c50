import Foundation
import XCTest
@testable import PortcullisCore

/// `routes`: loading and refusing them, the compiled table, and the gate's per-route policy.
final class RouteTests: XCTestCase {
    static let secret = "route-test-secret-0123456789abcdef0123"
    let now = 1_700_000_000.0

    private func load(_ more: String, env: [String: String] = [:]) throws(ConfigurationError) -> Configuration {
        let yaml = """
            proxy: {upstream: "http://127.0.0.1:9", public_paths: ["/open/*"]}
            jwt: {secret: "\(Self.secret)"}
            \(more)
            """
        return try ConfigurationLoader.load(yaml: yaml, environment: env)
    }

    private func problems(_ more: String, env: [String: String] = [:]) -> [ConfigurationProblem] {
        do {
            let configuration = try load(more, env: env)
            XCTFail("expected problems, loaded \(configuration.routes)")
            return []
        } catch {
            return error.problems
        }
    }

    private func gate(_ more: String, env: [String: String] = [:]) throws -> Gate {
        try Gate(configuration: try load(more, env: env))
    }

    /// An HS256 token with the given claims as JSON members (after `"sub":"alice","jti":"j1","exp":…`).
    private func token(_ members: String = #""type":"access""#) -> String {
        let payload = #"{"sub":"alice","jti":"j1","exp":\#(Int(now) + 600)\#(members.isEmpty ? "" : ",")\#(members)}"#
        return TokenTestSigner.token(.HS256, payload: payload, secret: Array(Self.secret.utf8))
    }

    private func decide(_ gate: Gate, _ method: String = "GET", _ uri: String, token: String?,
                        extra: [(String, String)] = []) -> Gate.Decision {
        let headers = (token.map { [("Authorization", "Bearer \($0)")] } ?? []) + extra
        return gate.decide(method: method, target: RequestTarget(uri), headers: GateTests.Headers(pairs: headers), now: now)
    }

    /// A short name for each outcome, so a table of expectations reads at a glance.
    private func outcome(_ decision: Gate.Decision) -> String {
        switch decision {
        case .forwardPublic: "public"
        case .deny(let denial): denial.errorType
        case .denyScope(let refusal): "403 \(refusal.message)"
        case .checkRevocation(_, let query): "check \(query.jti ?? "-")"
        }
    }

    // MARK: - Loading

    func testRoutesLoadFromYAMLAndRenderBack() throws {
        let configuration = try load("""
            routes:
              - {path: /refresh, methods: [post], token_type: refresh}
              - path: /admin/*
                scopes: ["admin:*", users]
                scopes_mode: any
                fresh: true
              - {path: /health, auth: none}
            """)
        XCTAssertEqual(configuration.routes, [
            .init(path: "/refresh", methods: ["POST"], tokenType: .refresh),
            .init(path: "/admin/*", fresh: true, scopes: ["admin:*", "users"], scopesMode: .any),
            .init(path: "/health", auth: .none),
        ])
        let rendered = configuration.renderedYAML()
        XCTAssertTrue(rendered.contains("""
            routes:
              - {path: "/refresh", methods: [POST], auth: required, token_type: refresh}
              - {path: "/admin/*", auth: required, fresh: true, scopes: ["admin:*", "users"], scopes_mode: any}
              - {path: "/health", auth: none}
            """), rendered)
        // The secret is redacted in the rendering; the environment supplies it, as in production.
        XCTAssertEqual(try ConfigurationLoader.load(yaml: rendered, environment: ["PORTCULLIS_JWT_SECRET": Self.secret]).routes,
                       configuration.routes)
        XCTAssertTrue(try load("").renderedYAML().hasSuffix("routes: []\n"))
    }

    func testRoutesFromTheEnvironmentAreJSON() throws {
        let configuration = try load("", env: ["PORTCULLIS_ROUTES": #"[{"path": "/refresh", "token_type": "refresh"}, {"path": "/a", "fresh": true, "scopes": ["x"]}]"#])
        XCTAssertEqual(configuration.routes, [.init(path: "/refresh", tokenType: .refresh), .init(path: "/a", fresh: true, scopes: ["x"])])
        // The environment wins over the file, as for every key.
        let over = try load("routes: [{path: /file}]", env: ["PORTCULLIS_ROUTES": "[]"])
        XCTAssertEqual(over.routes, [])
        XCTAssertEqual(try load("routes: [{path: /file}]", env: ["PORTCULLIS_ROUTES": ""]).routes, [],
                       "an empty variable clears the file's value")

        XCTAssertEqual(problems("", env: ["PORTCULLIS_ROUTES": "/refresh"]).map(\.description),
                       ["routes: is not valid JSON: invalid value at byte 0 (set by PORTCULLIS_ROUTES)"])
        XCTAssertEqual(problems("", env: ["PORTCULLIS_ROUTES": #"{"path": "/x"}"#]).map(\.description),
                       ["routes: expected a JSON array of route objects (set by PORTCULLIS_ROUTES)"])
        XCTAssertEqual(problems("", env: ["PORTCULLIS_ROUTES": #"[{"path": "/x", "scopes_mode": "some"}]"#]).map(\.description),
                       [#"routes[0].scopes_mode = "some": expected one of: all, any (set by PORTCULLIS_ROUTES)"#])
    }

    func testEveryBadRouteIsNamedByIndexAndKey() {
        let found = problems("""
            routes:
              - {path: /ok}
              - {methods: [GET]}
              - {path: admin, auth: maybe, token_type: id, fresh: often, scopes_mode: some, scope: [a]}
              - {path: /a*b, methods: ["G T", GET, get], scopes: ["has space", "", 'q"uote']}
              - {path: /open, auth: none, scopes: [a], fresh: true}
              - /just-a-path
              - {path: /m, methods: []}
            """)
        XCTAssertEqual(found.map(\.description), [
            "routes[1].path: is required",
            "routes[2].scope: unknown key; did you mean scopes? (a route has path, methods, auth, token_type, fresh, scopes, scopes_mode)",
            #"routes[2].path = "admin": must start with "/""#,
            #"routes[2].auth = "maybe": expected one of: required, none"#,
            #"routes[2].token_type = "id": expected one of: access, refresh, any"#,
            #"routes[2].fresh = "often": expected a boolean: true/false, yes/no or 1/0"#,
            #"routes[2].scopes_mode = "some": expected one of: all, any"#,
            #"routes[3].path = "/a*b": "*" is allowed only as the last character"#,
            #"routes[3].methods = "G T": is not an HTTP method name"#,
            #"routes[3].scopes = "has space": a scope is printable ASCII without spaces, quotes or backslashes (RFC 6749 §3.3)"#,
            #"routes[3].scopes = "": a scope must not be empty"#,
            #"routes[3].scopes = "q\"uote": a scope is printable ASCII without spaces, quotes or backslashes (RFC 6749 §3.3)"#,
            "routes[4].fresh: has no effect with auth: none; remove it or drop auth: none",
            "routes[4].scopes: has no effect with auth: none; remove it or drop auth: none",
            #"routes[5] = "/just-a-path": expected a mapping with at least a path, got a single value"#,
            "routes[6].methods: must list at least one method; leave methods out to match every method",
        ])
        XCTAssertEqual(problems("routes: {path: /x}").map(\.key), ["routes"])
        XCTAssertEqual(problems("routes: [{path: /x, methods: [GET, get]}]").map(\.description),
                       [#"routes[0].methods = "GET": is listed more than once"#])
    }

    // MARK: - Matching

    func testFirstMatchingRouteDecidesAndMethodsNarrowIt() throws {
        let g = try gate("""
            routes:
              - {path: /refresh, methods: [POST], token_type: refresh}
              - {path: /refresh, auth: none}
              - {path: /open/secret, scopes: [secret]}
              - {path: /api/*, token_type: any}
            """)
        let access = token(), refresh = token(#""type":"refresh""#)
        XCTAssertEqual(outcome(decide(g, "POST", "/refresh", token: refresh)), "check j1")
        XCTAssertEqual(outcome(decide(g, "POST", "/refresh", token: access)), "RefreshTokenRequiredError")
        XCTAssertEqual(outcome(decide(g, "POST", "/refresh", token: nil)), "MissingTokenError")
        XCTAssertEqual(outcome(decide(g, "GET", "/refresh", token: nil)), "public", "the second route, for other methods")
        // A route is consulted before proxy.public_paths.
        XCTAssertEqual(outcome(decide(g, "GET", "/open/secret", token: nil)), "MissingTokenError")
        XCTAssertEqual(outcome(decide(g, "GET", "/open/other", token: nil)), "public")
        XCTAssertEqual(outcome(decide(g, "GET", "/api/x?y=1", token: refresh)), "check j1")
        // No route: jwt.token_type (access).
        XCTAssertEqual(outcome(decide(g, "GET", "/other", token: refresh)), "AccessTokenRequiredError")
        XCTAssertEqual(outcome(decide(g, "GET", "/other", token: access)), "check j1")
    }

    func testAGetRouteAlsoCoversHead() throws {
        let g = try gate("routes: [{path: /x, methods: [GET], scopes: [read]}]")
        XCTAssertEqual(outcome(decide(g, "HEAD", "/x", token: token())),
                       "403 Missing required scopes: ['read']. Provided: []")
        XCTAssertEqual(outcome(decide(g, "POST", "/x", token: token())), "check j1")
    }

    func testOpenRoutesMatchLikePublicPathsAndDemandingRoutesMatchTheDecodedPath() throws {
        let g = try gate("""
            routes:
              - {path: /docs/*, auth: none}
              - {path: /admin/*, scopes: [admin]}
            """)
        for ambiguous in ["/docs/../admin/x", "/docs/%2e%2e/admin/x", "/docs\\..\\x"] {
            XCTAssertNotEqual(outcome(decide(g, "GET", ambiguous, token: nil)), "public", ambiguous)
        }
        XCTAssertEqual(outcome(decide(g, "GET", "/docs/a", token: nil)), "public")
        let refused = "403 Missing required scopes: ['admin']. Provided: []"
        for sneaky in ["/admin/users", "/admin%2Fusers", "/%61dmin/users", "/x/../admin/users", "/docs/../admin/users", "/admin\\users"] {
            XCTAssertEqual(outcome(decide(g, "GET", sneaky, token: token())), refused, sneaky)
        }
        XCTAssertEqual(PathNormalisation.normalised("/a/./b/../c/%2e%2E/d"), "/a/d")
        XCTAssertEqual(PathNormalisation.normalised("/../../x"), "/x")
        XCTAssertEqual(PathNormalisation.normalised("/a/b/.."), "/a/")
    }

    // MARK: - Per-route requirements

    func testFreshRoutesWantFreshTrue() throws {
        let g = try gate("routes: [{path: /fresh, fresh: true}]")
        XCTAssertEqual(outcome(decide(g, "GET", "/fresh", token: token(#""type":"access","fresh":true"#))), "check j1")
        XCTAssertEqual(outcome(decide(g, "GET", "/fresh", token: token(#""type":"access","fresh":false"#))), "FreshTokenRequiredError")
        XCTAssertEqual(outcome(decide(g, "GET", "/fresh", token: token())), "FreshTokenRequiredError", "no fresh claim is not fresh")
        XCTAssertEqual(outcome(decide(g, "GET", "/other", token: token())), "check j1")
        // The token type is checked first, as AuthX does.
        XCTAssertEqual(outcome(decide(g, "GET", "/fresh", token: token(#""type":"refresh""#))), "AccessTokenRequiredError")
        XCTAssertEqual(Denial.freshTokenRequired.status, 401)
        XCTAssertEqual(Denial.freshTokenRequired.message, "Fresh token required")
        XCTAssertEqual(Denial.freshTokenRequired.wwwAuthenticate(in: .authx), #"Bearer error="invalid_token""#)
    }

    func testScopesWithWildcardsAndModes() throws {
        let g = try gate("""
            routes:
              - {path: /all, scopes: [users:read, posts:write]}
              - {path: /any, scopes: [admin, users:read], scopes_mode: any}
              - {path: /bare, scopes: [users]}
            """)
        func scoped(_ scopes: String) -> String { token(#""type":"access","scopes":\#(scopes)"#) }
        XCTAssertEqual(outcome(decide(g, "GET", "/all", token: scoped(#"["users:read","posts:write"]"#))), "check j1")
        XCTAssertEqual(outcome(decide(g, "GET", "/all", token: scoped(#"["users:*","posts:*"]"#))), "check j1")
        // AuthX lists every required scope, not only the missing ones.
        XCTAssertEqual(outcome(decide(g, "GET", "/all", token: scoped(#"["users:read"]"#))),
                       "403 Missing required scopes: ['users:read', 'posts:write']. Provided: ['users:read']")
        XCTAssertEqual(outcome(decide(g, "GET", "/all", token: scoped(#"["users:readx","posts"]"#))),
                       "403 Missing required scopes: ['users:read', 'posts:write']. Provided: ['users:readx', 'posts']")
        XCTAssertEqual(outcome(decide(g, "GET", "/any", token: scoped(#"["users:read"]"#))), "check j1")
        XCTAssertEqual(outcome(decide(g, "GET", "/any", token: scoped(#"["posts:write"]"#))),
                       "403 Missing required scopes: ['admin', 'users:read']. Provided: ['posts:write']")
        XCTAssertEqual(outcome(decide(g, "GET", "/bare", token: scoped(#"["users:*"]"#))), "check j1", "users:* covers users")
        XCTAssertEqual(outcome(decide(g, "GET", "/bare", token: scoped(#"["user:*","*"]"#))),
                       "403 Missing required scopes: ['users']. Provided: ['user:*', '*']")
        // Not a list of strings, null or absent: no scope granted.
        for notAList in [#""users""#, "null", "[1]", #"{"users":true}"#] {
            XCTAssertEqual(outcome(decide(g, "GET", "/bare", token: scoped(notAList))),
                           "403 Missing required scopes: ['users']. Provided: []", notAList)
        }
        XCTAssertEqual(outcome(decide(g, "GET", "/bare", token: token())), "403 Missing required scopes: ['users']. Provided: []")
        guard case .denyScope(let refusal) = decide(g, "GET", "/all", token: token()) else { return XCTFail() }
        XCTAssertEqual(refusal.wwwAuthenticate, #"Bearer error="insufficient_scope", scope="users:read posts:write""#)
        XCTAssertEqual(refusal.denial.status(in: .rfc6750), 403)
        XCTAssertEqual(refusal.denial.errorType, "InsufficientScopeError")
    }

    func testAuthXWildcardMatchingTable() {
        // The examples of AuthX 1.7.1's `match_scope` docstring, plus the edges of its prefix rule.
        let table: [(required: String, granted: String, matches: Bool)] = [
            ("read", "read", true), ("users:read", "users:*", true), ("users:read", "admin:*", false),
            ("admin", "admin:*", true), ("admin:users:edit", "admin:*", true), ("administrator", "admin:*", false),
            ("admin:", "admin:*", true), ("users:*", "users:*", true), ("users:read", "users:read:*", true),
            ("users:read:all", "users:read:*", true), ("read", "*", false), ("Read", "read", false),
        ]
        for row in table {
            XCTAssertEqual(ScopeRequirement.isGranted(row.required, by: [row.granted]), row.matches, "\(row)")
        }
    }

    func testScopesArePrintedAsPythonReprs() {
        XCTAssertEqual(PythonRepr.list([]), "[]")
        XCTAssertEqual(PythonRepr.list(["a", "b"]), "['a', 'b']")
        XCTAssertEqual(PythonRepr.string("it's"), #""it's""#)
        XCTAssertEqual(PythonRepr.string(#"both ' and ""#), #"'both \' and "'"#)
        XCTAssertEqual(PythonRepr.string("back\\slash\ttab\nnl\u{1}\u{7F}"), #"'back\\slash\ttab\nnl\x01\x7f'"#)
        XCTAssertEqual(PythonRepr.string("é ü 中 \u{A0}\u{AD}\u{200B}\u{2028}\u{E000}\u{1F600}\u{10FFFF}"),
                       #"'é ü 中 \xa0\xad\u200b\u2028\ue000😀\U0010ffff'"#)
    }

    func testScopesAreReadOnlyWhenARouteNeedsThem() throws {
        let without = try gate("routes: [{path: /x, fresh: true}]")
        guard case .checkRevocation(let verified, _) = decide(without, "GET", "/x", token: token(#""fresh":true,"scopes":["a"]"#)) else {
            return XCTFail()
        }
        XCTAssertNil(verified.claims.scopes)
        let with = try gate("routes: [{path: /x, scopes: [a]}]")
        guard case .checkRevocation(let scoped, _) = decide(with, "GET", "/y", token: token(#""scopes":["a","b"]"#)) else {
            return XCTFail()
        }
        XCTAssertEqual(scoped.claims.scopes, ["a", "b"])
    }

    func testRefreshTokensOnARouteAreStillCheckedAgainstTheStore() throws {
        let g = try gate("routes: [{path: /refresh, token_type: refresh}]")
        guard case .checkRevocation(_, let query) = decide(g, "POST", "/refresh", token: token(#""type":"refresh""#)) else {
            return XCTFail("a refresh token on a refresh route must be looked up")
        }
        XCTAssertEqual(query.jti, "j1")
        XCTAssertEqual(g.conclude(.revoked), .deny(.revoked))
    }

    func testTheVerifiedTokenCacheHonoursTheRoutesTokenType() throws {
        let g = try gate("routes: [{path: /refresh, token_type: refresh}]")
        let cache = VerifiedTokenCache()
        let refresh = token(#""type":"refresh""#)
        let headers = GateTests.Headers(pairs: [("Authorization", "Bearer \(refresh)")])
        XCTAssertEqual(outcome(g.decide(method: "POST", target: RequestTarget("/refresh"), headers: headers, now: now, cache: cache)), "check j1")
        XCTAssertEqual(cache.count, 1)
        XCTAssertEqual(outcome(g.decide(method: "GET", target: RequestTarget("/x"), headers: headers, now: now, cache: cache)),
                       "AccessTokenRequiredError", "a cached token is still judged by the route it arrives on")
        XCTAssertEqual(outcome(g.decide(method: "POST", target: RequestTarget("/refresh"), headers: headers, now: now, cache: cache)), "check j1")
    }

    func testCSRFStillAppliesOnRoutes() throws {
        let g = try gate("routes: [{path: /x, token_type: any}]", env: ["PORTCULLIS_JWT_LOCATIONS": "cookies"])
        let cookie = ("Cookie", "access_token_cookie=\(token(#""type":"refresh","csrf":"c1""#))")
        XCTAssertEqual(outcome(decide(g, "POST", "/x", token: nil, extra: [cookie])), "CSRFError")
        XCTAssertEqual(outcome(decide(g, "POST", "/x", token: nil, extra: [cookie, ("X-CSRF-TOKEN", "c1")])), "check j1")
    }

    // MARK: - CORS preflights

    func testPreflightsAreForwardedWithoutATokenUnlessAuthenticated() throws {
        let g = try gate("routes: [{path: /api/*, scopes: [a]}]")
        let preflight = [("Origin", "https://app.example"), ("Access-Control-Request-Method", "POST")]
        XCTAssertEqual(outcome(decide(g, "OPTIONS", "/api/x", token: nil, extra: preflight)), "public")
        XCTAssertEqual(outcome(decide(g, "OPTIONS", "/other", token: nil, extra: preflight)), "public")
        // Only a real preflight: both headers, and the OPTIONS method.
        XCTAssertEqual(outcome(decide(g, "OPTIONS", "/other", token: nil, extra: [preflight[0]])), "MissingTokenError")
        XCTAssertEqual(outcome(decide(g, "OPTIONS", "/other", token: nil, extra: [preflight[1]])), "MissingTokenError")
        XCTAssertEqual(outcome(decide(g, "POST", "/other", token: nil, extra: preflight)), "MissingTokenError")
        XCTAssertEqual(outcome(decide(g, "options", "/other", token: nil, extra: preflight)), "MissingTokenError")

        let strict = try gate("", env: ["PORTCULLIS_PROXY_CORS_PREFLIGHT": "authenticate"])
        XCTAssertEqual(outcome(decide(strict, "OPTIONS", "/other", token: nil, extra: preflight)), "MissingTokenError")
        XCTAssertEqual(outcome(decide(strict, "OPTIONS", "/other", token: token(), extra: preflight)), "check j1")
        XCTAssertEqual(try load("").proxy.corsPreflight, .forward)
        XCTAssertEqual(problems("", env: ["PORTCULLIS_PROXY_CORS_PREFLIGHT": "allow"]).map(\.description),
                       [#"proxy.cors_preflight = "allow": expected one of: forward, authenticate (set by PORTCULLIS_PROXY_CORS_PREFLIGHT)"#])
    }

    // MARK: - Reload

    func testAReloadAppliesRoutesAndPreflightsLive() throws {
        let running = try load("")
        let new = try load("routes: [{path: /refresh, token_type: refresh}]",
                           env: ["PORTCULLIS_PROXY_CORS_PREFLIGHT": "authenticate"])
        let reload = ConfigurationReload(running: running, new: new)
        XCTAssertEqual(reload.changed, ["proxy.cors_preflight", "routes"])
        XCTAssertEqual(reload.needRestart, [])
        XCTAssertEqual(reload.applied.routes, new.routes)
        let g = try Gate(configuration: reload.applied)
        XCTAssertEqual(outcome(decide(g, "POST", "/refresh", token: token(#""type":"refresh""#))), "check j1")
        XCTAssertFalse(g.forwardsCORSPreflights)
    }
}
