/// The JOSE header members the verifier acts on (RFC 7515 §4.1).
///
/// Deliberately ignored: `jwk`, `jku`, `x5u`, `x5c` — a key named by the
/// token itself must never be trusted, so keys come only from the
/// configured `KeyTable`. `typ` and `cty` are informational.
package struct JOSEHeader {
    package enum Algorithm: Equatable {
        case supported(JWTAlgorithm)
        /// `alg: none` — an unsecured JWS is never accepted.
        case none
        /// A name we do not implement (or do not recognise at all).
        case unsupported
    }

    package var algorithm: Algorithm
    /// Position of `kid` in the decoded header; valid while that buffer lives.
    package var keyID: JSONString?

    /// Real headers have three or four members; a cap keeps duplicate detection trivially cheap
    /// on input that has not been authenticated yet.
    package static let maximumMembers = 32

    private enum Member {
        case alg, kid, typ, crit, other
    }

    package static func parse(_ bytes: UnsafeRawBufferPointer) throws(TokenError) -> JOSEHeader {
        do throws(JSONSyntaxError) {
            return try withUnsafeTemporaryAllocation(of: MemberNameSet.Entry.self, capacity: MemberNameSet.inlineCapacity) {
                (storage) throws(JSONSyntaxError) -> JOSEHeader in
                var names = MemberNameSet(storage: storage, maximumCount: maximumMembers)
                return try parse(bytes, names: &names)
            }
        } catch {
            throw .malformed("header", error)
        }
    }

    private static func parse(_ bytes: UnsafeRawBufferPointer, names: inout MemberNameSet) throws(JSONSyntaxError) -> JOSEHeader {
        var scanner = JSONScanner(bytes)
        try scanner.beginObject()
        var algorithm: Algorithm?
        var keyID: JSONString?
        var isFirst = true
        while let name = try scanner.nextMember(isFirst: &isFirst) {
            let packed = scanner.packedName(name)
            try names.insert(name, packed: packed, in: scanner)
            switch member(packed: packed) {
            case .alg:
                guard scanner.peek() == UInt8(ascii: "\"") else { throw JSONSyntaxError("\"alg\" must be a string", at: scanner.index) }
                algorithm = Self.algorithm(try scanner.scanString(), in: scanner)
            case .kid:
                guard scanner.peek() == UInt8(ascii: "\"") else { throw JSONSyntaxError("\"kid\" must be a string", at: scanner.index) }
                keyID = try scanner.scanString()
            case .typ:
                guard scanner.peek() == UInt8(ascii: "\"") else { throw JSONSyntaxError("\"typ\" must be a string", at: scanner.index) }
                _ = try scanner.scanString()
            case .crit:
                // RFC 7515 §4.1.11: a recipient that does not understand a listed
                // extension must reject; we implement none, so any `crit` is fatal.
                throw JSONSyntaxError("\"crit\" extensions are not supported", at: name.start)
            case .other:
                try scanner.skipValue(depth: 1)
            }
        }
        try scanner.expectEnd()
        guard let algorithm else { throw JSONSyntaxError("\"alg\" is missing", at: 0) }
        return JOSEHeader(algorithm: algorithm, keyID: keyID)
    }

    private static func member(packed: UInt64?) -> Member {
        switch packed {
        case PackedName.alg: .alg
        case PackedName.kid: .kid
        case PackedName.typ: .typ
        case PackedName.crit: .crit
        default: .other
        }
    }

    private static func algorithm(_ value: JSONString, in scanner: JSONScanner) -> Algorithm {
        let resolve = { (bytes: UnsafeRawBufferPointer) -> Algorithm in
            if let algorithm = JWTAlgorithm(jwsName: bytes) { return .supported(algorithm) }
            // RFC 7518 names are case-sensitive: "None" or "NONE" is just an unknown name.
            return bytes.elementsEqual("none".utf8) ? .none : .unsupported
        }
        if value.hasEscapes {
            return scanner.unescapedBytes(value).withUnsafeBytes(resolve)
        }
        return resolve(UnsafeRawBufferPointer(rebasing: scanner.bytes[value.start..<value.end]))
    }
}
