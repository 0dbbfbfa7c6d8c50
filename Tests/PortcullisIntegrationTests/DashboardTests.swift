import Foundation
import XCTest

/// deploy/grafana/portcullis.json against a live `/metrics`: every metric the dashboard asks
/// for exists, and every label value it selects on is one the gateway emits. A renamed metric
/// or label would otherwise leave an empty panel that nobody notices until an incident.
final class DashboardTests: XCTestCase {
    private struct Selector: Hashable {
        var metric: String
        /// `label="value"` matchers; regex and negative matchers are not checked.
        var equalities: [String: String]
    }

    /// `instance` and `job` come from Prometheus' scrape, not from the process.
    private static let scrapeLabels: Set<String> = ["instance", "job"]

    private func dashboardExpressions() throws -> [String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let data = try Data(contentsOf: root.appendingPathComponent("deploy/grafana/portcullis.json"))
        let dashboard = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(dashboard["uid"] as? String, "portcullis")
        var expressions: [String] = []
        func walk(_ panels: [[String: Any]]) {
            for panel in panels {
                for target in panel["targets"] as? [[String: Any]] ?? [] {
                    if let expr = target["expr"] as? String { expressions.append(expr) }
                }
                walk(panel["panels"] as? [[String: Any]] ?? [])
            }
        }
        walk(dashboard["panels"] as? [[String: Any]] ?? [])
        return expressions
    }

    private func selectors(in expression: String) throws -> [Selector] {
        let pattern = try NSRegularExpression(pattern: #"(portcullis_[a-z_]+)(\{([^}]*)\})?"#)
        let matcher = try NSRegularExpression(pattern: #"([a-z_]+)\s*(=~|!=|!~|=)\s*"([^"]*)""#)
        let text = expression as NSString
        return pattern.matches(in: expression, range: NSRange(location: 0, length: text.length)).map { match in
            var equalities: [String: String] = [:]
            if match.range(at: 3).location != NSNotFound {
                let labels = text.substring(with: match.range(at: 3))
                let labelText = labels as NSString
                for pair in matcher.matches(in: labels, range: NSRange(location: 0, length: labelText.length)) {
                    let name = labelText.substring(with: pair.range(at: 1))
                    guard labelText.substring(with: pair.range(at: 2)) == "=", !Self.scrapeLabels.contains(name) else { continue }
                    equalities[name] = labelText.substring(with: pair.range(at: 3))
                }
            }
            return Selector(metric: text.substring(with: match.range(at: 1)), equalities: equalities)
        }
    }

    /// Series of the exposition text, as metric name and labels.
    private func series(_ text: String) -> [(String, [String: String])] {
        text.split(separator: "\n").compactMap { line -> (String, [String: String])? in
            guard !line.hasPrefix("#"), let nameEnd = line.firstIndex(where: { $0 == "{" || $0 == " " }) else { return nil }
            let name = String(line[..<nameEnd])
            var labels: [String: String] = [:]
            if line[nameEnd] == "{", let close = line.lastIndex(of: "}") {
                for pair in line[line.index(after: nameEnd)..<close].split(separator: ",") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2 else { continue }
                    labels[String(parts[0])] = String(parts[1]).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                }
            }
            return (name, labels)
        }
    }

    func testEveryQueriedMetricAndLabelValueExistsInALiveMetricsPage() async throws {
        let redis = try RedisServer()
        let keys = try KeySetServer(group: GatewayHarness.sharedGroup)
        defer { keys.stop() }
        // Every part that registers metrics: Redis with the local cache, a JWKS URL, forward-auth.
        let h = try await GatewayHarness(environment: [
            "PORTCULLIS_REVOCATION_STORE": "redis", "PORTCULLIS_REVOCATION_REDIS_URL": redis.url,
            "PORTCULLIS_REVOCATION_LOCAL_CACHE": "tracking",
            "PORTCULLIS_JWT_ALGORITHMS": "HS256,ES256", "PORTCULLIS_JWT_JWKS_URL": keys.url,
            "PORTCULLIS_AUTHZ_LISTEN": "127.0.0.1:0",
        ])
        let client = try h.client()
        XCTAssertEqual(try client.request("GET", "/", headers: [("Authorization", "Bearer \(h.token())")]).status, 200)
        XCTAssertEqual(try client.request("GET", "/").status, 401)
        let text = try h.adminClient().request("GET", "/metrics").bodyText
        let live = series(text)

        let expressions = try dashboardExpressions()
        XCTAssertGreaterThan(expressions.count, 10, "the dashboard has its panels")
        var checked = Set<Selector>()
        for expression in expressions {
            let found = try selectors(in: expression)
            XCTAssertFalse(found.isEmpty, "no portcullis metric in: \(expression)")
            for selector in found where checked.insert(selector).inserted {
                let ofMetric = live.filter { $0.0 == selector.metric }
                XCTAssertFalse(ofMetric.isEmpty, "\(selector.metric) is queried by the dashboard but not in /metrics")
                guard !selector.equalities.isEmpty, !ofMetric.isEmpty else { continue }
                let matching = ofMetric.contains { _, labels in
                    selector.equalities.allSatisfy { labels[$0.key] == $0.value }
                }
                XCTAssertTrue(matching, "no \(selector.metric) series with \(selector.equalities) in /metrics")
            }
        }
        // The grouping labels the panels legend by exist too.
        for (metric, label) in [("portcullis_requests_total", "reason"), ("portcullis_requests_total", "error_type"),
                                ("portcullis_requests_total", "outcome"), ("portcullis_tunnels_closed_total", "reason"),
                                ("portcullis_forward_auth_total", "verdict"), ("portcullis_client_timeouts_total", "kind")] {
            XCTAssertTrue(live.contains { $0.0 == metric && $0.1[label] != nil }, "\(metric) has no \(label) label")
        }
        for code in ["unknown_kid", "algorithm_not_allowed", "not_yet_valid", "revoked", "missing_token"] {
            XCTAssertTrue(live.contains { $0.0 == "portcullis_requests_total" && $0.1["reason"] == code },
                          "denials carry the reason code \(code)")
        }
        await h.stop()
    }
}
