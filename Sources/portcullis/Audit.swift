import ArgumentParser
import Foundation

struct Audit: ParsableCommand {
    static let defaultLimit = 100

    static let configuration = CommandConfiguration(
        abstract: "Print the audit of revocation changes through the admin API, newest first.",
        discussion: """
            One line per entry: time (UTC), action, target, the credential that made the change, the
            caller's address, and the reason when one was given. Without --limit the newest \(defaultLimit)
            entries are printed; --all follows every page. --json prints the entries as a JSON array, as
            the API gives them. Any admin token with the read role will do. Exits 0, or 1 on any failure.

            Examples:
              portcullis audit
              portcullis audit --limit 20
              portcullis audit --all --json > audit.json
            """)

    @OptionGroup var endpoint: AdminEndpointOptions

    @Option(help: "How many of the newest entries to print (default: \(defaultLimit)).")
    var limit: Int?

    @Flag(help: "Print every entry the store keeps.")
    var all = false

    @Flag(help: "Print the entries as a JSON array.")
    var json = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if all && limit != nil { throw ValidationError("give --limit or --all, not both") }
    }

    func run() throws {
        let client = try endpoint.client(for: "audit")
        let items: [[String: Any]]
        do {
            items = try client.items(of: "/v1/audit", limit: all ? nil : limit ?? Self.defaultLimit)
        } catch {
            printError("audit: \(error)")
            throw ExitCode(1)
        }
        if json {
            let data = (try? JSONSerialization.data(withJSONObject: items, options: [.sortedKeys, .withoutEscapingSlashes]))
                ?? Data("[]".utf8)
            print(String(decoding: data, as: UTF8.self))
        } else {
            for item in items { print(Self.line(item)) }
        }
    }

    /// `2025-06-01T12:00:00.250Z  revoke  3f1c9a  by ops from 10.0.0.7  reason: laptop stolen`
    static func line(_ item: [String: Any]) -> String {
        let time = (item["time"] as? NSNumber).map { Self.timestamp($0.doubleValue) } ?? "?"
        var text = "\(time)  \(item["action"] as? String ?? "?")  \(item["target"] as? String ?? "?")"
        text += "  by \(item["actor"] as? String ?? "?") from \(item["peer"] as? String ?? "unknown")"
        if let reason = item["reason"] as? String { text += "  reason: \(reason)" }
        return text
    }

    private static func timestamp(_ seconds: Double) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: seconds))
    }
}
