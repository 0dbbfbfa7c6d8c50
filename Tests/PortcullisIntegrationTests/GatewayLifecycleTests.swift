import Foundation
import Logging
import PortcullisCore
import PortcullisGateway
import XCTest

/// Starting and stopping the in-process gateway, in either order.
final class GatewayLifecycleTests: XCTestCase {
    /// A caller that starts `run` in a task and stops at once can call `shutdown` before `run`
    /// built its service group; `run` must still end, not serve forever (tests that finished
    /// quickly on a loaded machine used to hang in their tear-down this way).
    func testAShutdownBeforeRunStillEndsRun() async throws {
        let upstream = try TestUpstream(group: GatewayHarness.sharedGroup)
        defer { upstream.stop() }
        let directory = try GatewayHarness.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let configuration = try ConfigurationLoader.load(yaml: """
            proxy: {listen: "127.0.0.1:0", upstream: "http://127.0.0.1:\(upstream.port)"}
            jwt: {secret: "\(GatewayHarness.secret)"}
            revocation: {file: "\(directory.path)/revocations.log"}
            admin: {listen: "127.0.0.1:0"}
            """, environment: [:])
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let gateway = try await Gateway(configuration: configuration, group: GatewayHarness.sharedGroup, logger: logger)
        await gateway.shutdown()
        let ended = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { try await gateway.run(signals: false); return true }
            group.addTask { try await Task.sleep(nanoseconds: 20_000_000_000); return false }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
        XCTAssertTrue(ended, "run() kept serving after an early shutdown()")
    }
}
