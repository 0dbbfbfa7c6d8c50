import NIOCore
import PortcullisCore
import XCTest
@testable import PortcullisProxy

/// Drives the connection state machine with no socket: bytes in, actions out, time injected.
final class ProxyConnectionStateMachineTests: XCTestCase {
    private let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    private let renderer = DenialRenderer(format: .authx)

    private func makeMachine(headerReadTimeout: TimeAmount = .seconds(10), idleTimeout: TimeAmount = .seconds(60))
        -> ProxyConnectionStateMachine {
        ProxyConnectionStateMachine(
            configuration: .init(maxHeaderBytes: 32768,
                                 requestParser: RequestHeadParser(limits: .init(maxFields: 100, maxTargetBytes: 8192)),
                                 headerReadTimeout: headerReadTimeout, idleTimeout: idleTimeout),
            renderer: renderer, now: start)
    }

    /// The actions queued so far, as short names (payloads as text where they matter).
    private func take(_ machine: inout ProxyConnectionStateMachine) -> [String] {
        var names: [String] = []
        while let action = machine.nextAction() {
            switch action {
            case .decide: names.append("decide")
            case .acquireUpstream: names.append("acquireUpstream")
            case .connectUpstream: names.append("connectUpstream")
            case .writeUpstream(let bytes): names.append("writeUpstream(\(String(buffer: bytes)))")
            case .flushUpstream: names.append("flushUpstream")
            case .releaseUpstream: names.append("releaseUpstream")
            case .closeUpstream: names.append("closeUpstream")
            case .pauseUpstreamReads: names.append("pauseUpstreamReads")
            case .resumeUpstreamReads: names.append("resumeUpstreamReads")
            case .writeClient(let bytes): names.append("writeClient(\(String(buffer: bytes)))")
            case .flushClient: names.append("flushClient")
            case .closeClient(let bytes): names.append("closeClient(\(bytes.map { String(buffer: $0) } ?? ""))")
            case .resumeClientReads: names.append("resumeClientReads")
            case .scheduleTimer: names.append("scheduleTimer")
            case .exchangeEnded(let status, let forwarded): names.append("ended(\(status),\(forwarded))")
            case .count(let event): names.append("count(\(event))")
            case .upstreamFailed(let denial): names.append("upstreamFailed(\(denial))")
            case .tunnelOpened: names.append("tunnelOpened")
            case .recheckTunnel: names.append("recheckTunnel")
            }
        }
        return names
    }

    private func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    /// Brings a request to the point where its head was written upstream.
    private func forward(_ machine: inout ProxyConnectionStateMachine, _ request: String, at now: NIODeadline) -> [String] {
        machine.clientRead(bytes(request), now: now)
        var actions = take(&machine)
        XCTAssertTrue(actions.contains("decide"), "\(actions)")
        machine.requestAdmitted(upstreamHead: bytes("UPSTREAM-HEAD"), upstreamTimeout: .seconds(30))
        actions += take(&machine)
        XCTAssertTrue(actions.contains("acquireUpstream"), "\(actions)")
        machine.upstreamAttached(reused: false, writable: true, now: now)
        return actions + take(&machine)
    }

