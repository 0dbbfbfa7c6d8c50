/// The member names seen so far in one JSON object, to refuse duplicates.
///
/// RFC 7515 §4 lets a JWS parser either reject duplicate header names or
/// take the last one; RFC 7519 §4 says the same of claims. Parsers that
/// differ here read different claims out of the same signed token, so we
/// reject. The first `inlineCapacity` names live in caller-provided stack
/// storage (small enough that `withUnsafeTemporaryAllocation` needs no
/// stack-depth check); rare objects with more members spill to the heap.
/// Lookups compare a hash, then packed names or bytes. The search is linear,
/// which is fine for the few members of a header (capped) or of a payload
/// (parsed only after its signature verified).
package struct MemberNameSet {
    /// 16 entries × 48 bytes stays under the 1 KiB that the standard library
    /// allocates on the stack without asking the runtime.
    package static let inlineCapacity = 16

    package struct Entry {
        var hash: UInt32
        /// `PackedName` of names up to 7 bytes, which then compare as integers.
        var packed: UInt64?
        var name: JSONString
    }

    private let storage: UnsafeMutableBufferPointer<Entry>
    private var inlineCount = 0
    private var overflow: [Entry] = []
    private let maximumCount: Int

    package init(storage: UnsafeMutableBufferPointer<Entry>, maximumCount: Int = .max) {
        self.storage = storage
        self.maximumCount = maximumCount
    }

    /// Records `name`, refusing a repeat, or a name beyond the storage's capacity.
    package mutating func insert(_ name: JSONString, in scanner: JSONScanner) throws(JSONSyntaxError) {
        try insert(name, packed: scanner.packedName(name), in: scanner)
    }

    /// As `insert(_:in:)` when the caller already has `scanner.packedName(name)`.
    package mutating func insert(_ name: JSONString, packed: UInt64?, in scanner: JSONScanner) throws(JSONSyntaxError) {
        let hash: UInt32
        if let packed {
            hash = UInt32(truncatingIfNeeded: packed ^ packed >> 29)
        } else if name.hasEscapes {
            hash = Self.fnv1a(scanner.unescapedBytes(name))
        } else {
            hash = Self.fnv1a(UnsafeRawBufferPointer(rebasing: scanner.bytes[name.start..<name.end]))
        }
        for index in 0..<inlineCount where storage[index].hash == hash {
            if Self.same(storage[index], name, packed, in: scanner) {
                throw JSONSyntaxError("duplicate member name", at: name.start)
            }
        }
        for entry in overflow where entry.hash == hash {
            if Self.same(entry, name, packed, in: scanner) {
                throw JSONSyntaxError("duplicate member name", at: name.start)
            }
        }
        guard inlineCount + overflow.count < maximumCount else {
            throw JSONSyntaxError("more than \(maximumCount) members", at: name.start)
        }
        let entry = Entry(hash: hash, packed: packed, name: name)
        if inlineCount < storage.count {
            storage[inlineCount] = entry
            inlineCount += 1
        } else {
            overflow.append(entry)
        }
    }

    private static func same(_ entry: Entry, _ name: JSONString, _ packed: UInt64?, in scanner: JSONScanner) -> Bool {
        switch (entry.packed, packed) {
        case let (a?, b?): a == b
        // A name of 7 bytes or fewer never equals a longer one.
        case (nil, _?), (_?, nil): false
        case (nil, nil): equal(entry.name, name, in: scanner)
        }
    }

    private static func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        for byte in bytes {
            hash = (hash ^ UInt32(byte)) &* 16_777_619
        }
        return hash
    }

    private static func equal(_ a: JSONString, _ b: JSONString, in scanner: JSONScanner) -> Bool {
        if a.hasEscapes {
            return scanner.unescapedBytes(a).withUnsafeBytes { scanner.string(b, equals: $0) }
        }
        return scanner.string(b, equals: UnsafeRawBufferPointer(rebasing: scanner.bytes[a.start..<a.end]))
    }
}
