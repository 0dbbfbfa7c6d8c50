/// Reads `TokenClaims` out of a payload in one pass over its bytes.
///
/// Only the claims we keep become Strings; everything else is validated and
/// stepped over. Registered claims of the wrong type make the token
/// malformed rather than "absent": a verifier that skipped `"exp": "soon"`
/// would accept a token that never expires. Duplicate names are refused at
/// the top level, where claims are read; nested objects are validated but
/// their names are not compared, since nothing inside them is ever read.
package struct ClaimsParser: Sendable {
    /// UTF-8 of `TokenPolicy.capturedClaims`, prepared once.
    private let capturedNames: [[UInt8]]
    private let readsScopes: Bool

    package init(capturedClaims: [String], readsScopes: Bool = false) {
        self.capturedNames = capturedClaims.map { Array($0.utf8) }
        self.readsScopes = readsScopes
    }

    package func parse(_ bytes: UnsafeRawBufferPointer) throws(TokenError) -> TokenClaims {
        do throws(JSONSyntaxError) {
            return try withUnsafeTemporaryAllocation(of: MemberNameSet.Entry.self, capacity: MemberNameSet.inlineCapacity) {
                (storage) throws(JSONSyntaxError) -> TokenClaims in
                var names = MemberNameSet(storage: storage)
                return try parse(bytes, names: &names)
            }
        } catch {
            throw .malformed("payload", error)
        }
    }

    private enum Registered {
        case jti, sub, iss, aud, exp, nbf, iat, type, csrf, fresh

        var name: String {
            switch self {
            case .jti: "jti"
            case .sub: "sub"
            case .iss: "iss"
            case .aud: "aud"
            case .exp: "exp"
            case .nbf: "nbf"
            case .iat: "iat"
            case .type: "type"
            case .csrf: "csrf"
            case .fresh: "fresh"
            }
        }

        var expectedType: String {
            switch self {
            case .jti, .sub, .iss, .type, .csrf: "a string"
            case .aud: "a string or an array of strings"
            case .exp, .nbf, .iat: "a number"
            case .fresh: "a boolean"
            }
        }

        init?(packed: UInt64?) {
            switch packed {
            case PackedName.jti: self = .jti
            case PackedName.sub: self = .sub
            case PackedName.iss: self = .iss
            case PackedName.aud: self = .aud
            case PackedName.exp: self = .exp
            case PackedName.nbf: self = .nbf
            case PackedName.iat: self = .iat
            case PackedName.type: self = .type
            case PackedName.csrf: self = .csrf
            case PackedName.fresh: self = .fresh
            default: return nil
            }
        }
    }

    /// A member value as scanned: strings and numbers stay positions until someone keeps them.
    private enum MemberValue {
        case string(JSONString)
        case number(JSONNumber)
        case bool(Bool)
        case strings([String])
        case null
        case container
    }

    // The claims live in locals and become a `TokenClaims` once, at the end:
    // mutating a `TokenClaims` in place made the optimiser copy the whole
    // struct in and out of the loop.
    private func parse(_ bytes: UnsafeRawBufferPointer, names: inout MemberNameSet) throws(JSONSyntaxError) -> TokenClaims {
        var scanner = JSONScanner(bytes)
        var jti: String?
        var sub: String?
        var iss: String?
        var aud: [String] = []
        var exp: Double?
        var nbf: Double?
        var iat: Double?
        var type: String?
        var csrf: String?
        var fresh: Bool?
        var scopes: [String]?
        var captured: [String?] = capturedNames.isEmpty ? [] : Array(repeating: nil, count: capturedNames.count)

        try scanner.beginObject()
        var isFirst = true
        while let name = try scanner.nextMember(isFirst: &isFirst) {
            let packed = scanner.packedName(name)
            try names.insert(name, packed: packed, in: scanner)
            let registered = Registered(packed: packed)
            let isCaptured = !capturedNames.isEmpty && isCapturedName(name, in: scanner)
            let start = scanner.index
            let isScopes = readsScopes && packed == PackedName.scopes
            let value = try readValue(&scanner, isAudience: registered == .aud || isScopes)
            if isScopes, case .strings(let strings) = value {
                scopes = strings
            }

            if let registered {
                switch (registered, value) {
                case (.jti, .string(let string)): jti = scanner.string(string)
                case (.sub, .string(let string)): sub = scanner.string(string)
                case (.iss, .string(let string)): iss = scanner.string(string)
                case (.type, .string(let string)): type = scanner.string(string)
                case (.csrf, .string(let string)): csrf = scanner.string(string)
                case (.aud, .string(let string)): aud = [scanner.string(string)]
                case (.aud, .strings(let strings)): aud = strings
                case (.fresh, .bool(let bool)): fresh = bool
                case (.exp, .number(let number)), (.nbf, .number(let number)), (.iat, .number(let number)):
                    guard let time = scanner.double(number), time.isFinite else {
                        throw JSONSyntaxError("\"\(registered.name)\" must be a finite number", at: start)
                    }
                    switch registered {
                    case .exp: exp = time
                    case .nbf: nbf = time
                    default: iat = time
                    }
                default:
                    throw JSONSyntaxError("\"\(registered.name)\" must be \(registered.expectedType)", at: start)
                }
            }
            if isCaptured {
                let text: String?
                switch value {
                case .string(let string): text = scanner.string(string)
                case .number(let number): text = String(decoding: UnsafeRawBufferPointer(rebasing: scanner.bytes[number.range]), as: UTF8.self)
                case .bool(let bool): text = bool ? "true" : "false"
                case .strings, .null, .container: text = nil
                }
                // Every index naming this member gets the value: a policy may list a name twice.
                for (index, capturedName) in capturedNames.enumerated() where scanner.string(name, equals: capturedName) {
                    captured[index] = text
                }
            }
        }
        try scanner.expectEnd()
        return TokenClaims(
            jti: jti, sub: sub, iss: iss, aud: aud, exp: exp, nbf: nbf, iat: iat,
            type: type, csrf: csrf, fresh: fresh, scopes: scopes, captured: captured
        )
    }

    /// Steps over one member value. Only `aud` and `scopes` arrays are read (as strings);
    /// other containers are validated and skipped.
    private func readValue(_ scanner: inout JSONScanner, isAudience: Bool) throws(JSONSyntaxError) -> MemberValue {
        switch scanner.peek() {
        case UInt8(ascii: "\""):
            return .string(try scanner.scanString())
        case UInt8(ascii: "-"), UInt8(ascii: "0"), UInt8(ascii: "1"), UInt8(ascii: "2"), UInt8(ascii: "3"), UInt8(ascii: "4"),
             UInt8(ascii: "5"), UInt8(ascii: "6"), UInt8(ascii: "7"), UInt8(ascii: "8"), UInt8(ascii: "9"):
            return .number(try scanner.scanNumber())
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            return .bool(try scanner.scanBool())
        case UInt8(ascii: "n"):
            try scanner.scanNull()
            return .null
        case UInt8(ascii: "[") where isAudience:
            return try readStringArray(&scanner).map(MemberValue.strings) ?? .container
        default:
            // Objects, other arrays, and anything that is not a value (the scanner names that error).
            try scanner.skipValue(depth: 1)
            return .container
        }
    }

    /// An `aud` array, or nil (the array stepped over) when an element is not a string.
    private func readStringArray(_ scanner: inout JSONScanner) throws(JSONSyntaxError) -> [String]? {
        try scanner.beginArray()
        var values = [String]()
        var isFirst = true
        while try scanner.nextElement(isFirst: &isFirst) {
            guard scanner.peek() == UInt8(ascii: "\"") else {
                // Keep validating so a syntax error still wins over the type error.
                try scanner.skipValue(depth: 2)
                while try scanner.nextElement(isFirst: &isFirst) {
                    try scanner.skipValue(depth: 2)
                }
                return nil
            }
            values.append(scanner.string(try scanner.scanString()))
        }
        return values
    }

    private func isCapturedName(_ name: JSONString, in scanner: JSONScanner) -> Bool {
        capturedNames.contains { scanner.string(name, equals: $0) }
    }
}
