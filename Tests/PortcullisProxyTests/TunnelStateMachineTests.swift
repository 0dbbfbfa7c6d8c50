import NIOCore
import PortcullisCore
import XCTest
@testable import PortcullisProxy

/// The tunnel transitions of the connection state machine, with no socket: a WebSocket
/// handshake, the 101, bytes both ways, backpressure, rechecks, expiry, the ends.
final class TunnelStateMachineTests: XCTestCase {
    private let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    private let renderer = DenialRenderer(format: .authx)
    private let handshake = "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    private let switching = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"

    private func makeMachine(webSockets: Bool = true, recheck: TimeAmount = .seconds(30),
                             idleTimeout: TimeAmount = .seconds(60)) -> ProxyConnectionStateMachine {
        ProxyConnectionStateMachine(
            configuration: .init(maxHeaderBytes: 32768,
                                 requestParser: RequestHeadParser(limits: .init(maxFields: 100, maxTargetBytes: 8192)),
                                 headerReadTimeout: .seconds(10), idleTimeout: idleTimeout,
                                 webSockets: webSockets, tunnelRecheckInterval: recheck),
            renderer: renderer, now: start)
    }

    private func take(_ machine: inout ProxyConnectionStateMachine) -> [String] {
        var names: [String] = []
        while let action = machine.nextAction() {
            switch action {
            case .writeUpstream(let bytes): names.append("writeUpstream(\(String(buffer: bytes)))")
            case .writeClient(let bytes): names.append("writeClient(\(String(buffer: bytes)))")
            case .closeClient(let bytes): names.append("closeClient(\(bytes.map { String(buffer: $0) } ?? ""))")
            case .exchangeEnded(let status, let forwarded): names.append("ended(\(status),\(forwarded))")
            case .count(let event): names.append("count(\(event))")
            case .upstreamFailed(let denial): names.append("upstreamFailed(\(denial))")
            case .scheduleTimer: names.append("scheduleTimer")
            default: names.append("\(action)")
            }
        }
        return names
    }

    private func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    /// The handshake admitted and written upstream; returns the machine waiting for the answer.
    private func forwardHandshake(_ machine: inout ProxyConnectionStateMachine, extra: String = "") {
        _ = take(&machine)
        machine.clientRead(bytes(handshake + extra), now: start)
        XCTAssertEqual(take(&machine), ["decide"])
        XCTAssertTrue(machine.tunnelRequested)
        machine.requestAdmitted(upstreamHead: bytes("UPSTREAM-HEAD"), upstreamTimeout: .seconds(30))
        _ = take(&machine)
        machine.upstreamAttached(reused: false, writable: true, now: start)
        _ = take(&machine)
    }

    /// A tunnel open and armed (token checked every 30 s, expiring at `expiry`).
    private func openTunnel(_ machine: inout ProxyConnectionStateMachine, expiry: NIODeadline? = nil,
                            checksToken: Bool = true) {
        forwardHandshake(&machine)
        machine.upstreamRead(bytes(switching), now: start)
        XCTAssertEqual(take(&machine).last, "tunnelOpened")
        XCTAssertTrue(machine.isTunnel)
        machine.tunnelArmed(checksToken: checksToken, tokenExpiresAt: expiry, now: start)
        _ = take(&machine)
    }

