import Foundation
import XCTest
@testable import PortcullisCore

final class ConfigurationTests: XCTestCase {
    /// 32 bytes: the shortest key HS256 accepts.
    private let secret32 = "0123456789abcdef0123456789abcdef"
    /// The smallest YAML that loads: the two keys without a usable default.
    private var minimalYAML: String {
        """
        proxy:
          upstream: http://127.0.0.1:9000
        jwt:
          secret: "\(secret32)"
        """
    }

    /// `minimalYAML` with lines added to its two sections, then further sections; YAML refuses a
    /// section written twice, so tests cannot simply append.
    private func config(proxy: String = "", jwt: String = "", more: String = "") -> String {
        func indented(_ lines: String) -> String {
            lines.split(separator: "\n").map { "\n  " + $0 }.joined()
        }
        return "proxy:\n  upstream: http://127.0.0.1:9000\(indented(proxy))\njwt:\n  secret: \"\(secret32)\"\(indented(jwt))\n\(more)"
    }

    private func load(_ yaml: String?, env: [String: String] = [:], files: [String: String] = [:]) throws(ConfigurationError) -> Configuration {
        try ConfigurationLoader.load(yaml: yaml, environment: env, readFile: { path in
            guard let contents = files[path] else { throw POSIXError(.ENOENT) }
            return contents
        })
    }

    /// The problems of a load that must fail; fails the test if it succeeds.
    private func problems(_ yaml: String?, env: [String: String] = [:], files: [String: String] = [:],
                          file: StaticString = #filePath, line: UInt = #line) -> [ConfigurationProblem] {
        do {
            let configuration = try load(yaml, env: env, files: files)
            XCTFail("expected a ConfigurationError, loaded \(configuration)", file: file, line: line)
            return []
        } catch {
            return error.problems
        }
    }

    private func problem(_ key: String, _ value: String?, _ reason: String) -> ConfigurationProblem {
        ConfigurationProblem(key: key, value: value, reason: reason)
    }

    // MARK: - Defaults

    func testDefaultsMatchTheInterfaceTable() throws {
        let configuration = try load(minimalYAML)
        var expected = Configuration()
        expected.proxy.upstream = UpstreamURL(host: "127.0.0.1", port: 9000, pathPrefix: "")
        expected.jwt.secret = secret32
        XCTAssertEqual(configuration, expected)

        XCTAssertEqual(configuration.proxy.listen, ListenAddress(host: "0.0.0.0", port: 8080))
        XCTAssertEqual(configuration.proxy.connectTimeout, .seconds(2))
        XCTAssertEqual(configuration.proxy.upstreamTimeout, .seconds(30))
        XCTAssertEqual(configuration.proxy.maxHeaderBytes, 32768)
        XCTAssertEqual(configuration.proxy.claimHeaders, [.init(header: "X-Auth-Subject", claim: "sub"), .init(header: "X-Auth-Jti", claim: "jti")])
        XCTAssertEqual(configuration.proxy.threads, 0)
        XCTAssertEqual(configuration.jwt.algorithms, [.HS256])
        XCTAssertEqual(configuration.jwt.locations, [.headers])
        XCTAssertEqual(configuration.jwt.leeway, .zero)
        XCTAssertEqual(configuration.jwt.headerType, "Bearer")
        XCTAssertTrue(configuration.jwt.csrf)
        XCTAssertEqual(configuration.revocation.redisURL, RedisURL(tls: false, host: "127.0.0.1", port: 6379, database: 0, username: nil, password: nil))
        XCTAssertEqual(configuration.revocation.maxTTL, .seconds(2_592_000))
        XCTAssertEqual(configuration.revocation.timeout, .milliseconds(100))
        XCTAssertEqual(configuration.admin.listen, ListenAddress(host: "127.0.0.1", port: 8081))
        XCTAssertNil(configuration.admin.token)
        XCTAssertEqual(configuration.errors.format, .authx)
        XCTAssertEqual(configuration.log.level, "info")
    }

    func testAuditMaxEntries() throws {
        XCTAssertEqual(try load(minimalYAML).admin.auditMaxEntries, 100_000)
        XCTAssertEqual(try load(config(more: "admin:\n  audit_max_entries: 500")).admin.auditMaxEntries, 500)
        XCTAssertEqual(try load(minimalYAML, env: ["PORTCULLIS_ADMIN_AUDIT_MAX_ENTRIES": "7"]).admin.auditMaxEntries, 7)
        XCTAssertTrue(try load(minimalYAML).renderedYAML().contains("audit_max_entries: 100000"))
        for bad in ["0", "-3", "many", "1.5", "true"] {
            let found = problems(minimalYAML, env: ["PORTCULLIS_ADMIN_AUDIT_MAX_ENTRIES": bad])
            XCTAssertEqual(found.map(\.key), ["admin.audit_max_entries"], bad)
            XCTAssertTrue("\(found)".contains("PORTCULLIS_ADMIN_AUDIT_MAX_ENTRIES") || "\(found)".contains("admin.audit_max_entries"), "\(found)")
        }
        XCTAssertTrue(problems(config(more: "admin:\n  audit_max_entries: 0")).description.contains("must be between 1 and"))
    }

