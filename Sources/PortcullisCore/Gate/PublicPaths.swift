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
        for prefix in prefixes where path.hasPrefix(prefix) {
            return true
        }
        return false
    }

    static func isAmbiguous(_ path: Substring) -> Bool {
        if path.contains("%") {
            let lowered = path.lowercased()
            if lowered.contains("%2e") || lowered.contains("%2f") || lowered.contains("%5c") { return true }
        }
        if path.contains("\\") { return true }
        var segmentStart = path.startIndex
        var index = path.startIndex
        while true {
            if index == path.endIndex || path[index] == "/" {
                let segment = path[segmentStart..<index]
                if segment == "." || segment == ".." { return true }
                if index == path.endIndex { break }
                segmentStart = path.index(after: index)
            }
            index = path.index(after: index)
        }
        return false
    }
}
