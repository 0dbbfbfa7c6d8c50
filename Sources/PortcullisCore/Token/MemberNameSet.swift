/// The member names seen so far in one JSON object, to refuse duplicates.
///
/// RFC 7515 §4 lets a JWS parser either reject duplicate header names or
/// take the last one; RFC 7519 §4 says the same of claims. Parsers that
/// differ here read different claims out of the same signed token, so we
/// reject. Storage is caller-provided (a stack buffer from
/// `withUnsafeTemporaryAllocation`); lookups compare a 32-bit hash before
/// bytes. The search is linear, which is fine for the few members of a
/// header (capped) or of a payload (parsed only after its signature verified).
package struct MemberNameSet {
    package struct Entry {
        var hash: UInt32
        var name: JSONString
    }

    /// Bytes of the shortest member `"":0,` — bounds how many names an object of n bytes can hold.
    package static let minimumMemberBytes = 5

    private let storage: UnsafeMutableBufferPointer<Entry>
    private var count = 0

    package init(storage: UnsafeMutableBufferPointer<Entry>) {
        self.storage = storage
    }

    /// Records `name`, refusing a repeat, or a name beyond the storage's capacity.
    package mutating func insert(_ name: JSONString, in scanner: JSONScanner) throws(JSONSyntaxError) {
        let hash = Self.hash(name, in: scanner)
        for index in 0..<count where storage[index].hash == hash {
            if Self.equal(storage[index].name, name, in: scanner) {
                throw JSONSyntaxError("duplicate member name", at: name.start)
            }
        }
        guard count < storage.count else { throw JSONSyntaxError("more than \(storage.count) members", at: name.start) }
        storage[count] = Entry(hash: hash, name: name)
        count += 1
    }

    private static func hash(_ name: JSONString, in scanner: JSONScanner) -> UInt32 {
        if name.hasEscapes {
            return fnv1a(scanner.unescapedBytes(name))
        }
        return fnv1a(UnsafeRawBufferPointer(rebasing: scanner.bytes[name.start..<name.end]))
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
