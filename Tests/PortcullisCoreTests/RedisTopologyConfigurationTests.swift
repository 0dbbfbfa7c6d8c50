import Foundation
import XCTest
@testable import PortcullisCore

/// The `revocation.*` keys of Redis Sentinel and replicated acknowledgement, and the
/// contradictions `check-config` refuses, each named by its key.
final class RedisTopologyConfigurationTests: XCTestCase {
    private let base: [String: String] = [
        "PORTCULLIS_PROXY_UPSTREAM": "http://127.0.0.1:9000",
        "PORTCULLIS_JWT_SECRET": "0123456789abcdef0123456789abcdef",
    ]

    private func load(_ env: [String: String]) throws(ConfigurationError) -> Configuration {
        try ConfigurationLoader.load(yaml: nil, environment: base.merging(env) { $1 }, readFile: { _ in throw POSIXError(.ENOENT) })
    }

    private func problems(_ env: [String: String], file: StaticString = #filePath, line: UInt = #line) -> [ConfigurationProblem] {
        do {
            let configuration = try load(env)
            XCTFail("expected a ConfigurationError, loaded \(configuration)", file: file, line: line)
            return []
        } catch {
            return error.problems
        }
    }

    func testDefaults() throws {
        let revocation = try load([:]).revocation
        XCTAssertEqual(revocation.redisSentinels, [])
        XCTAssertEqual(revocation.redisSentinelMaster, "mymaster")
        XCTAssertNil(revocation.redisSentinelPassword)
        XCTAssertEqual(revocation.writeReplicas, 0)
        XCTAssertEqual(revocation.localCache, .off)
        XCTAssertEqual(revocation.localCacheEntries, 1_000_000)
    }

    func testLocalCacheKeys() throws {
        let revocation = try load([
            "PORTCULLIS_REVOCATION_STORE": "redis", "PORTCULLIS_REVOCATION_LOCAL_CACHE": "tracking",
            "PORTCULLIS_REVOCATION_LOCAL_CACHE_ENTRIES": "5000",
        ]).revocation
        XCTAssertEqual(revocation.localCache, .tracking)
        XCTAssertEqual(revocation.localCacheEntries, 5000)
        let found = problems(["PORTCULLIS_REVOCATION_LOCAL_CACHE": "tracking", "PORTCULLIS_REVOCATION_LOCAL_CACHE_ENTRIES": "0"])
        XCTAssertTrue(found.contains { $0.key == "revocation.local_cache" && $0.reason.contains("revocation.store: redis") }, "\(found)")
        XCTAssertTrue(found.contains { $0.key == "revocation.local_cache_entries" }, "\(found)")
        XCTAssertTrue(problems(["PORTCULLIS_REVOCATION_LOCAL_CACHE": "push"]).contains { $0.key == "revocation.local_cache" })
    }

    func testSentinelKeysFromTheEnvironment() throws {
        let revocation = try load([
            "PORTCULLIS_REVOCATION_STORE": "redis",
            "PORTCULLIS_REVOCATION_REDIS_SENTINELS": "10.0.0.1:26379, sentinel-b:26380",
            "PORTCULLIS_REVOCATION_REDIS_SENTINEL_MASTER": "revocations",
            "PORTCULLIS_REVOCATION_REDIS_SENTINEL_PASSWORD": "sentinel-secret",
            "PORTCULLIS_REVOCATION_WRITE_REPLICAS": "2",
        ]).revocation
        XCTAssertEqual(revocation.redisSentinels, [ListenAddress(host: "10.0.0.1", port: 26379),
                                                   ListenAddress(host: "sentinel-b", port: 26380)])
        XCTAssertEqual(revocation.redisSentinelMaster, "revocations")
        XCTAssertEqual(revocation.redisSentinelPassword, "sentinel-secret")
        XCTAssertEqual(revocation.writeReplicas, 2)
    }

    func testBadValuesAreNamedByKey() {
        let found = problems([
            "PORTCULLIS_REVOCATION_STORE": "redis",
            "PORTCULLIS_REVOCATION_REDIS_SENTINELS": "10.0.0.1,host:0",
            "PORTCULLIS_REVOCATION_REDIS_SENTINEL_MASTER": "",
            "PORTCULLIS_REVOCATION_WRITE_REPLICAS": "-1",
        ])
        XCTAssertEqual(found.filter { $0.key == "revocation.redis_sentinels" }.count, 2, "\(found)")
        XCTAssertTrue(found.contains { $0.key == "revocation.redis_sentinel_master" }, "\(found)")
        XCTAssertTrue(found.contains { $0.key == "revocation.write_replicas" }, "\(found)")
    }

    func testClusterKeysAndContradictions() throws {
        let revocation = try load(["PORTCULLIS_REVOCATION_STORE": "redis",
                                   "PORTCULLIS_REVOCATION_REDIS_CLUSTER_NODES": "10.0.0.1:7000,10.0.0.2:7000"]).revocation
        XCTAssertEqual(revocation.redisClusterNodes.count, 2)
        let found = problems([
            "PORTCULLIS_REVOCATION_STORE": "redis",
            "PORTCULLIS_REVOCATION_REDIS_CLUSTER_NODES": "10.0.0.1:7000",
            "PORTCULLIS_REVOCATION_REDIS_SENTINELS": "10.0.0.9:26379",
            "PORTCULLIS_REVOCATION_REDIS_URL": "redis://10.0.0.1:7000/3",
        ])
        XCTAssertTrue(found.contains { $0.key == "revocation.redis_cluster_nodes" && $0.reason.contains("revocation.redis_sentinels") }, "\(found)")
        XCTAssertTrue(found.contains { $0.key == "revocation.redis_url" && $0.reason.contains("db 3") }, "\(found)")
    }

    func testContradictionsAreRefused() {
        let found = problems([
            "PORTCULLIS_REVOCATION_WRITE_REPLICAS": "1",
            "PORTCULLIS_REVOCATION_REDIS_SENTINEL_PASSWORD": "sentinel-secret",
        ])
        XCTAssertTrue(found.contains { $0.key == "revocation.write_replicas" && $0.reason.contains("revocation.store: redis") },
                      "\(found)")
        XCTAssertTrue(found.contains { $0.key == "revocation.redis_sentinel_password" && $0.reason.contains("revocation.redis_sentinels") },
                      "\(found)")
        XCTAssertFalse(found.description.contains("sentinel-secret"), "the password never appears: \(found)")
    }
}
