/// Finds the bearer token in the configured locations, in order (`jwt.locations`).
public struct TokenExtractor: Sendable {
    public struct Found: Sendable {
        public var token: Substring
        public var location: TokenLocation
    }

    let locations: [TokenLocation]
    let headerName: String
    /// Lower-cased scheme plus the space that must follow it, or "" for a bare token.
    let schemePrefix: String
    let cookieName: String
    let queryParameter: String

    public init(locations: [TokenLocation], headerName: String, headerType: String,
                cookieName: String, queryParameter: String) {
        self.locations = locations
        self.headerName = headerName
        self.schemePrefix = headerType.isEmpty ? "" : headerType.lowercased() + " "
        self.cookieName = cookieName
        self.queryParameter = queryParameter
    }

    public func extract(from headers: some RequestHeaders, target: RequestTarget) -> Found? {
        for location in locations {
            let token: Substring?
            switch location {
            case .headers: token = fromHeader(headers)
            case .cookies: token = fromCookies(headers)
            case .query: token = fromQuery(target.query)
            }
            if let token, !token.isEmpty {
                return Found(token: token, location: location)
            }
        }
        return nil
    }

    func fromHeader(_ headers: some RequestHeaders) -> Substring? {
        guard let value = headers.firstValue(headerName) else { return nil }
        let trimmed = value.trimmingSpaces()
        if schemePrefix.isEmpty { return trimmed }
        guard trimmed.utf8.count > schemePrefix.utf8.count,
              trimmed.utf8.prefix(schemePrefix.utf8.count).lazy.map(Self.asciiLower).elementsEqual(schemePrefix.utf8)
        else { return nil }
        return trimmed.dropFirst(schemePrefix.count).trimmingSpaces()
    }

    func fromCookies(_ headers: some RequestHeaders) -> Substring? {
        for header in headers.allValues("cookie") {
            for pair in header.split(separator: ";") {
                let pair = pair.trimmingSpaces()
                guard let equals = pair.firstIndex(of: "=") else { continue }
                if pair[..<equals] == cookieName {
                    var value = pair[pair.index(after: equals)...]
                    if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                        value = value.dropFirst().dropLast()
                    }
                    return value
                }
            }
        }
        return nil
    }

    func fromQuery(_ query: Substring?) -> Substring? {
        guard let query else { return nil }
        for pair in query.split(separator: "&") {
            guard let equals = pair.firstIndex(of: "=") else { continue }
            if pair[..<equals] == queryParameter {
                let raw = pair[pair.index(after: equals)...]
                return raw.contains("%") ? Substring(PercentDecoding.decode(raw) ?? "") : raw
            }
        }
        return nil
    }

    private static func asciiLower(_ byte: UInt8) -> UInt8 {
        (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
    }
}

enum PercentDecoding {
    /// nil for a malformed escape or bytes that are not UTF-8.
    static func decode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue)
                else { return nil }
                bytes.append(high << 4 | low)
            } else if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
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

extension StringProtocol where SubSequence == Substring {
    func trimmingSpaces() -> Substring {
        var slice = self[...]
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return slice
    }
}
