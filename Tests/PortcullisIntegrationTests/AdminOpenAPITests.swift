import Foundation
import XCTest
import Yams

/// docs/admin-api.openapi.yaml against the live server: every documented (path, method,
/// status) is produced by a real call, and its JSON body fits the documented schema.
final class AdminOpenAPITests: XCTestCase {
    private var spec: [String: Any] = [:]

    override func setUpWithError() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/admin-api.openapi.yaml"), encoding: .utf8)
        spec = try XCTUnwrap(try Yams.load(yaml: text) as? [String: Any])
        XCTAssertEqual(spec["openapi"] as? String, "3.1.0")
    }

    private func resolve(_ node: Any?) -> [String: Any]? {
        guard let node = node as? [String: Any] else { return nil }
        guard let ref = node["$ref"] as? String else { return node }
        var current: Any? = spec
        for part in ref.dropFirst(2).split(separator: "/") { current = (current as? [String: Any])?[String(part)] }
        return resolve(current)
    }

    /// Required members present with the documented types (one level, plus array items).
    private func check(_ value: Any, against schema: [String: Any], at path: String) -> [String] {
        if let options = schema["oneOf"] as? [Any] {
            let results = options.compactMap(resolve).map { check(value, against: $0, at: path) }
            return results.contains { $0.isEmpty } ? [] : ["\(path): fits none of oneOf"]
        }
        var problems: [String] = []
        let types: [String] = (schema["type"] as? [String]) ?? [(schema["type"] as? String)].compactMap { $0 }
        func kind(_ v: Any) -> String {
            if v is NSNull { return "null" }
            if let n = v as? NSNumber {
                if String(cString: n.objCType) == "c" || type(of: v) == Bool.self { return "boolean" }
                return n.doubleValue == n.doubleValue.rounded() ? "integer" : "number"
            }
            if v is String { return "string" }
            if v is [Any] { return "array" }
            return "object"
        }
        let actual = kind(value)
        if !types.isEmpty, !types.contains(actual), !(actual == "integer" && types.contains("number")) {
            problems.append("\(path): \(actual), documented \(types)")
        }
        if let object = value as? [String: Any] {
            for required in schema["required"] as? [String] ?? [] where object[required] == nil {
                problems.append("\(path).\(required): missing")
            }
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for (key, member) in object {
                if let memberSchema = resolve(properties[key]) {
                    problems += check(member, against: memberSchema, at: "\(path).\(key)")
                } else if schema["additionalProperties"] as? Bool == false || !properties.isEmpty {
                    problems.append("\(path).\(key): not documented")
                }
            }
        }
        if let array = value as? [Any], let items = resolve(schema["items"]) {
            for (index, element) in array.enumerated() { problems += check(element, against: items, at: "\(path)[\(index)]") }
        }
        return problems
    }

    func testEveryDocumentedAnswerMatchesTheLiveServerMemory() async throws {
        try await everyDocumentedAnswerMatchesTheLiveServer(.memory)
    }

    func testEveryDocumentedAnswerMatchesTheLiveServerRedis() async throws {
        try await everyDocumentedAnswerMatchesTheLiveServer(.redis)
    }

    private func everyDocumentedAnswerMatchesTheLiveServer(_ kind: StoreUnderTest.Kind) async throws {
        let store = try await StoreUnderTest(kind)
        let h = store.harness
        let auth = [("Authorization", "Bearer \(GatewayHarness.adminToken)")]
        let future = Int(Date().timeIntervalSince1970) + 600
        // (documented path, method, expected status) → how to produce it.
        let calls: [(String, String, Int, () throws -> RawHTTPClient.Response)] = [
            ("/v1/revocations", "post", 201, { try h.adminClient().request("POST", "/v1/revocations", headers: auth, body: #"{"jti": "oa-1", "expires_at": \#(future), "reason": "r"}"#) }),
            ("/v1/revocations", "post", 400, { try h.adminClient().request("POST", "/v1/revocations", headers: auth, body: #"{"jti": 1}"#) }),
            ("/v1/revocations", "post", 401, { try h.adminClient().request("POST", "/v1/revocations", body: "{}") }),
            ("/v1/revocations", "get", 200, { try h.adminClient().request("GET", "/v1/revocations?limit=10", headers: auth) }),
            ("/v1/revocations", "get", 400, { try h.adminClient().request("GET", "/v1/revocations?limit=0", headers: auth) }),
            ("/v1/revocations", "get", 401, { try h.adminClient().request("GET", "/v1/revocations") }),
            ("/v1/revocations/{jti}", "get", 200, { try h.adminClient().request("GET", "/v1/revocations/oa-1", headers: auth) }),
            ("/v1/revocations/{jti}", "get", 404, { try h.adminClient().request("GET", "/v1/revocations/none", headers: auth) }),
            ("/v1/revocations/{jti}", "get", 401, { try h.adminClient().request("GET", "/v1/revocations/oa-1") }),
            ("/v1/revocations/{jti}", "delete", 204, { try h.adminClient().request("DELETE", "/v1/revocations/oa-1", headers: auth) }),
            ("/v1/revocations/{jti}", "delete", 401, { try h.adminClient().request("DELETE", "/v1/revocations/oa-1") }),
            ("/v1/subjects/{sub}/revocations", "post", 201, { try h.adminClient().request("POST", "/v1/subjects/erin/revocations", headers: auth) }),
            ("/v1/subjects/{sub}/revocations", "post", 400, { try h.adminClient().request("POST", "/v1/subjects/erin/revocations", headers: auth, body: #"{"reason": 1}"#) }),
            ("/v1/subjects/{sub}/revocations", "post", 401, { try h.adminClient().request("POST", "/v1/subjects/erin/revocations") }),
            ("/v1/subjects/{sub}/revocations", "delete", 204, { try h.adminClient().request("DELETE", "/v1/subjects/erin/revocations", headers: auth) }),
            ("/v1/subjects/{sub}/revocations", "delete", 401, { try h.adminClient().request("DELETE", "/v1/subjects/erin/revocations") }),
            ("/v1/audit", "get", 200, { try h.adminClient().request("GET", "/v1/audit?limit=10", headers: auth) }),
            ("/v1/audit", "get", 400, { try h.adminClient().request("GET", "/v1/audit?cursor=nope", headers: auth) }),
            ("/v1/audit", "get", 401, { try h.adminClient().request("GET", "/v1/audit") }),
            ("/healthz", "get", 200, { try h.adminClient().request("GET", "/healthz") }),
            ("/readyz", "get", 200, { try h.adminClient().request("GET", "/readyz") }),
            ("/metrics", "get", 200, { try h.adminClient().request("GET", "/metrics") }),
        ]
        let paths = try XCTUnwrap(spec["paths"] as? [String: Any])
        var exercised = Set<String>()
        for (path, method, status, call) in calls {
            let response = try call()
            XCTAssertEqual(response.status, status, "\(kind) \(method) \(path)")
            guard let operation = (paths[path] as? [String: Any])?[method] as? [String: Any],
                  let documented = resolve((operation["responses"] as? [String: Any])?[String(status)])
            else {
                XCTFail("\(method.uppercased()) \(path) → \(status) is not documented")
                continue
            }
            exercised.insert("\(path) \(method) \(status)")
            if let schema = resolve(((documented["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"]) {
                XCTAssertEqual(response.header("content-type"), "application/json", "\(method) \(path) \(status)")
                let body = try JSONSerialization.jsonObject(with: response.body)
                XCTAssertEqual(check(body, against: schema, at: "\(kind) \(method) \(path) \(status)"), [])
            }
        }
        // Everything documented was exercised, except answers the harness cannot provoke (503).
        for (path, item) in paths {
            for (method, operation) in item as? [String: Any] ?? [:] where method != "parameters" {
                for status in ((operation as? [String: Any])?["responses"] as? [String: Any] ?? [:]).keys where status != "503" {
                    XCTAssertTrue(exercised.contains("\(path) \(method) \(status)"), "documented but not checked: \(method) \(path) \(status)")
                }
            }
        }
        await store.stop()
    }
}