    func testForwardsAndRelaysAResponse() {
        var machine = makeMachine()
        _ = take(&machine)
        let actions = forward(&machine, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", at: start)
        XCTAssertTrue(actions.contains("writeUpstream(UPSTREAM-HEAD)"))
        machine.upstreamRead(bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"), now: start)
        let relayed = take(&machine)
        XCTAssertEqual(relayed, ["writeClient(HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok)",
                                 "releaseUpstream", "ended(200,true)", "flushClient"], "a small body goes out with its head")
        XCTAssertFalse(machine.isClosed)
    }

    func testPipelinedRequestWaitsForTheCurrentResponse() {
        var machine = makeMachine()
        _ = take(&machine)
        let actions = forward(&machine, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n", at: start)
        XCTAssertEqual(actions.filter { $0 == "decide" }.count, 1, "the second request waits")
        XCTAssertFalse(machine.readsAllowed, "reading pauses while a pipelined request waits")
        machine.upstreamRead(bytes("HTTP/1.1 204 No Content\r\n\r\n"), now: start)
        let next = take(&machine)
        XCTAssertTrue(next.contains("ended(204,true)"))
        XCTAssertTrue(next.contains("decide"), "the second request is handed to the gate after the first: \(next)")
        XCTAssertLessThan(next.firstIndex(of: "ended(204,true)")!, next.firstIndex(of: "decide")!)
    }

    func testEarlyUpstreamAnswerBeforeTheBodyEndsClosesBoth() {
        var machine = makeMachine()
        _ = take(&machine)
        let actions = forward(&machine, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc", at: start)
        XCTAssertTrue(actions.contains("writeUpstream(abc)"))
        machine.upstreamRead(bytes("HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n"), now: start)
        let answered = take(&machine)
        XCTAssertEqual(answered, ["writeClient(HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n)",
                                  "closeUpstream", "ended(413,true)", "closeClient()"])
    }

    func testUpstreamCloseMidBodyClosesTheClient() {
        var machine = makeMachine()
        _ = take(&machine)
        _ = forward(&machine, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", at: start)
        machine.upstreamRead(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), now: start)
        _ = take(&machine)
        machine.upstreamClosed(now: start)
        XCTAssertEqual(take(&machine), ["closeUpstream", "closeClient()"])
        XCTAssertTrue(machine.isClosed)
    }

    func testUpstreamCloseBeforeAnyAnswerIsA502OrOneRetry() {
        var machine = makeMachine()
        _ = take(&machine)
        machine.clientRead(bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), now: start)
        _ = take(&machine)
        machine.requestAdmitted(upstreamHead: bytes("H"), upstreamTimeout: .seconds(30))
        _ = take(&machine)
        machine.upstreamAttached(reused: true, writable: true, now: start)
        _ = take(&machine)
        machine.upstreamClosed(now: start)
        XCTAssertEqual(take(&machine), ["connectUpstream"], "a reused connection that closed is retried once")
        machine.upstreamAttached(reused: false, writable: true, now: start)
        _ = take(&machine)
        machine.upstreamClosed(now: start)
        XCTAssertEqual(take(&machine), ["upstreamFailed(upstreamUnavailable)"])
        machine.answerUpstreamFailure(renderer.rendering(.upstreamUnavailable), now: start)
        let answer = take(&machine)
        XCTAssertTrue(answer.contains("ended(502,false)"))
        XCTAssertTrue(answer.contains { $0.hasPrefix("writeClient(HTTP/1.1 502") }, "\(answer)")
    }

    func testClientCloseMidBodyClosesTheUpstream() {
        var machine = makeMachine()
        _ = take(&machine)
        _ = forward(&machine, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc", at: start)
        machine.clientClosed()
        XCTAssertEqual(take(&machine), ["closeUpstream"])
    }

    func testMalformedChunkWithTheHeadIsA502() {
        var machine = makeMachine()
        _ = take(&machine)
        _ = forward(&machine, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", at: start)
        machine.upstreamRead(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), now: start)
        XCTAssertEqual(take(&machine), ["count(malformedResponse)", "closeUpstream", "upstreamFailed(upstreamUnavailable)"])
    }

    func testCloseDelimitedResponseIsReframedForAKeepAliveClient() {
        var machine = makeMachine()
        _ = take(&machine)
        _ = forward(&machine, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", at: start)
        machine.upstreamRead(bytes("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello"), now: start)
        XCTAssertEqual(take(&machine), [
            "writeClient(HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n)",
            "writeClient(5\r\n)", "writeClient(hello)", "writeClient(\r\n)",
        ])
        machine.upstreamClosed(now: start)
        XCTAssertEqual(take(&machine), ["writeClient(0\r\n\r\n)", "ended(200,true)", "flushClient"])
        XCTAssertFalse(machine.isClosed, "the client's connection stays usable")
    }

    func testUnrequestedUpgradeIsA502() {
        var machine = makeMachine()
        _ = take(&machine)
        _ = forward(&machine, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", at: start)
        machine.upstreamRead(bytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"), now: start)
        XCTAssertEqual(take(&machine), ["count(malformedResponse)", "closeUpstream", "upstreamFailed(upstreamUnavailable)"])
    }

    func testDeniedRequestWithABodyDropsTheBodyAndKeepsTheConnection() {
        var machine = makeMachine()
        _ = take(&machine)
        machine.clientRead(bytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nab"), now: start)
        _ = take(&machine)
        machine.requestDenied(renderer.rendering(.missingToken), now: start)
        let denied = take(&machine)
        XCTAssertTrue(denied.contains { $0.hasPrefix("writeClient(HTTP/1.1 401") }, "\(denied)")
        XCTAssertTrue(machine.readsAllowed, "the rest of the body is read to be dropped")
        machine.clientRead(bytes("cdefGET / HTTP/1.1\r\nHost: a\r\n\r\n"), now: start)
        XCTAssertEqual(take(&machine), ["decide"], "the next request follows the dropped body")
    }

    func testConnectionIsReusedAfterADenial() {
        var machine = makeMachine()
        _ = take(&machine)
        machine.clientRead(bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), now: start)
        _ = take(&machine)
        machine.requestDenied(renderer.rendering(.missingToken), now: start)
        _ = take(&machine)
        XCTAssertTrue(machine.readsAllowed)
        machine.clientRead(bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), now: start)
        XCTAssertEqual(take(&machine), ["decide"])
    }

    func testCONNECTAndAbsoluteFormAreRefusedWithJSON() {
        for request in ["CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n"] {
            var machine = makeMachine()
            _ = take(&machine)
            machine.clientRead(bytes(request), now: start)
            let actions = take(&machine)
            XCTAssertEqual(actions.count, 2, "\(actions)")
            XCTAssertTrue(actions.last!.hasPrefix("closeClient(HTTP/1.1 400"), "\(actions)")
            XCTAssertTrue(actions.last!.contains(#""error_type": "BadRequest""#))
        }
    }

    // MARK: Timeouts

    func testHeaderReadTimeoutAnswers408() {
        var machine = makeMachine(headerReadTimeout: .seconds(5))
        XCTAssertEqual(take(&machine), ["scheduleTimer"])
        machine.clientRead(bytes("GET / HTTP/1.1\r\nHo"), now: start + .seconds(1))
        _ = take(&machine)
        machine.timerFired(now: start + .seconds(4))
        XCTAssertEqual(take(&machine), ["scheduleTimer"], "not yet")
        machine.timerFired(now: start + .seconds(5))
        let actions = take(&machine)
        XCTAssertEqual(actions.first, "count(headerReadTimeout)")
        XCTAssertTrue(actions.last!.hasPrefix("closeClient(HTTP/1.1 408"))
    }

    func testIdleKeepAliveConnectionCloses() {
        var machine = makeMachine(idleTimeout: .seconds(60))
        _ = take(&machine)
        _ = forward(&machine, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", at: start)
        machine.upstreamRead(bytes("HTTP/1.1 204 No Content\r\n\r\n"), now: start + .seconds(1))
        _ = take(&machine)
        machine.timerFired(now: start + .seconds(10))
        _ = take(&machine)
        machine.timerFired(now: start + .seconds(61))
        XCTAssertEqual(take(&machine), ["count(idleTimeout)", "closeClient()"])
    }

    func testStalledBodyCloses() {
        var machine = makeMachine(idleTimeout: .seconds(3))
        _ = take(&machine)
        _ = forward(&machine, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc", at: start)
        machine.timerFired(now: start + .seconds(3))
        let actions = take(&machine)
        XCTAssertEqual(actions, ["count(bodyStallTimeout)", "closeClient()"])
    }

    func testUpstreamTimeoutIs504() {
        var machine = makeMachine()
        _ = take(&machine)
        _ = forward(&machine, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", at: start)
        machine.timerFired(now: start + .seconds(31))
        let actions = take(&machine)
        XCTAssertEqual(Array(actions.prefix(2)), ["closeUpstream", "upstreamFailed(upstreamTimeout)"])
    }

    func testOneTimerServesManyRequests() {
        var machine = makeMachine()
        var schedules = take(&machine).filter { $0 == "scheduleTimer" }.count
        for index in 0..<100 {
            let now = start + .milliseconds(Int64(index))
            let actions = forward(&machine, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", at: now)
            machine.upstreamRead(bytes("HTTP/1.1 204 No Content\r\n\r\n"), now: now)
            schedules += (actions + take(&machine)).filter { $0 == "scheduleTimer" }.count
        }
        XCTAssertLessThanOrEqual(schedules, 2, "the timer is not rescheduled per request")
    }

    // MARK: Drain

    func testQuiesceClosesAnIdleConnectionAtOnce() {
        var machine = makeMachine()
        _ = take(&machine)
        machine.quiesce()
        XCTAssertEqual(take(&machine), ["closeClient()"])
    }

    func testQuiesceLetsTheCurrentResponseFinishThenCloses() {
        var machine = makeMachine()
        _ = take(&machine)
        _ = forward(&machine, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", at: start)
        machine.quiesce()
        XCTAssertEqual(take(&machine), [])
        machine.upstreamRead(bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), now: start)
        XCTAssertEqual(take(&machine), ["writeClient(HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok)",
                                        "releaseUpstream", "ended(200,true)", "closeClient()"])
    }
}
