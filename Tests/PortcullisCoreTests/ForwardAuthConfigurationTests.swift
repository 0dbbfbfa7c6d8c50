import Foundation
import XCTest
@testable import PortcullisCore

/// `authz.listen` and `authz.deny_status`, and what `deny_status: 401` does to each denial.
final class ForwardAuthConfigurationTests: XCTestCase {
    private let base = """
        proxy:
          upstream: http://127.0.0.1:9000
        jwt:
          secret: "0123456789abcdef0123456789abcdef"

        """

    private func load(_ authz: String, env: [String: String] = [:]) throws(ConfigurationError) -> Configuration {
        try ConfigurationLoader.load(yaml: base + authz, environment: env)
    }

    func testOffByDefault() throws {
        let configuration = try load("")
        XCTAssertNil(configuration.authz.listen)
        XCTAssertEqual(configuration.authz.denyStatus, .authx)
    }

    func testListenAndDenyStatusAsStringOrInteger() throws {
        let integer = try load("authz:\n  listen: \"127.0.0.1:9191\"\n  deny_status: 401\n")
        XCTAssertEqual(integer.authz.listen, ListenAddress(host: "127.0.0.1", port: 9191))
        XCTAssertEqual(integer.authz.denyStatus, .unauthorized)
        XCTAssertEqual(try load("authz:\n  deny_status: \"401\"\n").authz.denyStatus, .unauthorized)
        XCTAssertEqual(try load("", env: ["PORTCULLIS_AUTHZ_DENY_STATUS": "401"]).authz.denyStatus, .unauthorized)
        // An empty value (from the environment too) turns the listener off again.
        XCTAssertNil(try load("authz:\n  listen: \"127.0.0.1:9191\"\n", env: ["PORTCULLIS_AUTHZ_LISTEN": ""]).authz.listen)
    }

    func testBadValuesAreReportedByKey() {
        do {
            _ = try load("authz:\n  listen: \"nowhere\"\n  deny_status: 403\n")
            XCTFail("loaded")
        } catch {
            XCTAssertEqual(Set(error.problems.map(\.key)), ["authz.listen", "authz.deny_status"])
        }
    }

    func testRenderedConfigurationLoadsBack() throws {
        // The rendering redacts the secret; the environment gives it back.
        let secret = ["PORTCULLIS_JWT_SECRET": "0123456789abcdef0123456789abcdef"]
        let configuration = try load("authz:\n  listen: \"127.0.0.1:9191\"\n  deny_status: 401\n")
        XCTAssertEqual(try ConfigurationLoader.load(yaml: configuration.renderedYAML(), environment: secret).authz,
                       configuration.authz)
        let off = try load("")
        XCTAssertEqual(try ConfigurationLoader.load(yaml: off.renderedYAML(), environment: secret).authz, off.authz)
    }

    func testDenyStatusIsLiveAndListenNeedsARestart() throws {
        let running = try load("")
        let new = try load("authz:\n  listen: \"127.0.0.1:9191\"\n  deny_status: 401\n")
        let plan = ConfigurationReload(running: running, new: new)
        XCTAssertEqual(plan.changed, ["authz.deny_status"])
        XCTAssertEqual(plan.needRestart, ["authz.listen"])
    }

    func testDenyStatus401MakesEveryTokenFailureA401AndKeepsTheRest() {
        for denial in Denial.allCases {
            let status = denial.status(in: .authx, denyStatus: .unauthorized)
            if denial == .insufficientScope {
                // A route's missing scopes stay 403, as on the proxy.
                XCTAssertEqual(status, 403)
                XCTAssertEqual(denial.wwwAuthenticate(in: .authx, denyStatus: .unauthorized),
                               denial.wwwAuthenticate(in: .authx))
            } else if denial.isTokenFailure {
                XCTAssertEqual(status, 401, "\(denial)")
                XCTAssertEqual(denial.wwwAuthenticate(in: .authx, denyStatus: .unauthorized),
                               denial == .missingToken ? "Bearer" : #"Bearer error="invalid_token""#, "\(denial)")
            } else {
                XCTAssertEqual(status, denial.status, "\(denial) keeps its status")
                XCTAssertNil(denial.wwwAuthenticate(in: .authx, denyStatus: .unauthorized), "\(denial)")
            }
            // authx leaves the proxy's answer as it is, in both formats.
            for format in ErrorFormat.allCases {
                XCTAssertEqual(denial.status(in: format, denyStatus: .authx), denial.status(in: format))
                XCTAssertEqual(denial.wwwAuthenticate(in: format, denyStatus: .authx), denial.wwwAuthenticate(in: format))
            }
            // rfc6750 already answers 401 with its own header; deny_status changes nothing there.
            XCTAssertEqual(denial.wwwAuthenticate(in: .rfc6750, denyStatus: .unauthorized), denial.wwwAuthenticate(in: .rfc6750))
        }
        XCTAssertEqual(Denial.storeUnavailable.status(in: .authx, denyStatus: .unauthorized), 503)
        XCTAssertEqual(Denial.badSignature.status(in: .authx, denyStatus: .authx), 422)
    }
}
