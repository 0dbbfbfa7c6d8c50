import Foundation
import XCTest
@testable import PortcullisCore

/// The journal's line format: written and read back exactly, and lines written by earlier
/// versions (Foundation's JSONSerialization) still read.
final class RevocationJournalTests: XCTestCase {
    func testEveryRecordRoundTrips() {
        let records: [JournalRecord] = [
            .revoke(jti: "3f1c9a", expiresAt: 1_767_225_600, reason: nil),
            .revoke(jti: "quote\" back\\slash\n\t\u{1}é🙂/", expiresAt: 1_767_225_600.25, reason: "laptop \"stolen\""),
            .unrevoke(jti: "3f1c9a"),
            .revokeToken(sha256: String(repeating: "ab", count: 32), expiresAt: 1_767_225_600),
            .revokeSubject(subject: "alice", before: 1_767_000_000.5, expiresAt: 1_769_000_000),
            .unrevokeSubject(subject: "alice"),
            .audit(AuditEntry(time: 1_767_225_600.125, actor: "ops \"night\"", action: .revokeSubject, target: "a/b\n",
                              reason: "password changed", peer: "::1"), sequence: 42),
            .audit(AuditEntry(time: 1_767_225_600, actor: "logout", action: .logout, target: "0123456789ab",
                              reason: nil, peer: nil), sequence: 1),
        ]
        for record in records {
            let line = String(decoding: record.encoded(), as: UTF8.self)
            XCTAssertTrue(line.hasSuffix("}\n"), line)
            XCTAssertEqual(line.filter { $0 == "\n" }.count, 1, "one line per record: \(line)")
            XCTAssertEqual(JournalRecord(line: Substring(line.dropLast())), record, line)
            // Any JSON reader understands it.
            XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
        }
        XCTAssertEqual(String(decoding: JournalRecord.revoke(jti: "a", expiresAt: 1_767_225_600, reason: nil).encoded(), as: UTF8.self),
                       "{\"expires_at\":1767225600,\"jti\":\"a\",\"op\":\"revoke\"}\n")
    }

    func testLinesFromFoundationsWriterStillRead() {
        XCTAssertEqual(JournalRecord(line: #"{"expires_at":1767225600.5,"jti":"a\/b","op":"revoke","reason":"x"}"#),
                       .revoke(jti: "a/b", expiresAt: 1_767_225_600.5, reason: "x"))
        XCTAssertEqual(JournalRecord(line: #"{"op":"unrevoke_subject","sub":"\u00e9"}"#), .unrevokeSubject(subject: "é"))
    }

    func testDamagedLinesAreRefused() {
        for line in [#"{"expires_at":1,"jti":"a","op":"revoke""#, #"{"jti":"a","op":"revoke"}"#, #"{"op":"explode"}"#,
                     #"{"expires_at":"soon","jti":"a","op":"revoke"}"#, "", "garbage",
                     #"{"action":"explode","actor":"a","op":"audit","seq":1,"target":"t","time":1}"#,
                     #"{"action":"revoke","actor":"a","op":"audit","target":"t","time":1}"#] {
            XCTAssertNil(JournalRecord(line: Substring(line)), line)
        }
    }
}
