import PortcullisCore

extension RedisRevocationStore {
    /// `SCAN` and the `TTL`s of what it found go to the node being walked.
    private func onNode(_ node: Int, _ commands: [[String]]) async throws(RevocationStoreError) -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        do {
            return try await topology.execute(commands, timeout: nil, onNode: node)
        } catch {
            throw RevocationStoreError(.unavailable, "\(error)")
        }
    }

    private func scan(_ arguments: [String], onNode node: Int) async throws(RevocationStoreError) -> RedisReply {
        let reply = try await onNode(node, [arguments])[0]
        if case .error(let message) = reply { throw RevocationStoreError(.unavailable, "Redis: \(message)") }
        return reply
    }

    /// `SCAN MATCH` over the jti template, a page at a time; see `ScanCursor` for how a `SCAN`
    /// batch larger than the page is carried over. On a keyspace that does not change while
    /// the pages are fetched, every revoked jti comes exactly once; while it changes, a jti
    /// present throughout comes at least once (as with `SCAN` itself).
    public func list(limit: Int, cursor: String?) async throws(RevocationStoreError) -> RevocationPage {
        var position: ScanCursor
        if let cursor, !cursor.isEmpty {
            guard let decoded = ScanCursor(encoded: cursor) else {
                throw RevocationStoreError(.badCursor, "cursor: not one this server issued")
            }
            position = decoded
        } else {
            position = ScanCursor(startingWithPageSize: limit)
        }
        var items: [RevocationRecord] = []
        var listed = Set<String>()
        while true {
            let reply = try await scan(["SCAN", String(position.position), "MATCH", layout.jti.scanPattern,
                                        "COUNT", String(position.count)], onNode: position.node)
            guard case .array(let parts) = reply, parts.count == 2, let nextText = parts[0].text,
                  let next = UInt64(nextText), case .array(let found) = parts[1]
            else { throw RevocationStoreError(.unavailable, "unexpected reply to SCAN") }
            var remaining = position.remaining(of: found.compactMap(\.text).filter(layout.isJTIKey), batchEnd: next)[...]
            while !remaining.isEmpty && items.count < limit {
                let chunk = remaining.prefix(limit - items.count)
                remaining = remaining.dropFirst(chunk.count)
                position.progress = chunk.last.map { ScanCursor.Progress(lastKey: $0, batchEnd: next) }
                // A key can come twice across SCAN calls while Redis resizes its table.
                let fresh = chunk.filter { !listed.contains($0) }
                let replies = try await onNode(position.node, fresh.map { ["TTL", $0] })
                let time = now()
                for (key, reply) in zip(fresh, replies) {
                    // Gone since SCAN saw it (expired or un-revoked): not listed.
                    guard let seconds = try remainingSeconds(reply), let value = layout.jti.value(in: key) else { continue }
                    listed.insert(key)
                    items.append(RevocationRecord(jti: value, expiresAt: time + Double(seconds), ttlSeconds: seconds))
                }
            }
            if !remaining.isEmpty {
                return RevocationPage(items: items, nextCursor: position.encoded)
            }
            if next == 0 {
                // This node is done; a cluster goes on with its next master.
                guard position.node + 1 < topology.scanNodeCount else { return RevocationPage(items: items, nextCursor: nil) }
                let node = position.node + 1
                position = ScanCursor(position: 0, count: position.count)
                position.node = node
                if items.count >= limit { return RevocationPage(items: items, nextCursor: position.encoded) }
                continue
            }
            let node = position.node
            position = ScanCursor(position: next, count: position.count)
            position.node = node
            if items.count >= limit {
                return RevocationPage(items: items, nextCursor: position.encoded)
            }
        }
    }
}
