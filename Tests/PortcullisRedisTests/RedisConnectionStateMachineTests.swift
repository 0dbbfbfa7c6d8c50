import NIOCore
import XCTest
@testable import PortcullisRedis

/// The connection's life, event by event, with no socket.
final class RedisConnectionStateMachineTests: XCTestCase {
    private let a = RedisAddress(host: "10.0.0.1", port: 6379)
    private let b = RedisAddress(host: "10.0.0.2", port: 6379)

    private func ready(at address: RedisAddress) -> RedisConnectionStateMachine {
        var machine = RedisConnectionStateMachine()
        XCTAssertEqual(machine.start(), .resolve)
        XCTAssertEqual(machine.resolved(address), .connect(address))
        XCTAssertEqual(machine.connected(to: address), .startHandshake)
        XCTAssertEqual(machine.handshakeSucceeded(), .becameReady(address))
        XCTAssertTrue(machine.isReady)
        return machine
    }

    func testConnectsThroughResolveConnectHandshake() {
        let machine = ready(at: a)
        XCTAssertEqual(machine.address, a)
        XCTAssertEqual(machine.state, .ready(a))
    }

    func testFailuresBackOffExponentiallyUpToOneSecondAndResetWhenReady() {
        var machine = RedisConnectionStateMachine()
        _ = machine.start()
        var delays: [TimeAmount] = []
        for _ in 0..<7 {
            guard case .dropAndReconnect(_, let delay) = machine.resolveFailed("no sentinel") else {
                return XCTFail("expected a reconnect")
            }
            delays.append(delay)
            XCTAssertEqual(machine.reconnectTimerFired(), .resolve)
        }
        XCTAssertEqual(delays, [50, 100, 200, 400, 800, 1000, 1000].map { TimeAmount.milliseconds($0) })
        XCTAssertEqual(machine.resolved(a), .connect(a))
        XCTAssertEqual(machine.connected(to: a), .startHandshake)
        XCTAssertEqual(machine.handshakeSucceeded(), .becameReady(a))
        XCTAssertEqual(machine.failed("READONLY You can't write against a read only replica."),
                       .dropAndReconnect(reason: "READONLY You can't write against a read only replica.", after: .milliseconds(50)))
    }

    func testARefusedHandshakeOrANonMasterDropsTheChannel() {
        var machine = RedisConnectionStateMachine()
        _ = machine.start()
        _ = machine.resolved(a)
        _ = machine.connected(to: a)
        XCTAssertEqual(machine.failed("not a master"), .dropAndReconnect(reason: "not a master", after: .milliseconds(50)))
        XCTAssertFalse(machine.isReady)
        XCTAssertEqual(machine.state, .waitingToReconnect)
    }

    func testAnAnnouncedMasterMovesAReadyConnectionAtOnce() {
        var machine = ready(at: a)
        XCTAssertEqual(machine.addressChanged(to: a), .none, "already there")
        XCTAssertEqual(machine.addressChanged(to: b), .dropAndReconnect(reason: "master moved to \(b)", after: .zero))
        XCTAssertEqual(machine.reconnectTimerFired(), .resolve)
    }

    func testAnAnnouncedMasterCutsABackoffShort() {
        var machine = ready(at: a)
        _ = machine.channelClosed()
        XCTAssertEqual(machine.state, .waitingToReconnect)
        XCTAssertEqual(machine.addressChanged(to: b), .retryNow)
        XCTAssertEqual(machine.state, .resolving)
        XCTAssertEqual(machine.reconnectTimerFired(), .none, "the cancelled timer is ignored")
    }

    func testAChannelThatArrivesLateIsClosed() {
        var machine = RedisConnectionStateMachine()
        _ = machine.start()
        _ = machine.resolved(a)
        XCTAssertEqual(machine.shutdown(), .shutDown)
        XCTAssertEqual(machine.connected(to: a), .closeStrayChannel)
        XCTAssertEqual(machine.shutdown(), .none)
        XCTAssertEqual(machine.reconnectTimerFired(), .none)
        XCTAssertEqual(machine.channelClosed(), .none)
    }

    func testAChannelForASupersededAddressIsClosed() {
        var machine = RedisConnectionStateMachine()
        _ = machine.start()
        _ = machine.resolved(a)
        XCTAssertEqual(machine.connected(to: b), .closeStrayChannel)
    }

    func testClosedOnlyMattersWhileLive() {
        var machine = RedisConnectionStateMachine()
        XCTAssertEqual(machine.channelClosed(), .none)
        _ = machine.start()
        XCTAssertEqual(machine.channelClosed(), .none, "resolving: no channel yet")
        _ = machine.resolved(a)
        _ = machine.connected(to: a)
        guard case .dropAndReconnect = machine.channelClosed() else { return XCTFail("handshaking: reconnect") }
    }
}
