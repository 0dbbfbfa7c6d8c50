import Foundation
import Synchronization
import XCTest
@testable import PortcullisCore

final class MemoryRevocationStoreTests: XCTestCase {
    private var directory: URL!
    private var file: String { directory.appendingPathComponent("revocations.log").path }
    private let clock = Clock(1_700_000_000)

    final class Clock: Sendable {
        private let value: Mutex<Double>
        init(_ start: Double) { value = Mutex(start) }
        var now: Double { value.withLock { $0 } }
        func advance(_ seconds: Double) { value.withLock { $0 += seconds } }
    }

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    private func makeStore(leeway: Double = 0, maxTTL: Double = 86400, auditMaxEntries: Int = 100_000) throws
        -> MemoryRevocationStore {
        let clock = self.clock
        return try MemoryRevocationStore(settings: .init(file: file, leewaySeconds: leeway, maxTTLSeconds: maxTTL,
                                                         auditMaxEntries: auditMaxEntries),
                                         now: { clock.now })
    }

    private func entry(_ target: String, _ action: AuditAction = .revoke) -> AuditEntry {
        AuditEntry(time: clock.now, actor: "ops", action: action, target: target, reason: nil, peer: "127.0.0.1")
    }

    /// Every page of the audit, newest first, following the cursors.
    private func allAudit(_ store: MemoryRevocationStore, limit: Int) throws -> [String] {
        var targets: [String] = []
        var cursor: String?
        repeat {
            let page = try store.page(limit: limit, cursor: cursor)
            XCTAssertLessThanOrEqual(page.items.count, limit)
            targets += page.items.map(\.target)
            cursor = page.nextCursor
        } while cursor != nil
        return targets
    }

    private func query(_ jti: String?, sub: String? = nil, iat: Double? = nil, raw: String? = nil) -> RevocationQuery {
        RevocationQuery(jti: jti, subject: sub, issuedAt: iat, rawToken: raw.map { Substring($0) })
    }

    /// Open tunnels close on these: each stored revocation is announced once, an undo never.
    func testEachRevocationIsAnnouncedToObservers() throws {
        let store = try makeStore()
        let notices = Mutex<[RevocationNotice]>([])
        store.observeRevocations { notice in notices.withLock { $0.append(notice) } }
        _ = try store.revoke(jti: "a", expiresAt: clock.now + 100, reason: nil)
        _ = try store.revoke(rawToken: "x.y.z", expiresAt: clock.now + 100, reason: nil)
        _ = try store.revokeSubject("alice", before: clock.now)
        _ = try store.unrevoke(jti: "a")
        _ = try store.unrevokeSubject("alice")
        // Already expired: nothing stored, nothing to announce.
        _ = try store.revoke(jti: "old", expiresAt: clock.now - 10, reason: nil)
        XCTAssertEqual(notices.withLock { $0 }, [.jti("a"), .rawToken, .subject("alice")])
    }

    func testRevokedUntilExpiryPlusLeeway() throws {
        let store = try makeStore(leeway: 30)
        let record = try store.revoke(jti: "a", expiresAt: clock.now + 100, reason: nil)
        XCTAssertEqual(record.ttlSeconds, 130)
        XCTAssertEqual(store.immediateVerdict(query("a")), .revoked)
        XCTAssertEqual(store.immediateVerdict(query("b")), .allowed)
        clock.advance(129)
        XCTAssertEqual(store.immediateVerdict(query("a")), .revoked)
        clock.advance(2)
        XCTAssertEqual(store.immediateVerdict(query("a")), .allowed, "gone once the token could no longer be valid")
    }

    func testNoExpiryMeansMaxTTL() throws {
        let store = try makeStore(maxTTL: 3600)
        XCTAssertEqual(try store.revoke(jti: "a", expiresAt: nil, reason: nil).ttlSeconds, 3600)
    }

