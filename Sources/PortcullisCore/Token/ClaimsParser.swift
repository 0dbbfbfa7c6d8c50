/// Reads `TokenClaims` out of a payload in one pass over its bytes.
///
/// Only the claims we keep become Strings; everything else is validated and
/// stepped over. Registered claims of the wrong type make the token
/// malformed rather than "absent": a verifier that skipped `"exp": "soon"`
/// would accept a token that never expires.
package struct ClaimsParser: Sendable {
    /// UTF-8 of `TokenPolicy.capturedClaims`, prepared once.
    private let capturedNames: [[UInt8]]

    package init(capturedClaims: [String]) {
        self.capturedNames = capturedClaims.map { Array($0.utf8) }
    }

    package func parse(_ bytes: UnsafeRawBufferPointer) throws(TokenError) -> TokenClaims {
        do throws(JSONSyntaxError) {
            let capacity = bytes.count / MemberNameSet.minimumMemberBytes + 1
            return try withUnsafeTemporaryAllocation(of: MemberNameSet.Entry.self, capacity: capacity) {
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

        init?(_ name: some Collection<UInt8>) {
            switch name.count {
            case 3:
                if name.elementsEqual("exp".utf8) { self = .exp }
                else if name.elementsEqual("iat".utf8) { self = .iat }
                else if name.elementsEqual("sub".utf8) { self = .sub }
                else if name.elementsEqual("jti".utf8) { self = .jti }
                else if name.elementsEqual("nbf".utf8) { self = .nbf }
                else if name.elementsEqual("iss".utf8) { self = .iss }
                else if name.elementsEqual("aud".utf8) { self = .aud }
                else { return nil }
            case 4:
                if name.elementsEqual("type".utf8) { self = .type }
                else if name.elementsEqual("csrf".utf8) { self = .csrf }
                else { return nil }
            case 5:
                if name.elementsEqual("fresh".utf8) { self = .fresh } else { return nil }
            default:
                return nil
            }
        }
    }

    private func parse(_ bytes: UnsafeRawBufferPointer, names: inout MemberNameSet) throws(JSONSyntaxError) -> TokenClaims {
        var scanner = JSONScanner(bytes)
        var claims = TokenClaims()
        if !capturedNames.isEmpty {
            claims.captured = Array(repeating: nil, count: capturedNames.count)
        }
        try scanner.beginObject()
        var isFirst = true
        while let name = try scanner.nextMember(isFirst: &isFirst) {
            try names.insert(name, in: scanner)
            let registered: Registered?
            let isCaptured: Bool
            if name.hasEscapes {
                let unescaped = scanner.unescapedBytes(name)
                registered = Registered(unescaped)
                isCaptured = unescaped.withUnsafeBytes { isCapturedName($0) }
            } else {
                let raw = UnsafeRawBufferPointer(rebasing: scanner.bytes[name.start..<name.end])
                registered = Registered(raw)
                isCaptured = isCapturedName(raw)
            }
            let capturedValue = try readValue(&scanner, into: &claims, registered: registered, capture: isCaptured)
            if isCaptured {
                store(capturedValue, named: name, in: scanner, into: &claims)
            }
        }
        try scanner.expectEnd()
        return claims
    }

    /// Reads one member value, storing it when it is a registered claim, and
    /// returns its captured form when `capture` is set.
    private func readValue(
        _ scanner: inout JSONScanner, into claims: inout TokenClaims, registered: Registered?, capture: Bool
    ) throws(JSONSyntaxError) -> String? {
        let start = scanner.index
        func wrongType(_ claim: Registered) -> JSONSyntaxError {
            JSONSyntaxError("\"\(claim.name)\" must be \(claim.expectedType)", at: start)
        }

        guard let first = scanner.peek() else {
            throw JSONSyntaxError("expected a value", at: start)
        }
        switch first {
        case UInt8(ascii: "\""):
            let string = try scanner.scanString()
            guard let registered else { return capture ? scanner.string(string) : nil }
            let value = scanner.string(string)
            switch registered {
            case .jti: claims.jti = value
            case .sub: claims.sub = value
            case .iss: claims.iss = value
            case .type: claims.type = value
            case .csrf: claims.csrf = value
            case .aud: claims.aud = [value]
            case .exp, .nbf, .iat, .fresh: throw wrongType(registered)
            }
            return value

        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let range = try scanner.scanNumber()
            if let registered {
                guard let value = scanner.double(range), value.isFinite else {
                    throw wrongType(registered)
                }
                switch registered {
                case .exp: claims.exp = value
                case .nbf: claims.nbf = value
                case .iat: claims.iat = value
                default: throw wrongType(registered)
                }
            }
            guard capture else { return nil }
            return String(decoding: UnsafeRawBufferPointer(rebasing: scanner.bytes[range]), as: UTF8.self)

        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            let value = try scanner.scanBool()
            if let registered {
                guard registered == .fresh else { throw wrongType(registered) }
                claims.fresh = value
            }
            return value ? "true" : "false"

        case UInt8(ascii: "["):
            if let registered {
                guard registered == .aud else { throw wrongType(registered) }
                claims.aud = try readStringArray(&scanner, claim: registered)
            } else {
                try scanner.skipValue(depth: 1)
            }
            return nil

        case UInt8(ascii: "{"), UInt8(ascii: "n"):
            if let registered { throw wrongType(registered) }
            try scanner.skipValue(depth: 1)
            return nil

        default:
            // Not a value: let the scanner name the syntax error.
            try scanner.skipValue(depth: 1)
            return nil
        }
    }

    private func readStringArray(_ scanner: inout JSONScanner, claim: Registered) throws(JSONSyntaxError) -> [String] {
        try scanner.beginArray()
        var values = [String]()
        var isFirst = true
        while try scanner.nextElement(isFirst: &isFirst) {
            guard scanner.peek() == UInt8(ascii: "\"") else {
                throw JSONSyntaxError("\"\(claim.name)\" must be \(claim.expectedType)", at: scanner.index)
            }
            values.append(scanner.string(try scanner.scanString()))
        }
        return values
    }

    private func isCapturedName(_ name: UnsafeRawBufferPointer) -> Bool {
        for captured in capturedNames where captured.count == name.count {
            if captured.withUnsafeBytes({ $0.elementsEqual(name) }) { return true }
        }
        return false
    }

    /// Every index naming this member gets the value: a policy may list a name twice.
    private func store(_ value: String?, named name: JSONString, in scanner: JSONScanner, into claims: inout TokenClaims) {
        for (index, captured) in capturedNames.enumerated() where scanner.string(name, equals: captured) {
            claims.captured[index] = value
        }
    }
}
