import Crypto

/// An HMAC secret prepared for each HS hash.
package struct HMACKey: Sendable {
    package let byteCount: Int
    let sha256: KeyedHMAC<SHA256>
    let sha384: KeyedHMAC<SHA384>
    let sha512: KeyedHMAC<SHA512>

    package init(_ secret: [UInt8]) {
        byteCount = secret.count
        sha256 = KeyedHMAC(secret: secret)
        sha384 = KeyedHMAC(secret: secret)
        sha512 = KeyedHMAC(secret: secret)
    }
}

/// HMAC (RFC 2104) with the key blocks absorbed once, at table build time.
///
/// swift-crypto's `HMAC.isValidAuthenticationCode` re-derives the padded key
/// blocks on every call and reaches the hash through generic `DataProtocol`
/// code; together that was two thirds of an HS256 verification. Here a
/// request only copies two prepared SHA-2 states and hashes its own bytes
/// through the non-generic `update(bufferPointer:)`. The comparison is still
/// swift-crypto's constant-time digest `==`. `HMACTests` checks the output
/// against `HMAC<H>` for keys shorter than, equal to and longer than a block.
package struct KeyedHMAC<H: HashFunction & Sendable>: Sendable {
    private let inner: H
    private let outer: H

    package init(secret: [UInt8]) {
        var block = secret.count > H.blockByteCount ? Array(H.hash(data: secret)) : secret
        block += [UInt8](repeating: 0, count: H.blockByteCount - block.count)
        var inner = H()
        inner.update(data: block.map { $0 ^ 0x36 })
        var outer = H()
        outer.update(data: block.map { $0 ^ 0x5C })
        self.inner = inner
        self.outer = outer
    }

    package func authenticationCode(for message: UnsafeRawBufferPointer) -> H.Digest {
        var inner = self.inner
        inner.update(bufferPointer: message)
        var outer = self.outer
        inner.finalize().withUnsafeBytes { outer.update(bufferPointer: $0) }
        return outer.finalize()
    }

    package func isValid(_ code: UnsafeRawBufferPointer, for message: UnsafeRawBufferPointer) -> Bool {
        guard code.count == H.Digest.byteCount else { return false }
        return authenticationCode(for: message) == code
    }
}
