import Crypto
import Foundation
import _CryptoExtras

/// Turns `jwt.public_key_file` text into key material.
package enum PEMKeyLoader {
    /// DER of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4) up to the 32 key
    /// bytes: SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (0 unused bits) }.
    /// Matched by hand because swift-crypto only gained Ed25519 PEM in 4.x.
    private static let ed25519SPKIPrefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]

    package static func load(_ pem: String) throws(KeyTableError) -> KeyMaterial {
        if pem.contains("PRIVATE KEY") {
            throw KeyTableError(.invalidPEM, "public key PEM holds a private key; configure the public key only")
        }
        if pem.contains("CERTIFICATE") {
            throw KeyTableError(.invalidPEM, "public key PEM is a certificate; extract its key with `openssl x509 -pubkey -noout`")
        }
        // The unsafe initialiser takes small keys too, so that we can say why we refuse them.
        if let key = try? _RSA.Signing.PublicKey(unsafePEMRepresentation: pem) {
            guard key.keySizeInBits >= 2048 else {
                throw KeyTableError(.weakRSAKey, "public key PEM is a \(key.keySizeInBits)-bit RSA key; at least 2048 bits are required")
            }
            return .rsa(key)
        }
        if let key = try? P256.Signing.PublicKey(pemRepresentation: pem) { return .p256(key) }
        if let key = try? P384.Signing.PublicKey(pemRepresentation: pem) { return .p384(key) }
        if let key = try? P521.Signing.PublicKey(pemRepresentation: pem) { return .p521(key) }
        if let der = derBytes(ofPublicKeyPEM: pem),
           der.count == ed25519SPKIPrefix.count + 32,
           der.starts(with: ed25519SPKIPrefix),
           let key = try? Curve25519.Signing.PublicKey(rawRepresentation: der.dropFirst(ed25519SPKIPrefix.count)) {
            return .ed25519(key)
        }
        throw KeyTableError(.invalidPEM, "public key PEM is not an RSA, EC (P-256, P-384, P-521) or Ed25519 public key")
    }

    /// The DER inside a single `PUBLIC KEY` block.
    private static func derBytes(ofPublicKeyPEM pem: String) -> [UInt8]? {
        let lines = pem.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard lines.count >= 3,
              lines.first == "-----BEGIN PUBLIC KEY-----",
              lines.last == "-----END PUBLIC KEY-----",
              let data = Data(base64Encoded: lines.dropFirst().dropLast().joined())
        else { return nil }
        return Array(data)
    }
}
