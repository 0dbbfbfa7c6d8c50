import NIOCore
import XCTest
@testable import PortcullisProxy

/// The forward-auth connection without a socket: heads framed, bodies discarded, answers in
/// order, keep-alive and close.
final class ForwardAuthConnectionStateMachineTests: XCTestCase {
    private static let configuration = ForwardAuthConnectionStateMachine.Configuration(
        maxHeaderBytes: 1024, requestParser: RequestHeadParser(limits: .init(maxFields: 100, maxTargetBytes: 512)),
        badRequest: ByteBuffer(string: "400"), headerTooLarge: ByteBuffer(string: "431"), uriTooLong: ByteBuffer(string: "414"))

    private enum Seen: Equatable {
        case decide(target: String)
        case write(String)
        case close(String?)
    }

    private func drain(_ machine: inout ForwardAuthConnectionStateMachine) -> [Seen] {
        var seen: [Seen] = []
        while let action = machine.nextAction() {
            switch action {
            case .decide(let head, let bytes):
                seen.append(.decide(target: RequestHeadView(head: head, bytes: bytes).target))
            case .write(let bytes): seen.append(.write(String(buffer: bytes)))
            case .close(let bytes): seen.append(.close(bytes.map { String(buffer: $0) }))
            }
        }
        return seen
    }

    func testKeepAliveRequestsAreDecidedOneAfterTheOther() {
        var machine = ForwardAuthConnectionStateMachine(configuration: Self.configuration)
        machine.read(ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"))
        XCTAssertEqual(drain(&machine), [.decide(target: "/a")], "the pipelined request waits for the first answer")
        XCTAssertFalse(machine.closesAfterAnswer)
        machine.answered(ByteBuffer(string: "A"), serial: machine.serial)
        XCTAssertEqual(drain(&machine), [.write("A"), .decide(target: "/b")])
        machine.answered(ByteBuffer(string: "B"), serial: machine.serial)
        XCTAssertEqual(drain(&machine), [.write("B")])
        XCTAssertTrue(machine.isIdle)
    }

    func testALateVerdictForAnEarlierRequestIsIgnored() {
        var machine = ForwardAuthConnectionStateMachine(configuration: Self.configuration)
        machine.read(ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"))
        _ = drain(&machine)
        machine.answered(ByteBuffer(string: "stale"), serial: machine.serial - 1)
        XCTAssertEqual(drain(&machine), [])
    }

    func testABodyIsDiscardedBeforeTheNextRequest() {
        var machine = ForwardAuthConnectionStateMachine(configuration: Self.configuration)
        machine.read(ByteBuffer(string: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234"))
        XCTAssertEqual(drain(&machine), [.decide(target: "/a")])
        machine.answered(ByteBuffer(string: "A"), serial: machine.serial)
        XCTAssertEqual(drain(&machine), [.write("A")], "answered before the body is complete")
        // The rest of the body, then a request whose line would look like body bytes otherwise.
        machine.read(ByteBuffer(string: "56789GET /b HTTP/1.1\r\nHost: x\r\n\r\n"))
        XCTAssertEqual(drain(&machine), [.decide(target: "/b")])
    }

    func testAChunkedBodyIsDiscarded() {
        var machine = ForwardAuthConnectionStateMachine(configuration: Self.configuration)
        machine.read(ByteBuffer(string: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"))
        XCTAssertEqual(drain(&machine), [.decide(target: "/a")])
        machine.answered(ByteBuffer(string: "A"), serial: machine.serial)
        machine.read(ByteBuffer(string: "0\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"))
        XCTAssertEqual(drain(&machine), [.write("A"), .decide(target: "/b")])
    }

    func testConnectionCloseAndHTTP10CloseAfterTheAnswer() {
        for request in ["GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "GET /a HTTP/1.0\r\n\r\n"] {
            var machine = ForwardAuthConnectionStateMachine(configuration: Self.configuration)
            machine.read(ByteBuffer(string: request))
            XCTAssertEqual(drain(&machine), [.decide(target: "/a")])
            XCTAssertTrue(machine.closesAfterAnswer)
            machine.answered(ByteBuffer(string: "A"), serial: machine.serial)
            XCTAssertEqual(drain(&machine), [.close("A")])
        }
    }

    func testMalformedAndOversizedHeadsAreAnsweredAndClosed() {
        var machine = ForwardAuthConnectionStateMachine(configuration: Self.configuration)
        machine.read(ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"))
        XCTAssertEqual(drain(&machine), [.close("400")])

        var large = ForwardAuthConnectionStateMachine(configuration: Self.configuration)
        large.read(ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: x\r\nX-Pad: " + String(repeating: "p", count: 2000)))
        XCTAssertEqual(drain(&large), [.close("431")])
    }

    func testQuiesceClosesAnIdleConnectionAtOnceAndABusyOneAfterItsAnswer() {
        var idle = ForwardAuthConnectionStateMachine(configuration: Self.configuration)
        idle.quiesce()
        XCTAssertEqual(drain(&idle), [.close(nil)])

        var busy = ForwardAuthConnectionStateMachine(configuration: Self.configuration)
        busy.read(ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"))
        _ = drain(&busy)
        busy.quiesce()
        XCTAssertEqual(drain(&busy), [])
        XCTAssertTrue(busy.closesAfterAnswer)
        busy.answered(ByteBuffer(string: "A"), serial: busy.serial)
        XCTAssertEqual(drain(&busy), [.close("A")])
    }
}
