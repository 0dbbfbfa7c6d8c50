/// `routes`, compiled once per start or reload: the first route whose path pattern and methods
/// match a request decides its policy.
///
/// Paths are matched two ways, each on the safe side:
/// - a route with `auth: none` opens a path, so it matches exactly as `proxy.public_paths` do:
///   on the path as sent, and never a path with dot segments or encoded `.`, `/` or `\`;
/// - a route that demands something (a token type, freshness, scopes) matches the path as sent
///   or the path as the upstream may read it (percent-decoded, `\` as `/`, dot segments removed),
///   so `/admin%2Fusers` or `/x/../admin/users` cannot slip past an `/admin/*` route.
public struct RouteTable: Sendable {
    /// What a matching route asks of the request.
    public struct Policy: Sendable, Equatable {
        /// `auth: none`: forwarded without a token, like a public path.
        public let isOpen: Bool
        /// The route's `token_type`, or `jwt.token_type` when it names none.
        public let requiredType: TokenPolicy.RequiredType
        public let requiresFresh: Bool
        public let scopes: ScopeRequirement?
    }

    struct Entry: Sendable {
        let pattern: PathPattern
        /// nil matches every method. A short list, compared as bytes (no hashing per request).
        let methods: [String]?
        let policy: Policy
    }

    let entries: [Entry]

    public init() { entries = [] }

    /// - Parameter defaultType: `jwt.token_type`, for routes that name no `token_type`.
    public init(_ routes: [Configuration.Route], defaultType: TokenPolicy.RequiredType) {
        entries = routes.map { route in
            var methods: Set<String>? = route.methods.isEmpty ? nil : Set(route.methods)
            // A HEAD is answered by the GET handler (Starlette, Flask, Rails all do this), so a
            // GET route's requirements must hold for HEAD too.
            if methods?.contains("GET") == true { methods?.insert("HEAD") }
            let methodList = methods.map { Array($0).sorted() }
            let policy = Policy(
                isOpen: route.auth == .none,
                requiredType: route.tokenType.map(TokenPolicy.RequiredType.init) ?? defaultType,
                requiresFresh: route.fresh,
                scopes: ScopeRequirement(route.scopes, mode: route.scopesMode))
            return Entry(pattern: PathPattern(route.path), methods: methodList, policy: policy)
        }
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// Whether any route needs the token's `scopes` claim read.
    public var readsScopes: Bool { entries.contains { $0.policy.scopes != nil } }

    /// The policy of the first matching route, or nil when none matches.
    public func match(method: String, path: Substring) -> Policy? {
        guard !entries.isEmpty else { return nil }
        let isAmbiguous = PublicPaths.isAmbiguous(path)
        // Only paths the upstream could read differently pay for a second spelling.
        let normalised: String? = isAmbiguous || path.utf8.contains(UInt8(ascii: "%")) ? PathNormalisation.normalised(path) : nil
        // By index: `for entry in entries` would copy (retain and release) every entry it passes.
        for index in entries.indices {
            guard entries[index].pattern.matches(path) || (!entries[index].policy.isOpen
                      && normalised.map({ entries[index].pattern.matches($0[...]) }) == true)
            else { continue }
            if let methods = entries[index].methods, !methods.contains(where: { $0.utf8.elementsEqual(method.utf8) }) {
                continue
            }
            if entries[index].policy.isOpen, isAmbiguous { continue }
            return entries[index].policy
        }
        return nil
    }
}

extension TokenPolicy.RequiredType {
    init(_ type: RequiredTokenType) {
        switch type {
        case .access: self = .access
        case .refresh: self = .refresh
        case .any: self = .any
        }
    }
}

/// One path pattern as `proxy.public_paths` writes them: exact, or `prefix*`.
struct PathPattern: Sendable, Equatable {
    let text: String
    let isPrefix: Bool

    init(_ pattern: String) {
        isPrefix = pattern.hasSuffix("*")
        text = isPrefix ? String(pattern.dropLast()) : pattern
    }

    /// Compared as bytes: `String`'s own `hasPrefix` and `==` compare by Unicode canonical
    /// equivalence, several times slower, and a path is bytes to the upstream anyway.
    func matches(_ path: Substring) -> Bool {
        isPrefix ? path.utf8.starts(with: text.utf8) : path.utf8.elementsEqual(text.utf8)
    }
}

/// The path as an upstream that decodes and resolves it would see it.
enum PathNormalisation {
    static func normalised(_ path: Substring) -> String {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(path.utf8.count)
        let bytes = Array(path.utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), index + 2 < bytes.count,
               let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) {
                decoded.append(high << 4 | low)
                index += 3
                continue
            }
            decoded.append(byte == UInt8(ascii: "\\") ? UInt8(ascii: "/") : byte)
            index += 1
        }
        // RFC 3986 §5.2.4 on segments: "." is dropped, ".." drops the segment before it.
        var segments: [ArraySlice<UInt8>] = []
        let parts = decoded.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        for (position, part) in parts.enumerated() {
            let isLast = position == parts.count - 1
            if part.elementsEqual([UInt8(ascii: ".")]) {
                if isLast { segments.append([]) }
            } else if part.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                if segments.count > 1 { segments.removeLast() }
                if isLast { segments.append([]) }
            } else {
                segments.append(part)
            }
        }
        var result = segments.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/")
        if !result.hasPrefix("/") { result = "/" + result }
        return result
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
