/// `proxy.public_paths`, compiled once: exact paths in a set, `prefix*` patterns as prefixes.
public struct PublicPaths: Sendable {
    private let exact: Set<Substring>
    private let prefixes: [String]

    public init(patterns: [String]) {
        var exact = Set<Substring>()
        var prefixes: [String] = []
        for pattern in patterns {
            if pattern.hasSuffix("*") {
                prefixes.append(String(pattern.dropLast()))
            } else {
                exact.insert(Substring(pattern))
            }
        }
        self.exact = exact
        self.prefixes = prefixes
    }

    public var isEmpty: Bool { exact.isEmpty && prefixes.isEmpty }

    /// A path with dot segments or encoded `.`, `/` or `\` never matches: the upstream could
    /// normalise `/docs/../admin` to `/admin`, and a public pattern must not open that.
    public func matches(_ path: Substring) -> Bool {
        guard !isEmpty, !Self.isAmbiguous(path) else { return false }
        if exact.contains(path) { return true }
        for prefix in prefixes where path.utf8.starts(with: prefix.utf8) {
            return true
        }
        return false
    }

    static func isAmbiguous(_ path: Substring) -> Bool {
        // Routes ask this of every request: read the bytes in place rather than copy them.
        if let answer = path.utf8.withContiguousStorageIfAvailable({ isAmbiguous(bytes: $0) }) { return answer }
        return Array(path.utf8).withUnsafeBufferPointer { isAmbiguous(bytes: $0) }
    }

    private static func isAmbiguous(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var segmentStart = 0
        for index in 0...bytes.count {
            if index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\\") { return true }
                if byte == UInt8(ascii: "%"), index + 2 < bytes.count {
                    let high = bytes[index + 1]
                    let low = bytes[index + 2] | 0x20
                    // %2e (.), %2f (/), %5c (\)
                    if (high == UInt8(ascii: "2") && (low == UInt8(ascii: "e") || low == UInt8(ascii: "f")))
                        || (high == UInt8(ascii: "5") && low == UInt8(ascii: "c")) {
                        return true
                    }
                }
                if byte != UInt8(ascii: "/") { continue }
            }
            let length = index - segmentStart
            if length == 1, bytes[segmentStart] == UInt8(ascii: ".") { return true }
            if length == 2, bytes[segmentStart] == UInt8(ascii: "."), bytes[segmentStart + 1] == UInt8(ascii: ".") {
                return true
            }
            segmentStart = index + 1
        }
        return false
    }
}