    func testNothingConfiguredReportsTheTwoRequiredValues() {
        XCTAssertEqual(problems(nil), [
            problem("proxy.upstream", nil, "is required"),
            problem("jwt.secret", nil, "is required by HS256 in jwt.algorithms; set jwt.secret or jwt.secret_file"),
        ])
    }

    func testEmptyFileAndEmptySectionsKeepDefaults() throws {
        let configuration = try load("# nothing yet\nproxy:\nlog:\n", env: [
            "PORTCULLIS_PROXY_UPSTREAM": "http://backend", "PORTCULLIS_JWT_SECRET": secret32,
        ])
        XCTAssertEqual(configuration.proxy.upstream, UpstreamURL(host: "backend", port: 80, pathPrefix: ""))
        XCTAssertEqual(configuration.log, Configuration.Log())
    }

    // MARK: - Durations

    func testEveryDurationForm() throws {
        let cases: [(written: String, expected: Duration)] = [
            ("250ms", .milliseconds(250)), ("30s", .seconds(30)), ("15m", .seconds(900)), ("2h", .seconds(7200)),
            ("30d", .seconds(2_592_000)), ("45", .seconds(45)), ("1.5", .milliseconds(1500)), (".25", .milliseconds(250)),
            ("0.1", .milliseconds(100)), ("1.5h", .seconds(5400)), ("\"7\"", .seconds(7)), ("0", .zero), ("0s", .zero),
            ("2.5", .milliseconds(2500)), ("0.000000001", .nanoseconds(1)),
        ]
        for (written, expected) in cases {
            let configuration = try load(config(jwt: "leeway: \(written)"))
            XCTAssertEqual(configuration.jwt.leeway, expected, "jwt.leeway: \(written)")
        }
        // YAML int and float nodes and environment strings take the same path.
        XCTAssertEqual(try load(minimalYAML, env: ["PORTCULLIS_JWT_LEEWAY": "3m"]).jwt.leeway, .seconds(180))
        XCTAssertEqual(try load(minimalYAML, env: ["PORTCULLIS_REVOCATION_TIMEOUT": "0.05"]).revocation.timeout, .milliseconds(50))
    }

    func testBadDurationsAreProblems() {
        let hint = "expected a duration such as 250ms, 30s, 15m, 2h, 30d or a number of seconds"
        let cases: [(written: String, reason: String)] = [
            ("-5s", "must not be negative"), ("5x", hint), ("abc", hint), ("1.", hint), ("s", hint), ("\"\"", hint),
            ("1 s", hint), ("1e3", hint), ("99999999999999d", "must be at most 36500d"), ("36501d", "must be at most 36500d"),
        ]
        for (written, reason) in cases {
            let found = problems(config(jwt: "leeway: \(written)"))
            XCTAssertEqual(found.map(\.key), ["jwt.leeway"], written)
            XCTAssertEqual(found.first?.reason, reason, written)
        }
        XCTAssertEqual(problems(config(jwt: "leeway: [1s]")),
                       [problem("jwt.leeway", "[1s]", "expected a duration, got a list")])
    }

    func testDurationFloors() {
        let yaml = config(proxy: "connect_timeout: 0s\nupstream_timeout: 0", more: "revocation:\n  max_ttl: 999ms\n  timeout: 0ms\n")
        XCTAssertEqual(problems(yaml), [
            problem("proxy.connect_timeout", "0s", "must be greater than 0"),
            problem("proxy.upstream_timeout", "0", "must be greater than 0"),
            problem("revocation.max_ttl", "999ms", "must be at least 1s"),
            problem("revocation.timeout", "0ms", "must be greater than 0"),
        ])
    }

    // MARK: - Environment

    func testEnvironmentOverridesYAML() throws {
        let yaml = config(more: "admin:\n  listen: 127.0.0.1:7000\n")
        let configuration = try load(yaml, env: [
            "PORTCULLIS_PROXY_UPSTREAM": "http://10.0.0.5:8000/api/",
            "PORTCULLIS_ADMIN_LISTEN": "[::1]:7001",
            "PORTCULLIS_JWT_CSRF": "no",
            "PORTCULLIS_PROXY_MAX_HEADER_BYTES": " 65536 ",
            "PORTCULLIS_CONFIG": "/etc/portcullis.yaml",
            "HOME": "/root",
        ])
        XCTAssertEqual(configuration.proxy.upstream, UpstreamURL(host: "10.0.0.5", port: 8000, pathPrefix: "/api"))
        XCTAssertEqual(configuration.admin.listen, ListenAddress(host: "::1", port: 7001))
        XCTAssertFalse(configuration.jwt.csrf)
        XCTAssertEqual(configuration.proxy.maxHeaderBytes, 65536)
    }

