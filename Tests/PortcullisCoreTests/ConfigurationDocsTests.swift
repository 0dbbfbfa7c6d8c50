import Foundation
import XCTest
@testable import PortcullisCore

/// docs/configuration.md cannot drift from the key table: every key and its environment name
/// appear there, and every key documented there exists.
final class ConfigurationDocsTests: XCTestCase {
    private var document: String {
        get throws {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            return try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        }
    }

    func testEveryKeyIsDocumentedWithItsEnvironmentName() throws {
        let text = try document
        for key in ConfigurationKey.all {
            XCTAssertTrue(text.contains("| `\(key.path)` | `\(key.environmentName)` |"),
                          "\(key.path) (\(key.environmentName)) is missing from docs/configuration.md")
        }
    }

    func testEveryDocumentedKeyExists() throws {
        let known = Set(ConfigurationKey.all.map(\.path))
        let rows = try document.split(separator: "\n").filter { $0.hasPrefix("| `") }
        XCTAssertFalse(rows.isEmpty)
        for row in rows {
            let key = row.dropFirst(3).prefix { $0 != "`" }
            XCTAssertTrue(known.contains(String(key)), "docs/configuration.md documents \(key), which the code does not know")
        }
    }
}
