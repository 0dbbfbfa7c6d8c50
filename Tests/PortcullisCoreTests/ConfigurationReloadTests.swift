@testable import PortcullisCore
import XCTest

/// The reload decision: which changes apply at once and which wait for a restart.
final class ConfigurationReloadTests: XCTestCase {
    static let minimal = "proxy: {upstream: \"http://127.0.0.1:9\"}\njwt: {secret: \(String(repeating: "s", count: 40))}"

    func testLiveKeysAreRealKeys() {
        let known = Set(ConfigurationKey.all.map(\.path))
        XCTAssertEqual(ConfigurationReload.liveKeys.subtracting(known), [])
    }

    /// Every key is either live (applied by a reload) or bound at start (reported): a key in
    /// `liveKeys` that `ConfigurationReload` forgot to copy would show up as needing a restart.
    func testEveryLiveKeyIsAppliedAndEveryOtherKeyIsReported() throws {
        let running = try ConfigurationLoader.load(yaml: Self.minimal, environment: [:])
        let changedYAML = """
            proxy:
              listen: "127.0.0.1:9000"
              upstream: "http://127.0.0.1:9001/app"
              connect_timeout: 3s
              upstream_timeout: 31s
              max_header_bytes: 9999
              public_paths: ["/health"]
              logout_path: /logout
              claim_headers: {X-Sub: sub}
              threads: 2
              cors_preflight: authenticate
            jwt:
              algorithms: [HS512]
              secret: "\(String(repeating: "t", count: 64))"
              issuer: https://issuer
              audience: [api]
              leeway: 5s
              token_type: any
              locations: [cookies, headers]
              header_name: X-Token
              header_type: Token
              cookie_name: c
              query_param: q
              csrf: false
            revocation:
              fail_mode: open
              store: redis
              redis_url: redis://127.0.0.1:6390/2
              jti_key: "x:{jti}"
              max_ttl: 2d
              timeout: 1s
            admin:
              listen: "127.0.0.1:9002"
              token: "\(String(repeating: "a", count: 20))"
            errors:
              format: rfc6750
            log:
              level: debug
            routes:
              - {path: /refresh, token_type: refresh}
            """
        let new = try ConfigurationLoader.load(yaml: changedYAML, environment: [:])
        let reload = ConfigurationReload(running: running, new: new)
        let changedKeys = Set(new.keysDiffering(from: running))
        XCTAssertEqual(Set(reload.changed), changedKeys.intersection(ConfigurationReload.liveKeys))
        XCTAssertEqual(Set(reload.needRestart), changedKeys.subtracting(ConfigurationReload.liveKeys))
        XCTAssertTrue(reload.needRestart.contains("proxy.listen"))
        XCTAssertTrue(reload.changed.contains("jwt.secret"), "secrets are compared by value, not by their redaction")
        XCTAssertEqual(reload.applied.proxy.listen, running.proxy.listen)
        XCTAssertEqual(reload.applied.jwt.secret, new.jwt.secret)
        XCTAssertTrue(reload.changed.contains("routes"), "routes apply live")
        XCTAssertTrue(reload.changed.contains("proxy.cors_preflight"))
        XCTAssertEqual(reload.applied.routes, new.routes)
    }

    func testJWKSFileAndURLTogetherAreRefused() {
        XCTAssertThrowsError(try ConfigurationLoader.load(
            yaml: "proxy: {upstream: \"http://b\"}\njwt: {algorithms: [ES256], jwks_file: /k.json, jwks_url: \"https://idp/jwks\"}",
            environment: [:])) { error in
            let problems = (error as? ConfigurationError)?.problems.map(\.description) ?? []
            XCTAssertTrue(problems.contains { $0.contains("jwt.jwks_url") && $0.contains("not both") }, "\(problems)")
        }
    }

    func testHSKeysMayComeFromAJWKSAlone() throws {
        let configuration = try ConfigurationLoader.load(
            yaml: "proxy: {upstream: \"http://b\"}\njwt: {algorithms: [HS256], jwks_url: \"https://idp/jwks\"}", environment: [:])
        XCTAssertNil(configuration.jwt.secret)
    }

    func testNoChangeIsNoChange() throws {
        let running = try ConfigurationLoader.load(yaml: Self.minimal, environment: [:])
        let reload = ConfigurationReload(running: running, new: running)
        XCTAssertEqual(reload.changed, [])
        XCTAssertEqual(reload.needRestart, [])
        XCTAssertEqual(reload.applied, running)
    }
}
