/// The embedded store's audit in memory: the newest `capacity` entries, oldest first, each
/// with a sequence number that only grows (it is journaled with the entry, so a cursor stays
/// valid across a restart). Trimmed in batches so appending stays O(1) amortized; only the
/// newest `capacity` are ever read or written back to the file.
struct MemoryAuditLog {
    struct Stored: Equatable {
        var sequence: UInt64
        var entry: AuditEntry
    }

    let capacity: Int
    private var stored: [Stored] = []
    private(set) var lastSequence: UInt64 = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// The entries kept, oldest first.
    var retained: ArraySlice<Stored> { stored.suffix(capacity) }

    var count: Int { min(stored.count, capacity) }

    /// An entry read back from the file out of order (it cannot be, short of damage) is ignored.
    mutating func append(_ entry: AuditEntry, sequence: UInt64) {
        guard sequence > lastSequence else { return }
        stored.append(Stored(sequence: sequence, entry: entry))
        lastSequence = sequence
        if stored.count >= capacity + max(64, capacity / 4) {
            stored.removeFirst(stored.count - capacity)
        }
    }

    /// Newest first: up to `limit` entries older than `before` (all, when nil), and whether
    /// older ones remain.
    func page(limit: Int, before: UInt64?) -> (items: [Stored], more: Bool) {
        let kept = retained
        var end = kept.endIndex
        if let before {
            // Binary search: the first entry at or after `before`.
            var low = kept.startIndex, high = kept.endIndex
            while low < high {
                let middle = low + (high - low) / 2
                if kept[middle].sequence < before { low = middle + 1 } else { high = middle }
            }
            end = low
        }
        let start = max(kept.startIndex, end - max(0, limit))
        return (Array(kept[start..<end].reversed()), start > kept.startIndex)
    }

    /// A cursor is the sequence number of the last entry of the previous page, in decimal.
    static func cursor(_ sequence: UInt64) -> String { String(sequence) }

    static func sequence(inCursor cursor: String) -> UInt64? {
        guard !cursor.isEmpty, cursor.utf8.count <= 20, cursor.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        return UInt64(cursor)
    }
}