    func testA101ToAWebSocketHandshakeOpensATunnel() {
        var machine = makeMachine()
        forwardHandshake(&machine)
        machine.upstreamRead(bytes(switching + "\u{81}\u{02}hi"), now: start)
        XCTAssertEqual(take(&machine), [
            "writeClient(HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                + "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n)",
            "writeClient(\u{81}\u{02}hi)", "flushClient", "ended(101,true)", "tunnelOpened",
        ])
        XCTAssertTrue(machine.isTunnel)
        XCTAssertTrue(machine.readsAllowed)
    }

    func testBytesGoBothWaysUnchanged() {
        var machine = makeMachine()
        openTunnel(&machine)
        // Bytes that would be a malformed request are only bytes now.
        machine.clientRead(bytes("\r\n\r\nGET garbage"), now: start)
        machine.clientReadComplete()
        XCTAssertEqual(take(&machine), ["writeUpstream(\r\n\r\nGET garbage)", "flushUpstream"])
        machine.upstreamRead(bytes("HTTP/1.1 200 not a response"), now: start)
        machine.upstreamReadComplete()
        XCTAssertEqual(take(&machine), ["writeClient(HTTP/1.1 200 not a response)", "flushClient"])
    }

    func testFramesTheClientSentBeforeThe101FollowIt() {
        var machine = makeMachine()
        forwardHandshake(&machine, extra: "early")
        XCTAssertFalse(machine.readsAllowed, "bytes after the head wait for the answer")
        machine.upstreamRead(bytes(switching), now: start)
        let actions = take(&machine)
        XCTAssertTrue(actions.contains("writeUpstream(early)"), "\(actions)")
        XCTAssertEqual(actions.suffix(2), ["tunnelOpened", "resumeClientReads"])
    }

    func testEachSidePausesTheOthersReadsWhileItCannotWrite() {
        var machine = makeMachine()
        openTunnel(&machine)
        machine.upstreamWritabilityChanged(writable: false, now: start)
        XCTAssertFalse(machine.readsAllowed, "the client is not read while the upstream is full")
        machine.upstreamWritabilityChanged(writable: true, now: start)
        XCTAssertEqual(take(&machine), ["resumeClientReads"])
        XCTAssertTrue(machine.readsAllowed)
        machine.clientWritabilityChanged(writable: false)
        machine.clientWritabilityChanged(writable: true)
        XCTAssertEqual(take(&machine), ["pauseUpstreamReads", "resumeUpstreamReads"])
    }

    func testEitherSideClosingClosesTheOther() {
        var client = makeMachine()
        openTunnel(&client)
        client.clientClosed()
        XCTAssertEqual(take(&client), ["count(tunnelClosed(PortcullisProxy.TunnelEnd.client))", "closeUpstream"])

        var upstream = makeMachine()
        openTunnel(&upstream)
        upstream.upstreamClosed(now: start)
        XCTAssertEqual(take(&upstream), ["count(tunnelClosed(PortcullisProxy.TunnelEnd.upstream))", "closeClient()"])
        XCTAssertTrue(upstream.isClosed)
    }

    func testTheTokenIsRecheckedEveryIntervalAndARefusalClosesBoth() {
        var machine = makeMachine(recheck: .seconds(30))
        forwardHandshake(&machine)
        machine.upstreamRead(bytes(switching), now: start)
        _ = take(&machine)
        machine.tunnelArmed(checksToken: true, tokenExpiresAt: start + .seconds(600), now: start)
        XCTAssertEqual(take(&machine), [], "the timer pending from the handshake fires first")
        machine.timerFired(now: start + .seconds(10))
        XCTAssertEqual(take(&machine), ["scheduleTimer"], "then it is set for the recheck")
        machine.timerFired(now: start + .seconds(30))
        XCTAssertEqual(take(&machine), ["recheckTunnel", "scheduleTimer"])
        machine.tunnelRecheckPassed(now: start + .seconds(30))
        XCTAssertEqual(take(&machine), ["scheduleTimer"], "the next recheck is before the expiry")
        machine.timerFired(now: start + .seconds(60))
        XCTAssertEqual(take(&machine).first, "recheckTunnel")
        machine.tunnelTokenRefused(.revoked)
        XCTAssertEqual(take(&machine), ["count(tunnelClosed(PortcullisProxy.TunnelEnd.revoked))", "closeUpstream",
                                        "closeClient()"])
        XCTAssertTrue(machine.isClosed)
    }

    func testARecheckPromptedByARevocationKeepsTheSchedule() {
        var machine = makeMachine(recheck: .seconds(30))
        openTunnel(&machine)
        machine.tunnelRecheckPassed(now: start + .seconds(5))
        XCTAssertEqual(take(&machine), [], "the pending recheck at 30 s stays")
        machine.timerFired(now: start + .seconds(30))
        XCTAssertEqual(take(&machine), ["recheckTunnel"])
    }

    func testTheTunnelClosesAtTheTokensExpiryWithoutWaitingForARecheck() {
        var machine = makeMachine(recheck: .seconds(30))
        openTunnel(&machine, expiry: start + .seconds(10))
        machine.timerFired(now: start + .seconds(10))
        XCTAssertEqual(take(&machine), ["count(tunnelClosed(PortcullisProxy.TunnelEnd.expired))", "closeUpstream",
                                        "closeClient()"])
    }

    func testATokenAlreadyExpiredWhenTheTunnelOpensClosesIt() {
        var machine = makeMachine()
        forwardHandshake(&machine)
        machine.upstreamRead(bytes(switching), now: start)
        _ = take(&machine)
        machine.tunnelArmed(checksToken: true, tokenExpiresAt: start, now: start)
        XCTAssertEqual(take(&machine).first, "count(tunnelClosed(PortcullisProxy.TunnelEnd.expired))")
    }

    func testATunnelIsNotClosedByTheIdleTimeout() {
        var machine = makeMachine(idleTimeout: .seconds(5))
        openTunnel(&machine, checksToken: false)
        machine.timerFired(now: start + .seconds(3600))
        XCTAssertEqual(take(&machine), [])
        XCTAssertFalse(machine.isClosed)
    }

    func testQuiesceClosesATunnel() {
        var machine = makeMachine()
        openTunnel(&machine)
        machine.quiesce()
        XCTAssertEqual(take(&machine), ["count(tunnelClosed(PortcullisProxy.TunnelEnd.drain))", "closeUpstream",
                                        "closeClient()"])
    }

    func testA101ArrivingDuringADrainIsRelayedThenBothClose() {
        var machine = makeMachine()
        forwardHandshake(&machine)
        machine.quiesce()
        machine.upstreamRead(bytes(switching), now: start)
        let actions = take(&machine)
        XCTAssertFalse(actions.contains("tunnelOpened"), "\(actions)")
        XCTAssertEqual(actions.suffix(2), ["closeUpstream", "closeClient()"])
    }

    func testA101ToAnotherProtocolIsA502() {
        var machine = makeMachine()
        forwardHandshake(&machine)
        machine.upstreamRead(bytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"), now: start)
        XCTAssertEqual(take(&machine), ["count(malformedResponse)", "closeUpstream", "upstreamFailed(upstreamUnavailable)"])
    }

    func testWithWebSocketsOffTheHandshakeIsAnOrdinaryRequestAndA101IsA502() {
        var machine = makeMachine(webSockets: false)
        _ = take(&machine)
        machine.clientRead(bytes(handshake), now: start)
        _ = take(&machine)
        XCTAssertFalse(machine.tunnelRequested)
        machine.requestAdmitted(upstreamHead: bytes("H"), upstreamTimeout: .seconds(30))
        _ = take(&machine)
        machine.upstreamAttached(reused: false, writable: true, now: start)
        _ = take(&machine)
        machine.upstreamRead(bytes(switching), now: start)
        XCTAssertEqual(take(&machine), ["count(malformedResponse)", "closeUpstream", "upstreamFailed(upstreamUnavailable)"])
    }

    func testADeclinedHandshakeIsAnOrdinaryResponseAndItsUpstreamConnectionIsNotReused() {
        var machine = makeMachine()
        forwardHandshake(&machine)
        machine.upstreamRead(bytes("HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n"), now: start)
        XCTAssertEqual(take(&machine), ["writeClient(HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n)",
                                        "closeUpstream", "ended(426,true)", "flushClient"])
        XCTAssertFalse(machine.isClosed, "the client's connection carries the next request")
        XCTAssertFalse(machine.isTunnel)
    }

    // MARK: What counts as a WebSocket handshake

    private func parse(_ text: String) throws -> RequestHead {
        var fields: [HeaderField] = []
        let buffer = ByteBuffer(string: text)
        return try buffer.withUnsafeReadableBytes { raw in
            try RequestHeadParser(limits: .init(maxFields: 100, maxTargetBytes: 8192)).parse(raw, fields: &fields)
        }
    }

    func testOnlyAnHTTP11GETWithoutBodyAskingForWebSocketIsAHandshake() throws {
        XCTAssertTrue(try parse(handshake).upgradesToWebSocket)
        XCTAssertTrue(try parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n\r\n")
            .upgradesToWebSocket)
        for head in [
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: close, Upgrade\r\nUpgrade: websocket\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
            "GET / HTTP/1.0\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 3\r\n\r\n",
        ] {
            XCTAssertFalse(try parse(head).upgradesToWebSocket, head)
        }
    }

    func testTheUpstreamHeadAsksForTheUpgradeInsteadOfCopyingTheClientsFields() throws {
        let text = "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket, h2c\r\nConnection: Upgrade, X-Hop\r\nX-Hop: 1\r\n"
            + "Sec-WebSocket-Key: k\r\n\r\n"
        let head = try parse(text)
        let writer = UpstreamRequestHead(claimHeaders: ClaimHeaderPlan([]), pathPrefix: "")
        var out = ByteBuffer()
        writer.write(head, bytes: ByteBuffer(string: text), clientAddress: nil, claims: nil, webSocketUpgrade: true, into: &out)
        let written = String(buffer: out)
        XCTAssertTrue(written.contains("Sec-WebSocket-Key: k\r\n"), written)
        XCTAssertTrue(written.hasSuffix("Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n"), written)
        XCTAssertFalse(written.contains("h2c"), written)
        XCTAssertFalse(written.contains("X-Hop"), written)
    }
}

