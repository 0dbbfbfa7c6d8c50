/// A short member name as one integer, so matching it against the few names
/// we know is an integer `switch` rather than byte-by-byte comparisons.
///
/// Up to 7 bytes, big-endian, with the length in the low byte so that names
/// differing only by leading NULs (`"\u0000exp"`) stay distinct from `"exp"`.
/// The constants below are checked against `pack` by `PackedNameTests`.
package enum PackedName {
    // JOSE header members.
    package static let alg: UInt64 = 0x616C_6703
    package static let kid: UInt64 = 0x6B69_6403
    package static let typ: UInt64 = 0x7479_7003
    package static let crit: UInt64 = 0x63_7269_7404
    // Claims.
    package static let jti: UInt64 = 0x6A74_6903
    package static let sub: UInt64 = 0x7375_6203
    package static let iss: UInt64 = 0x6973_7303
    package static let aud: UInt64 = 0x6175_6403
    package static let exp: UInt64 = 0x6578_7003
    package static let nbf: UInt64 = 0x6E62_6603
    package static let iat: UInt64 = 0x6961_7403
    package static let type: UInt64 = 0x74_7970_6504
    package static let csrf: UInt64 = 0x63_7372_6604
    package static let fresh: UInt64 = 0x6672_6573_6805
    package static let scopes: UInt64 = 0x73_636F_7065_7306

    package static let maximumLength = 7

    package static func pack(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard bytes.count <= maximumLength else { return nil }
        var packed: UInt64 = 0
        for byte in bytes {
            packed = packed << 8 | UInt64(byte)
        }
        return packed << 8 | UInt64(bytes.count)
    }

    package static func pack(_ name: String) -> UInt64? {
        var name = name
        return name.withUTF8 { pack(UnsafeRawBufferPointer($0)) }
    }
}

extension JSONScanner {
    /// The packed value of a scanned string (escapes resolved), or nil when longer than 7 bytes.
    package func packedName(_ name: JSONString) -> UInt64? {
        if name.hasEscapes {
            return unescapedBytes(name).withUnsafeBytes { PackedName.pack($0) }
        }
        guard name.count <= PackedName.maximumLength else { return nil }
        return PackedName.pack(UnsafeRawBufferPointer(rebasing: bytes[name.start..<name.end]))
    }
}
