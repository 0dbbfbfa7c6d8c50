/// A JSON document as a tree, for configuration-time inputs (a JWKS) where
/// convenience beats speed. Built on `JSONScanner` so it is exactly as strict
/// as the request path: duplicates, bad escapes and deep nesting are refused.
package indirect enum JSONValue: Sendable, Equatable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    /// The number's JSON text; callers convert as they need.
    case number(String)
    case bool(Bool)
    case null

    package static func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue {
        var text = text
        return try text.withUTF8 { buffer in
            Result { () throws(JSONSyntaxError) -> JSONValue in
                var scanner = JSONScanner(UnsafeRawBufferPointer(buffer))
                let value = try parseValue(&scanner, depth: 0)
                try scanner.expectEnd()
                return value
            }
        }.get()
    }

    private static func parseValue(_ scanner: inout JSONScanner, depth: Int) throws(JSONSyntaxError) -> JSONValue {
        switch scanner.peek() {
        case UInt8(ascii: "{"):
            guard depth < JSONScanner.maximumDepth else { throw JSONSyntaxError("nesting deeper than \(JSONScanner.maximumDepth)", at: scanner.index) }
            try scanner.beginObject()
            var members = [String: JSONValue]()
            var isFirst = true
            while let name = try scanner.nextMember(isFirst: &isFirst) {
                let key = scanner.string(name)
                guard members[key] == nil else { throw JSONSyntaxError("duplicate member name", at: name.start) }
                members[key] = try parseValue(&scanner, depth: depth + 1)
            }
            return .object(members)
        case UInt8(ascii: "["):
            guard depth < JSONScanner.maximumDepth else { throw JSONSyntaxError("nesting deeper than \(JSONScanner.maximumDepth)", at: scanner.index) }
            try scanner.beginArray()
            var elements = [JSONValue]()
            var isFirst = true
            while try scanner.nextElement(isFirst: &isFirst) {
                elements.append(try parseValue(&scanner, depth: depth + 1))
            }
            return .array(elements)
        case UInt8(ascii: "\""):
            return .string(scanner.string(try scanner.scanString()))
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            return .bool(try scanner.scanBool())
        case UInt8(ascii: "n"):
            try scanner.scanNull()
            return .null
        default:
            let number = try scanner.scanNumber()
            return .number(String(decoding: UnsafeRawBufferPointer(rebasing: scanner.bytes[number.range]), as: UTF8.self))
        }
    }
}