    func testAlreadyExpiredIsNotWritten() throws {
        let store = try makeStore()
        XCTAssertEqual(try store.revoke(jti: "old", expiresAt: clock.now - 1, reason: nil).ttlSeconds, 0)
        XCTAssertNil(store.lookup(jti: "old"))
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "")
    }

    func testReplayRestoresEverythingAndDropsExpired() throws {
        do {
            let store = try makeStore()
            _ = try store.revoke(jti: "keep", expiresAt: clock.now + 1000, reason: "stolen")
            _ = try store.revoke(jti: "short", expiresAt: clock.now + 10, reason: nil)
            _ = try store.revoke(jti: "undone", expiresAt: clock.now + 1000, reason: nil)
            XCTAssertTrue(try store.unrevoke(jti: "undone"))
            _ = try store.revoke(rawToken: "raw.token.value", expiresAt: clock.now + 1000, reason: nil)
            _ = try store.revokeSubject("carol", before: clock.now)
        }
        clock.advance(60)
        let reopened = try makeStore()
        XCTAssertEqual(reopened.lookup(jti: "keep")?.reason, "stolen")
        XCTAssertNil(reopened.lookup(jti: "short"))
        XCTAssertNil(reopened.lookup(jti: "undone"))
        XCTAssertEqual(reopened.immediateVerdict(query(nil, raw: "raw.token.value")), .revoked)
        XCTAssertEqual(reopened.immediateVerdict(query("x", sub: "carol", iat: clock.now - 120)), .revoked)
        XCTAssertEqual(reopened.loadReport.liveEntries, 3)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        XCTAssertFalse(text.contains("raw.token.value"), "raw tokens are stored hashed")
        XCTAssertEqual(text.split(separator: "\n").count, 3, "compacted at start to the live entries")
    }

    func testTornLastLineIsSkipped() throws {
        do {
            let store = try makeStore()
            _ = try store.revoke(jti: "whole", expiresAt: clock.now + 1000, reason: nil)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"op":"revoke","jti":"tor"#.utf8))
        try handle.close()
        let reopened = try makeStore()
        XCTAssertNotNil(reopened.lookup(jti: "whole"))
        XCTAssertEqual(reopened.loadReport.skippedLines, 1)
    }

    func testFileIsCompactedWhileRunning() throws {
        let store = try makeStore()
        for round in 0..<3000 {
            _ = try store.revoke(jti: "churn", expiresAt: clock.now + 1000, reason: "\(round)")
        }
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").count
        XCTAssertLessThan(lines, 1100, "the file holds about the live entries, not every change")
        XCTAssertEqual(store.lookup(jti: "churn")?.reason, "2999")
    }

    func testSubjectCutoff() throws {
        let store = try makeStore()
        let cutoff = try store.revokeSubject("dave", before: clock.now)
        XCTAssertEqual(cutoff.ttlSeconds, 86400)
        XCTAssertEqual(store.immediateVerdict(query("1", sub: "dave", iat: clock.now - 10)), .revoked, "issued before")
        XCTAssertEqual(store.immediateVerdict(query("2", sub: "dave", iat: clock.now)), .revoked, "issued at the cut-off")
        XCTAssertEqual(store.immediateVerdict(query("3", sub: "dave", iat: nil)), .revoked, "no iat")
        XCTAssertEqual(store.immediateVerdict(query("4", sub: "dave", iat: clock.now + 1)), .allowed, "issued after")
        XCTAssertEqual(store.immediateVerdict(query("5", sub: "erin", iat: clock.now - 10)), .allowed, "other subject")
        XCTAssertTrue(try store.unrevokeSubject("dave"))
        XCTAssertEqual(store.immediateVerdict(query("1", sub: "dave", iat: clock.now - 10)), .allowed)
    }

    func testListingPagesEachJTIExactlyOnce() throws {
        let store = try makeStore()
        let all = (0..<25).map { String(format: "jti-%02d", $0) }
        for jti in all.shuffled() { _ = try store.revoke(jti: jti, expiresAt: clock.now + 100, reason: nil) }
        var seen: [String] = []
        var cursor: String?
        repeat {
            let page = try store.list(limit: 10, cursor: cursor)
            seen += page.items.map(\.jti)
            cursor = page.nextCursor
        } while cursor != nil
        XCTAssertEqual(seen, all)
        XCTAssertThrowsError(try store.list(limit: 10, cursor: "%%%"))
    }

    func testAuditPagesNewestFirstAndSurvivesAReopen() throws {
        let store = try makeStore()
        XCTAssertEqual(try store.page(limit: 10, cursor: nil), AuditPage(items: [], nextCursor: nil))
        for index in 0..<23 {
            clock.advance(0.5)
            try store.record(entry("t\(index)"))
        }
        let newestFirst = (0..<23).reversed().map { "t\($0)" }
        for limit in [1, 5, 22, 23, 24, 100] {
            XCTAssertEqual(try allAudit(store, limit: limit), newestFirst, "limit \(limit)")
        }
        let first = try store.page(limit: 3, cursor: nil)
        XCTAssertEqual(first.items.first, entry("t22").with(time: 1_700_000_011.5))
        // Newer entries arriving between pages do not shift the older ones.
        try store.record(entry("late"))
        let second = try store.page(limit: 3, cursor: first.nextCursor)
        XCTAssertEqual(second.items.map(\.target), ["t19", "t18", "t17"])

        let reopened = try makeStore()
        XCTAssertEqual(reopened.loadReport.auditEntries, 24)
        XCTAssertEqual(try allAudit(reopened, limit: 7), ["late"] + newestFirst)
        // A cursor issued before the restart still continues where it was.
        XCTAssertEqual(try reopened.page(limit: 3, cursor: first.nextCursor).items.map(\.target), ["t19", "t18", "t17"])
        for bad in ["x", "-1", "1-0", "12a", "99999999999999999999999", " 1"] {
            XCTAssertThrowsError(try reopened.page(limit: 3, cursor: bad), bad) { error in
                XCTAssertEqual((error as? RevocationStoreError)?.code, .badCursor, bad)
            }
        }
    }

    func testAuditIsBoundedInMemoryAndInTheFile() throws {
        let store = try makeStore(auditMaxEntries: 10)
        _ = try store.revoke(jti: "live", expiresAt: clock.now + 1000, reason: nil)
        for index in 0..<1500 {
            try store.record(entry("e\(index)"))
        }
        XCTAssertEqual(try allAudit(store, limit: 1000), (1490..<1500).reversed().map { "e\($0)" })
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").count
        XCTAssertLessThan(lines, 2 * 11 + 1024 + 2, "compaction keeps only the newest audit entries")
        let reopened = try makeStore(auditMaxEntries: 10)
        XCTAssertEqual(try allAudit(reopened, limit: 4), (1490..<1500).reversed().map { "e\($0)" })
        XCTAssertNotNil(reopened.lookup(jti: "live"))
        // A smaller bound at the next start keeps the newest of what the file holds.
        let smaller = try makeStore(auditMaxEntries: 3)
        XCTAssertEqual(try allAudit(smaller, limit: 100), ["e1499", "e1498", "e1497"])
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").count, 4)
    }

    func testUnopenableFileIsAnError() {
        XCTAssertThrowsError(try MemoryRevocationStore(settings: .init(
            file: "/nonexistent-dir/x/revocations.log", leewaySeconds: 0, maxTTLSeconds: 10)))
    }
}

private extension AuditEntry {
    func with(time: Double) -> AuditEntry {
        var copy = self
        copy.time = time
        return copy
    }
}
