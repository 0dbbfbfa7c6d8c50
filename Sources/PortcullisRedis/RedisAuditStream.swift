import PortcullisCore

/// The audit on Redis (INTERFACE §5): the stream `portcullis:audit`, one entry per change with
/// the fields `time`, `actor`, `action`, `target` and, when known, `reason` and `peer`. Every
/// Portcullis sharing the Redis appends to it and reads it, so they all see one audit.
///
/// `XADD … MAXLEN ~ <max>` keeps it near `admin.audit_max_entries` (Redis trims whole stream
/// nodes, so a little more may stay). `XREVRANGE` pages it newest first; a cursor is the id
/// of the last entry of the previous page, and the next page starts just before it (`(id`).
/// One key, so on a Redis Cluster every command goes to the one node owning its slot.
public final class RedisAuditStream: AuditTrail {
    public static let key = RedisKeyLayout.auditKey

    private let store: RedisRevocationStore
    private let maxEntries: Int

    public init(store: RedisRevocationStore, maxEntries: Int) {
        self.store = store
        self.maxEntries = max(1, maxEntries)
    }

    public func record(_ entry: AuditEntry) async throws(RevocationStoreError) {
        var command = ["XADD", Self.key, "MAXLEN", "~", String(maxEntries), "*",
                       "time", "\(entry.time)", "actor", entry.actor, "action", entry.action.rawValue,
                       "target", entry.target]
        if let reason = entry.reason { command += ["reason", reason] }
        if let peer = entry.peer { command += ["peer", peer] }
        guard case .string = try await store.command(command) else {
            throw RevocationStoreError(.unavailable, "unexpected reply to XADD")
        }
    }

    public func page(limit: Int, cursor: String?) async throws(RevocationStoreError) -> AuditPage {
        var end = "+"
        if let cursor, !cursor.isEmpty {
            guard Self.isStreamID(cursor) else { throw RevocationStoreError(.badCursor, "cursor: not one this server issued") }
            end = "(" + cursor
        }
        // One more than asked: whether it comes tells whether there is a next page.
        let reply = try await store.command(["XREVRANGE", Self.key, end, "-", "COUNT", String(limit + 1)])
        guard case .array(let found) = reply else { throw RevocationStoreError(.unavailable, "unexpected reply to XREVRANGE") }
        let shown = found.prefix(limit)
        let items = shown.compactMap(Self.entry)
        let next = found.count > limit ? shown.last.flatMap(Self.id(of:)) : nil
        return AuditPage(items: items, nextCursor: next)
    }

    private static func id(of element: RedisReply) -> String? {
        guard case .array(let parts) = element, parts.count == 2 else { return nil }
        return parts[0].text
    }

    /// An element of `XREVRANGE`: `[id, [field, value, …]]`. One written by hand without the
    /// fields an entry needs is left out.
    private static func entry(_ element: RedisReply) -> AuditEntry? {
        guard case .array(let parts) = element, parts.count == 2, case .array(let pairs) = parts[1] else { return nil }
        var fields: [String: String] = [:]
        var index = 0
        while index + 1 < pairs.count {
            if let name = pairs[index].text, let value = pairs[index + 1].text { fields[name] = value }
            index += 2
        }
        guard let time = fields["time"].flatMap(Double.init), let actor = fields["actor"],
              let action = fields["action"].flatMap(AuditAction.init(rawValue:)), let target = fields["target"]
        else { return nil }
        return AuditEntry(time: time, actor: actor, action: action, target: target, reason: fields["reason"],
                          peer: fields["peer"])
    }

    /// `<milliseconds>-<sequence>`, as `XADD *` makes them.
    static func isStreamID(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { part in
            !part.isEmpty && part.utf8.count <= 20 && part.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } && UInt64(part) != nil
        }
    }
}
