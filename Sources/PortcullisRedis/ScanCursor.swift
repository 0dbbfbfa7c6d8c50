import PortcullisCore

/// Where a listing over Redis `SCAN` stands, as the admin API's opaque `next_cursor`.
///
/// One `SCAN` call may return more matching keys than a page holds. The surplus is neither
/// dropped nor repeated: the cursor keeps the `SCAN` position that produced the batch, the
/// `COUNT` it used, and how far into that batch the pages got — the last key handed out, in
/// byte order, and the cursor Redis answered for the batch. The next page issues the same
/// `SCAN position COUNT count` again (on an unchanged keyspace Redis returns the same batch),
/// sorts it and continues after that key. A key of the batch that expired in between shifts
/// nothing. When Redis answers another cursor the batch itself changed; the page then hands
/// out the whole batch again: a repeat, never a miss, as `SCAN` promises.
struct ScanCursor: Equatable {
    struct Progress: Equatable {
        /// The last key already handed out from the batch, in byte order.
        var lastKey: String
        /// The cursor Redis answered for the batch when it was first read.
        var batchEnd: UInt64
    }

    /// Redis's own cursor; 0 is the start (and, from Redis, the end).
    var position: UInt64
    /// `COUNT` for every `SCAN` of this listing, so a re-issued `SCAN` returns the same batch.
    var count: Int
    /// nil: nothing of the batch at `position` handed out yet.
    var progress: Progress?
    /// Which node is being walked (a cluster's masters in address order; else always 0).
    var node = 0

    static let counts = 10...1000
    private static let tag = "s1"
    /// A cursor on a cluster node other than the first carries the node: `n<index>.` + the rest.
    private static let nodeTag = "n"

    init(position: UInt64, count: Int, progress: Progress? = nil) {
        self.position = position
        self.count = count
        self.progress = progress
    }

    /// The first page; `COUNT` follows the page size so a page usually costs one `SCAN`.
    init(startingWithPageSize limit: Int) {
        self.init(position: 0, count: min(max(limit, Self.counts.lowerBound), Self.counts.upperBound))
    }

    /// nil for anything this code did not issue.
    init?(encoded: String) {
        guard let bytes = Base64URL.decode(encoded), var text = String(validating: bytes, as: UTF8.self) else {
            return nil
        }
        var node = 0
        if text.hasPrefix(Self.nodeTag), let dot = text.firstIndex(of: ".") {
            guard let index = Int(text[text.index(after: text.startIndex)..<dot]), index > 0 else { return nil }
            node = index
            text = String(text[text.index(after: dot)...])
        }
        let parts = text.split(separator: ":", maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == Self.tag,
              let position = UInt64(parts[1]), let count = Int(parts[2]), Self.counts.contains(count)
        else { return nil }
        var progress: Progress?
        if !parts[3].isEmpty || !parts[4].isEmpty {
            guard let batchEnd = UInt64(parts[3]), !parts[4].isEmpty else { return nil }
            progress = Progress(lastKey: String(parts[4]), batchEnd: batchEnd)
        }
        self.init(position: position, count: count, progress: progress)
        self.node = node
    }

    var encoded: String {
        let batchEnd = progress.map { String($0.batchEnd) } ?? ""
        let node = self.node > 0 ? "\(Self.nodeTag)\(self.node)." : ""
        return Base64URL.encode("\(node)\(Self.tag):\(position):\(count):\(batchEnd):\(progress?.lastKey ?? "")".utf8)
    }

    /// The keys of the batch `SCAN` just returned still to hand out, in the order they are handed out.
    func remaining(of batch: [String], batchEnd: UInt64) -> [String] {
        let keys = Set(batch).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        guard let progress, progress.batchEnd == batchEnd else { return keys }
        return keys.filter { progress.lastKey.utf8.lexicographicallyPrecedes($0.utf8) }
    }
}