/// The per-loop index of open tunnels that a revocation consults.
final class TunnelRegistryTests: XCTestCase {
    private final class Endpoint: TunnelEndpoint {
        var notices = 0
        func revocationNoticed() { notices += 1 }
    }

    func testANoticeReachesOnlyTheTunnelsItNames() {
        let registry = TunnelRegistry()
        let a = Endpoint(), b = Endpoint(), c = Endpoint()
        registry.add(a, jti: "j1", subject: "alice")
        registry.add(b, jti: "j2", subject: "alice")
        registry.add(c, jti: "j3", subject: "bob")
        var notices = PendingRevocationNotices()
        notices.add(.jti("j1"))
        notices.add(.subject("alice"))
        let epoch = registry.epoch
        registry.noticed(notices)
        XCTAssertEqual([a.notices, b.notices, c.notices], [1, 1, 0], "once each, however many notices name it")
        XCTAssertEqual(registry.epoch, epoch + 1)

        var raw = PendingRevocationNotices()
        raw.add(.rawToken)
        registry.remove(b)
        registry.noticed(raw)
        XCTAssertEqual([a.notices, b.notices, c.notices], [2, 1, 1], "a raw token checks every tunnel still open")
        XCTAssertEqual(registry.count, 2)
    }

    func testTooManyPendingNamesBecomeOneCheckOfEverything() {
        var notices = PendingRevocationNotices()
        for index in 0...PendingRevocationNotices.maxNames { notices.add(.jti("j\(index)")) }
        XCTAssertTrue(notices.everything)
        XCTAssertTrue(notices.jtis.isEmpty, "the names are dropped, memory stays bounded")
    }
}