    func testEnvironmentNamesComeFromTheKeyTable() throws {
        // PORTCULLIS_JWT_SECRET_FILE must be jwt.secret_file, not jwt.secret with a "_FILE" tail.
        let configuration = try load("proxy:\n  upstream: http://backend\n",
                                     env: ["PORTCULLIS_JWT_SECRET_FILE": "/run/secrets/jwt"],
                                     files: ["/run/secrets/jwt": secret32 + "\n"])
        XCTAssertEqual(configuration.jwt.secretFile, "/run/secrets/jwt")
        XCTAssertEqual(configuration.jwt.secret, secret32)
        let names = ConfigurationKey.all.map(\.environmentName)
        XCTAssertTrue(names.contains("PORTCULLIS_REVOCATION_REDIS_URL"))
        XCTAssertTrue(names.contains("PORTCULLIS_PROXY_CLAIM_HEADERS"))
        XCTAssertEqual(Set(names).count, names.count, "two keys share an environment name")
    }

    func testEnvironmentListsAndClaimHeaders() throws {
        let configuration = try load(minimalYAML, env: [
            "PORTCULLIS_JWT_ALGORITHMS": " HS256, ,hs512 ,",
            "PORTCULLIS_JWT_SECRET": String(repeating: "k", count: 64),
            "PORTCULLIS_PROXY_PUBLIC_PATHS": "/login, /docs/*",
            "PORTCULLIS_JWT_LOCATIONS": "cookies,headers",
            "PORTCULLIS_JWT_AUDIENCE": "api,admin",
            "PORTCULLIS_PROXY_CLAIM_HEADERS": "X-Auth-Subject=sub, X-User-Role = role,",
        ])
        XCTAssertEqual(configuration.jwt.algorithms, [.HS256, .HS512])
        XCTAssertEqual(configuration.proxy.publicPaths, ["/login", "/docs/*"])
        XCTAssertEqual(configuration.jwt.locations, [.cookies, .headers])
        XCTAssertEqual(configuration.jwt.audience, ["api", "admin"])
        XCTAssertEqual(configuration.proxy.claimHeaders, [.init(header: "X-Auth-Subject", claim: "sub"), .init(header: "X-User-Role", claim: "role")])

        // An empty list from the environment clears the YAML one.
        let cleared = try load(config(jwt: "audience: [a, b]"), env: ["PORTCULLIS_JWT_AUDIENCE": "", "PORTCULLIS_PROXY_CLAIM_HEADERS": ""])
        XCTAssertEqual(cleared.jwt.audience, [])
        XCTAssertEqual(cleared.proxy.claimHeaders, [])
    }

    func testBadEnvironmentValuesNameTheirVariable() {
        XCTAssertEqual(problems(minimalYAML, env: [
            "PORTCULLIS_PROXY_CLAIM_HEADERS": "X-Auth-Subject=sub,X-Role",
            "PORTCULLIS_JWT_CSRF": "maybe",
            "PORTCULLIS_JWT_LOCATIONS": "",
        ]), [
            problem("proxy.claim_headers", "X-Role", "expected Header=claim (set by PORTCULLIS_PROXY_CLAIM_HEADERS)"),
            problem("jwt.locations", "", "must list at least one item (set by PORTCULLIS_JWT_LOCATIONS)"),
            problem("jwt.csrf", "maybe", "expected a boolean: true/false, yes/no or 1/0 (set by PORTCULLIS_JWT_CSRF)"),
        ])
    }

    func testBooleanSpellings() throws {
        for (written, expected) in [("true", true), ("yes", true), ("1", true), ("false", false), ("no", false), ("0", false), ("False", false)] {
            XCTAssertEqual(try load(config(jwt: "csrf: \(written)")).jwt.csrf, expected, written)
            XCTAssertEqual(try load(minimalYAML, env: ["PORTCULLIS_JWT_CSRF": written]).jwt.csrf, expected, written)
        }
    }

    func testUnknownEnvironmentVariable() {
        XCTAssertEqual(problems(minimalYAML, env: [
            "PORTCULLIS_PROXY_LISTN": "0.0.0.0:1",
            "PORTCULLIS_SOMETHING_ELSE": "x",
            "PORTCULLIS_CONFIG": "/etc/portcullis.yaml",
            "PORTCULLISNOT": "ignored: no underscore after the prefix",
        ]), [
            problem("PORTCULLIS_PROXY_LISTN", nil, "unknown environment variable; did you mean PORTCULLIS_PROXY_LISTEN?"),
            problem("PORTCULLIS_SOMETHING_ELSE", nil, "unknown environment variable"),
        ])
    }

    // MARK: - File shape

    func testUnknownKeyWithSuggestion() {
        let yaml = minimalYAML + """

          secrett: "hunter2-hunter2"
        proxi:
          listen: 1.2.3.4:5
        admin:
          upstream: http://x
          colour: blue
        proxy.threads: 4
        """
        let found = problems(yaml)
        XCTAssertEqual(found, [
            problem("jwt.secrett", nil, "unknown key; did you mean jwt.secret?"),
            problem("proxi", nil, "unknown key; did you mean proxy?"),
            problem("admin.upstream", nil, "unknown key; did you mean proxy.upstream?"),
            problem("admin.colour", nil, "unknown key"),
            problem("proxy.threads", nil, "unknown key; write it nested, as threads under proxy"),
        ])
        XCTAssertFalse(ConfigurationError(problems: found).description.contains("hunter2"))
    }

