/// "Did you mean …?" for misspelt keys and variables.
enum ConfigKeySuggestion {
    /// Two edits catch the usual slips (a dropped, doubled or swapped letter) without proposing
    /// unrelated keys.
    static let maximumDistance = 2

    /// The nearest candidate within `maximumDistance`; ties go to the earlier candidate, so the
    /// answer is stable.
    static func closest(to word: String, among candidates: [String]) -> String? {
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(word, candidate)
            if distance <= maximumDistance && distance < (best?.distance ?? .max) {
                best = (candidate, distance)
            }
        }
        return best?.candidate
    }

    /// A near spelling first; failing that, the same name in another section (`jwt.listen` → `admin.listen`).
    static func forUnknownKey(_ path: String, keys: [ConfigurationKey]) -> String? {
        guard path.contains(".") else { return closest(to: path, among: ConfigurationKey.sectionNames) }
        if let near = closest(to: path, among: keys.map(\.path)) { return near }
        let name = path.drop { $0 != "." }.dropFirst()
        return keys.first { $0.name == name }?.path
    }

    /// Levenshtein distance over Unicode scalars, with one rolling row.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        var row = Array(0...b.count)
        for i in 1...a.count {
            var diagonal = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let above = row[j]
                row[j] = min(above + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1))
                diagonal = above
            }
        }
        return row[b.count]
    }
}