    func testWrongShapes() {
        let yaml = """
        proxy: [a, b]
        jwt:
          secret: "\(secret32)"
          algorithms: {HS256: yes}
          header_name: [Authorization]
          audience: [[nested]]
        admin:
          listen: {host: x}
        """
        XCTAssertEqual(problems(yaml), [
            problem("proxy", nil, "expected a mapping of proxy.* keys, got a list"),
            problem("jwt.algorithms", "{HS256: yes}", "expected a list of algorithms, got a mapping"),
            problem("jwt.audience", "[[nested]]", "expected a list of audiences, but an item is a list"),
            problem("jwt.header_name", "[Authorization]", "expected a string, got a list"),
            problem("admin.listen", "{host: x}", "expected host:port, got a mapping"),
            problem("proxy.upstream", nil, "is required"),
        ])
        XCTAssertEqual(problems("- just\n- a list\n"), [
            problem("config", nil, "expected a mapping of sections (proxy, jwt, revocation, admin, authz, errors, log, routes), got a list"),
            problem("proxy.upstream", nil, "is required"),
            problem("jwt.secret", nil, "is required by HS256 in jwt.algorithms; set jwt.secret or jwt.secret_file"),
        ])
    }

    func testSingleStringWhereAListIsExpected() throws {
        let configuration = try load(config(proxy: "public_paths: /health", jwt: "audience: my-api\nalgorithms: HS256"))
        XCTAssertEqual(configuration.jwt.audience, ["my-api"])
        XCTAssertEqual(configuration.jwt.algorithms, [.HS256])
        XCTAssertEqual(configuration.proxy.publicPaths, ["/health"])
    }

    func testProblemDescriptionsStayOnOneLine() {
        let found = problems(config(more: "\"bad\\nkey\": 1\nrevocation:\n  jti_key: \"a\\\"b\\nc\""))
        XCTAssertEqual(found.map(\.description), [
            #"bad\nkey: unknown key"#,
            #"revocation.jti_key = "a\"b\nc": must contain {jti}"#,
        ])
    }

    func testInvalidYAMLIsOneProblem() {
        let found = problems("proxy:\n  upstream: [unclosed\n")
        XCTAssertEqual(found.first?.key, "config")
        XCTAssertTrue(found.first?.reason.hasPrefix("invalid YAML: line ") ?? false, found.first?.reason ?? "")
        XCTAssertFalse(found.first?.reason.contains("\n") ?? true)

        let duplicate = problems("proxy:\n  listen: a:1\n  listen: b:2\n")
        XCTAssertEqual(duplicate.first?.key, "config")
        XCTAssertTrue(duplicate.first?.reason.contains("duplicate key \"listen\"") ?? false, duplicate.first?.reason ?? "")
    }

    // MARK: - Many problems at once

    func testEveryProblemIsReportedInOneError() {
        let yaml = """
        proxy:
          upstream: ftp://backend
          connect_timeout: 0s
          max_header_bytes: 10
          public_paths: [login, "/docs/*/x"]
          listn: x
        jwt:
          algorithms: [HS256, RS256]
          secret: tooweak
        revocation:
          jti_key: blocklist
          redis_url: "redis://:hunter2@/0"
        admin:
          listen: 127.0.0.1:8080
          token: tiny
        log:
          level: loud
        """
        let found = problems(yaml)
        XCTAssertEqual(found, [
            problem("proxy.listn", nil, "unknown key; did you mean proxy.listen?"),
            problem("proxy.upstream", "ftp://backend", "expected an http:// or https:// URL"),
            problem("proxy.connect_timeout", "0s", "must be greater than 0"),
            problem("proxy.max_header_bytes", "10", "must be between 1024 and 1048576"),
            problem("proxy.public_paths", "login", "must start with \"/\""),
            problem("proxy.public_paths", "/docs/*/x", "\"*\" is allowed only as the last character"),
            problem("revocation.redis_url", "redis://<redacted>@/0", "the host is missing"),
            problem("revocation.jti_key", "blocklist", "must contain {jti}"),
            problem("log.level", "loud", "expected one of: trace, debug, info, notice, warning, error, critical"),
            problem("jwt.secret", "<redacted>", "HMAC keys shorter than the hash output are refused: HS256 needs at least 32 bytes, this key has 7"),
            problem("jwt.algorithms", "RS256", "needs a verification key: set jwt.public_key_file, jwt.jwks_file or jwt.jwks_url"),
            problem("admin.token", "<redacted>", "must be at least 16 characters, this one has 4"),
            problem("admin.listen", "127.0.0.1:8080", "must differ from proxy.listen (0.0.0.0:8080)"),
        ])
        let text = ConfigurationError(problems: found).description
        XCTAssertEqual(text.split(separator: "\n").count, found.count)
        XCTAssertTrue(text.contains(#"proxy.upstream = "ftp://backend": expected an http:// or https:// URL"#), text)
        XCTAssertFalse(text.contains("hunter2"))
        XCTAssertFalse(text.contains("tooweak"))
        XCTAssertFalse(text.contains("tiny"))
    }

    // MARK: - Secrets

    func testSecretFileHasOneTrailingNewlineStripped() throws {
        let base = "proxy:\n  upstream: http://backend\njwt:\n  secret_file: /s\n"
        XCTAssertEqual(try load(base, files: ["/s": secret32 + "\n"]).jwt.secret, secret32)
        XCTAssertEqual(try load(base, files: ["/s": secret32 + "\r\n"]).jwt.secret, secret32)
        XCTAssertEqual(try load(base, files: ["/s": secret32]).jwt.secret, secret32)
        XCTAssertEqual(try load(base, files: ["/s": secret32 + " \n\n"]).jwt.secret, secret32 + " \n")

        let token = "admin-token-0123456789"
        let admin = try load(config(more: "admin:\n  token_file: /t"), files: ["/t": token + "\n"])
        XCTAssertEqual(admin.admin.token, token)
        XCTAssertEqual(admin.admin.tokenFile, "/t")
    }

    func testUnreadableFilesAreProblemsWithTheOSReason() throws {
        let missing = "/nonexistent-\(UUID().uuidString)/secret"
        // The real file reader, so the reason is whatever this OS says about a missing file.
        do {
            _ = try ConfigurationLoader.load(yaml: "proxy:\n  upstream: http://b\njwt:\n  secret_file: \(missing)\n", environment: [:])
            XCTFail("a missing secret file loaded")
        } catch {
            XCTAssertEqual(error.problems, [problem("jwt.secret_file", missing, "cannot read the file: No such file or directory")])
        }

        let found = problems(config(jwt: "algorithms: [RS256]\npublic_key_file: /keys/pub.pem\njwks_file: /keys/jwks.json"),
                             files: ["/keys/pub.pem": "-----BEGIN PUBLIC KEY-----"])
        XCTAssertEqual(found, [problem("jwt.jwks_file", "/keys/jwks.json", "cannot read the file: No such file or directory")])
    }

    func testSecretAndSecretFileTogetherAreRefused() {
        let yaml = config(jwt: "secret_file: /s", more: "admin:\n  token: \"0123456789abcdefXYZ\"\n  token_file: /t")
        XCTAssertEqual(problems(yaml, files: ["/s": secret32, "/t": "0123456789abcdefXYZ"]), [
            problem("jwt.secret_file", "/s", "jwt.secret and jwt.secret_file are both set; keep one"),
            problem("admin.token_file", "/t", "admin.token and admin.token_file are both set; keep one"),
        ])
    }

    func testShortHMACSecretRefused() throws {
        XCTAssertEqual(problems(minimalYAML.replacingOccurrences(of: secret32, with: String(secret32.dropLast()))), [
            problem("jwt.secret", "<redacted>", "HMAC keys shorter than the hash output are refused: HS256 needs at least 32 bytes, this key has 31"),
        ])
        // The strictest HS algorithm listed sets the bar.
        let forty = String(repeating: "x", count: 40)
        XCTAssertEqual(problems("proxy:\n  upstream: http://b\njwt:\n  algorithms: [HS256, HS512, HS384]\n  secret_file: /s",
                                files: ["/s": forty + "\n"]), [
            problem("jwt.secret_file", "/s", "HMAC keys shorter than the hash output are refused: HS512 needs at least 64 bytes, this key has 40"),
        ])
        XCTAssertEqual(try load(minimalYAML).jwt.secret, secret32)
        // Without an HS algorithm no secret is needed at all.
        XCTAssertNil(try load("proxy:\n  upstream: http://b\njwt:\n  algorithms: [ES256]\n  jwks_url: https://idp.example/jwks").jwt.secret)
    }

    func testSecretsNeverAppearInProblems() {
        let secret = "s3cr3t-value-that-must-not-leak"
        let found = problems(minimalYAML.replacingOccurrences(of: "secret: \"\(secret32)\"", with: "secret: [\(secret)]")
                             + "\nadmin:\n  token: {a: \(secret)}\n")
        XCTAssertEqual(found, [
            problem("jwt.secret", "<redacted>", "expected a string, got a list"),
            problem("admin.token", "<redacted>", "expected a string, got a mapping"),
        ])
    }

    // MARK: - Cross-key checks

    func testCrossKeyChecks() {
        let yaml = """
        proxy:
          upstream: http://b
          listen: 0.0.0.0:9000
          claim_headers: {Authorization: sub}
        jwt:
          secret: "\(secret32)"
          algorithms: [HS256, EdDSA, PS512]
        admin:
          listen: "[::1]:9000"
        """
        XCTAssertEqual(problems(yaml), [
            problem("jwt.algorithms", "EdDSA, PS512", "needs a verification key: set jwt.public_key_file, jwt.jwks_file or jwt.jwks_url"),
            problem("admin.listen", "[::1]:9000", "must differ from proxy.listen (0.0.0.0:9000)"),
            problem("proxy.claim_headers", "Authorization", "is jwt.header_name, which carries the token"),
        ])
    }

    func testListenersMayShareOnlyPortZeroOrDistinctHosts() throws {
        XCTAssertNoThrow(try load(config(proxy: "listen: 127.0.0.1:0", more: "admin:\n  listen: 127.0.0.1:0")))
        XCTAssertNoThrow(try load(config(proxy: "listen: 127.0.0.1:9000", more: "admin:\n  listen: 127.0.0.2:9000")))
    }

    func testClaimHeaderChecks() {
        let yaml = config(proxy: "claim_headers:\n  X-Sub: sub\n  x-sub: sub\n  Bad Header: role\n  Host: iss\n  X-Empty: \"\"")
        XCTAssertEqual(problems(yaml), [
            problem("proxy.claim_headers", "x-sub", "is listed more than once (header names ignore case)"),
            problem("proxy.claim_headers", "Bad Header", "is not a valid HTTP header name"),
            problem("proxy.claim_headers", "Host", "is managed by the proxy and cannot carry a claim"),
            problem("proxy.claim_headers", "X-Empty", "names no claim"),
        ])
    }

    func testClaimHeadersKeepYAMLOrder() throws {
        let configuration = try load(config(proxy: "claim_headers:\n  X-Z: z\n  X-A: a\n  X-M: m"))
        XCTAssertEqual(configuration.proxy.claimHeaders.map(\.header), ["X-Z", "X-A", "X-M"])
    }

    // MARK: - Addresses

    func testListenAddresses() throws {
        XCTAssertEqual(try ConfigValueParsers.listenAddress("[::1]:8080"), ListenAddress(host: "::1", port: 8080))
        XCTAssertEqual(try ConfigValueParsers.listenAddress("localhost:0"), ListenAddress(host: "localhost", port: 0))
        XCTAssertEqual(try ConfigValueParsers.listenAddress("0.0.0.0:65535"), ListenAddress(host: "0.0.0.0", port: 65535))
        let refused: [(String, String)] = [
            ("::1:8080", "write an IPv6 address in brackets, e.g. [::1]:8080"),
            ("host", "expected host:port, e.g. 0.0.0.0:8080"),
            (":8080", "the host is missing"),
            ("h:65536", "the port must be a number from 0 to 65535"),
            ("h:-1", "the port must be a number from 0 to 65535"),
            ("h:", "the port must be a number from 0 to 65535"),
            ("[::1]", "expected host:port, e.g. 0.0.0.0:8080"),
            ("[nothex]:1", "\"nothex\" is not an IPv6 address"),
            ("[::1:1", "missing \"]\" after the IPv6 address"),
            ("ho st:1", "\"ho st\" is not a valid host name or address"),
        ]
        for (text, reason) in refused {
            XCTAssertThrowsError(try ConfigValueParsers.listenAddress(text), text) { error in
                XCTAssertEqual((error as? InvalidConfigValue)?.reason, reason, text)
            }
        }
    }

    func testUpstreamURLs() throws {
        XCTAssertEqual(try ConfigValueParsers.upstreamURL("http://h:1/"), UpstreamURL(host: "h", port: 1, pathPrefix: ""))
        XCTAssertEqual(try ConfigValueParsers.upstreamURL("http://backend"), UpstreamURL(host: "backend", port: 80, pathPrefix: ""))
        XCTAssertEqual(try ConfigValueParsers.upstreamURL("HTTP://b:8000/api/v1/"), UpstreamURL(host: "b", port: 8000, pathPrefix: "/api/v1"))
        XCTAssertEqual(try ConfigValueParsers.upstreamURL("http://[::1]:9000/api"), UpstreamURL(host: "::1", port: 9000, pathPrefix: "/api"))
        XCTAssertEqual(try ConfigValueParsers.upstreamURL("https://b"), UpstreamURL(tls: true, host: "b", port: 443, pathPrefix: ""))
        XCTAssertEqual(try ConfigValueParsers.upstreamURL("https://b:8443/x").description, "https://b:8443/x")
        let refused: [(String, String)] = [
            ("ftp://x", "expected an http:// or https:// URL"),
            ("backend:80", "expected an http:// or https:// URL"),
            ("http://b/api?x=1", "a query or fragment is not allowed in the upstream URL"),
            ("http://b/#frag", "a query or fragment is not allowed in the upstream URL"),
            ("http://user:pw@b", "user information is not allowed in the upstream URL"),
            ("http://b:0", "the port must be a number from 1 to 65535"),
            ("http://", "the host is missing"),
            ("http://b/a b", "the path prefix may hold only URL path characters (percent-encode the rest)"),
        ]
        for (text, reason) in refused {
            XCTAssertThrowsError(try ConfigValueParsers.upstreamURL(text), text) { error in
                XCTAssertEqual((error as? InvalidConfigValue)?.reason, reason, text)
            }
        }
    }

    func testRedisURLs() throws {
        XCTAssertEqual(try ConfigValueParsers.redisURL("redis://cache"),
                       RedisURL(tls: false, host: "cache", port: 6379, database: 0, username: nil, password: nil))
        XCTAssertEqual(try ConfigValueParsers.redisURL("rediss://app:p%40ss%3Aword@cache.internal:6380/3"),
                       RedisURL(tls: true, host: "cache.internal", port: 6380, database: 3, username: "app", password: "p@ss:word"))
        XCTAssertEqual(try ConfigValueParsers.redisURL("redis://:only-pass@10.0.0.1/"),
                       RedisURL(tls: false, host: "10.0.0.1", port: 6379, database: 0, username: nil, password: "only-pass"))
        XCTAssertEqual(try ConfigValueParsers.redisURL("redis://user@[::1]:7000/15"),
                       RedisURL(tls: false, host: "::1", port: 7000, database: 15, username: "user", password: nil))
        let refused: [(String, String)] = [
            ("http://cache", "expected a redis:// or rediss:// URL"),
            ("redis://cache/db1", "the path must be a database number, e.g. /0"),
            ("redis://cache?timeout=1", "query parameters and fragments are not supported"),
            ("redis://u:%zz@cache", "invalid percent-encoding in the user name or password"),
            ("redis://cache:99999", "the port must be a number from 1 to 65535"),
        ]
        for (text, reason) in refused {
            XCTAssertThrowsError(try ConfigValueParsers.redisURL(text), text) { error in
                XCTAssertEqual((error as? InvalidConfigValue)?.reason, reason, text)
            }
        }
    }

    func testRedisPasswordIsRedactedInProblemsAndDescription() {
        XCTAssertEqual(problems(config(more: "revocation:\n  redis_url: \"redis://u:hunter2@cache:notaport\"")), [
            problem("revocation.redis_url", "redis://<redacted>@cache:notaport", "the port must be a number from 1 to 65535"),
        ])
        let url = RedisURL(tls: true, host: "c", port: 1, database: 2, username: "a b", password: "hunter2")
        XCTAssertEqual(url.description, "rediss://a%20b:<redacted>@c:1/2")
    }

    // MARK: - Rendering

    func testRedactedRenderingNeverContainsSecrets() throws {
        let jwtSecret = "jwt-secret-jwt-secret-jwt-secret-jwt-secret"
        let adminToken = "admin-token-admin-token"
        let configuration = try load("""
        proxy:
          upstream: http://backend
        jwt:
          secret: "\(jwtSecret)"
        revocation:
          store: redis
          redis_url: "redis://portcullis:redis-password-123@cache:6379/1"
        admin:
          token: "\(adminToken)"
        """)
        let rendered = configuration.renderedYAML()
        for secret in [jwtSecret, adminToken, "redis-password-123"] {
            XCTAssertFalse(rendered.contains(secret), "rendered YAML leaks \(secret):\n\(rendered)")
        }
        XCTAssertTrue(rendered.contains("  secret: \"<redacted>\"\n"), rendered)
        XCTAssertTrue(rendered.contains("  token: \"<redacted>\"\n"), rendered)
        XCTAssertTrue(rendered.contains("  redis_url: \"redis://portcullis:<redacted>@cache:6379/1\"\n"), rendered)
    }

    func testRenderingShowsEveryKey() throws {
        let rendered = try load(minimalYAML).renderedYAML()
        for key in ConfigurationKey.all {
            let line = ConfigurationKey.topLevelKeys.contains(key.path) ? "\n\(key.path):" : "\n  \(key.name):"
            XCTAssertTrue(rendered.contains(line), "\(key.path) missing from:\n\(rendered)")
        }
        XCTAssertTrue(rendered.contains("\nproxy:\n  listen: \"0.0.0.0:8080\"\n"), rendered)
        XCTAssertTrue(rendered.contains("  max_ttl: 30d\n"), rendered)
        XCTAssertTrue(rendered.contains("  timeout: 100ms\n"), rendered)
        XCTAssertTrue(rendered.contains("  claim_headers:\n    \"X-Auth-Subject\": \"sub\"\n    \"X-Auth-Jti\": \"jti\"\n"), rendered)
    }

    func testRenderedYAMLLoadsBackToAnEqualConfiguration() throws {
        let files = ["/keys/pub.pem": "-----BEGIN PUBLIC KEY-----\n", "/keys/jwks.json": "{\"keys\": []}"]
        let yaml = """
        proxy:
          listen: "[::1]:0"
          upstream: http://backend:8000/api/
          connect_timeout: 1.25
          upstream_timeout: 2m
          max_header_bytes: 4096
          public_paths: [/login, "/docs/*"]
          logout_path: /logout
          claim_headers: {X-User: sub, "X-Odd#Header!": "claim \\"quoted\\"\\nline"}
          threads: 4
        jwt:
          algorithms: [RS256, es384, EdDSA]
          public_key_file: /keys/pub.pem
          jwks_url: https://idp.example/.well-known/jwks.json
          jwks_refresh_interval: 10m
          jwks_min_refetch_interval: 0
          issuer: "https://idp.example/ \\u00e9"
          audience: ["null", "true", "123", "a: b", "#x"]
          leeway: 0.0005
          token_type: any
          locations: [query, cookies, headers]
          header_name: X-Token
          header_type: ""
          cookie_name: tok
          query_param: jwt
          csrf: false
        revocation:
          store: redis
          file: "/var/lib/portcullis/revocations.log"
          redis_url: "rediss://user%40corp@cache:6380/2"
          jti_key: "blocklist:{jti}"
          token_key: "revoked:{token}"
          subject_key: "sub:{sub}"
          max_ttl: 90000
          fail_mode: open
          timeout: 250ms
        admin:
          listen: 127.0.0.1:0
        errors:
          format: rfc6750
        log:
          level: DEBUG
          format: json
        """
        let first = try load(yaml, files: files)
        XCTAssertEqual(first.jwt.leeway, .microseconds(500))
        XCTAssertEqual(first.revocation.maxTTL, .seconds(90000))
        XCTAssertEqual(first.revocation.redisURL.username, "user@corp")
        XCTAssertEqual(first.proxy.claimHeaders.last, .init(header: "X-Odd#Header!", claim: "claim \"quoted\"\nline"))
        let rendered = first.renderedYAML()
        let second = try load(rendered, files: files)
        XCTAssertEqual(second, first, rendered)
        XCTAssertEqual(second.renderedYAML(), rendered)

        // The defaults survive the trip too, and a secret read from a file is rendered as null so the output stays loadable.
        let fromFile = try load("proxy:\n  upstream: http://b\njwt:\n  secret_file: /s\n", files: ["/s": secret32])
        let renderedFromFile = fromFile.renderedYAML()
        XCTAssertTrue(renderedFromFile.contains("  secret: null  # read from jwt.secret_file\n"), renderedFromFile)
        XCTAssertEqual(try load(renderedFromFile, files: ["/s": secret32]), fromFile)
    }

    func testDurationRendering() {
        XCTAssertEqual(ConfigYAMLWriter.durationText(.zero), "0s")
        XCTAssertEqual(ConfigYAMLWriter.durationText(.milliseconds(1500)), "1500ms")
        XCTAssertEqual(ConfigYAMLWriter.durationText(.seconds(90)), "90s")
        XCTAssertEqual(ConfigYAMLWriter.durationText(.seconds(120)), "2m")
        XCTAssertEqual(ConfigYAMLWriter.durationText(.seconds(86_400 * 2)), "2d")
        XCTAssertEqual(ConfigYAMLWriter.durationText(.nanoseconds(1)), "0.000000001")
        XCTAssertEqual(ConfigYAMLWriter.durationText(.microseconds(1500)), "0.0015")
    }

    // MARK: - Config path

    func testResolveConfigPath() {
        let none: (String) -> Bool = { _ in false }
        let all: (String) -> Bool = { _ in true }
        XCTAssertEqual(ConfigurationLoader.resolveConfigPath(explicit: "/a.yaml", environment: ["PORTCULLIS_CONFIG": "/b.yaml"], fileExists: all), "/a.yaml")
        XCTAssertEqual(ConfigurationLoader.resolveConfigPath(explicit: nil, environment: ["PORTCULLIS_CONFIG": "/b.yaml"], fileExists: all), "/b.yaml")
        XCTAssertEqual(ConfigurationLoader.resolveConfigPath(explicit: nil, environment: [:], fileExists: all), "./portcullis.yaml")
        XCTAssertNil(ConfigurationLoader.resolveConfigPath(explicit: nil, environment: [:], fileExists: none))
    }

    func testLoadFromPath() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("portcullis.yaml").path
        try minimalYAML.write(toFile: path, atomically: true, encoding: .utf8)

        XCTAssertEqual(try ConfigurationLoader.load(path: nil, environment: ["PORTCULLIS_CONFIG": path]).jwt.secret, secret32)

        let missing = directory.appendingPathComponent("absent.yaml").path
        XCTAssertThrowsError(try ConfigurationLoader.load(path: missing, environment: [:])) { error in
            XCTAssertEqual((error as? ConfigurationError)?.problems,
                           [problem("config", missing, "cannot read the configuration file: No such file or directory")])
        }
    }

    // MARK: - Robustness

    func testAliasBombIsRefusedNotExpanded() {
        // Each level doubles the last: 2^40 values if expanded.
        var yaml = "bomb0: &a0 [x, x]\n"
        for level in 1...40 { yaml += "bomb\(level): &a\(level) [*a\(level - 1), *a\(level - 1)]\n" }
        XCTAssertEqual(problems(yaml).first,
                       problem("config", nil, "the YAML expands to more than 100000 values (aliases nested too deep?)"))
    }

    /// Every parser meets operator-typed bytes; none may trap, whatever they are.
    func testParsersNeverTrapOnGarbage() {
        var generator = SeededRandom(seed: 0x5EED)
        let alphabet = Array("0123456789.:/@[]%-_ smhdSMHD?#\\\"'{}*,=abcxyz\u{0}\u{85}é\n\r\t").map(String.init)
        for _ in 0..<1500 {
            let length = Int.random(in: 0...24, using: &generator)
            let text = (0..<length).map { _ in alphabet.randomElement(using: &generator) ?? "" }.joined()
            for prefix in ["", "http://", "redis://", "rediss://", "https://"] {
                let input = prefix + text
                _ = try? ConfigValueParsers.duration(input)
                _ = try? ConfigValueParsers.listenAddress(input)
                _ = try? ConfigValueParsers.upstreamURL(input)
                _ = try? ConfigValueParsers.redisURL(input)
                _ = try? ConfigValueParsers.webURL(input)
                _ = try? ConfigValueParsers.pathPattern(input)
                _ = ConfigurationKey.redactingUserinfo(input)
            }
            for yaml in [text, "proxy:\n  listen: \(text)", "\"\(text)\": 1", "jwt:\n  \"\(text)\": x"] {
                do {
                    _ = try load(yaml)
                } catch {
                    // Whatever the input, the report keeps one problem per line.
                    XCTAssertEqual(error.description.split(separator: "\n", omittingEmptySubsequences: false).count,
                                   error.problems.count, yaml)
                }
            }
        }
    }
}

