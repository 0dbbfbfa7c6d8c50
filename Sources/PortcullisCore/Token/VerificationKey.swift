import Crypto
import _CryptoExtras

/// Public key material, one case per key type, so that which algorithms a
/// key can verify is decided by its type and never by the token.
package enum KeyMaterial: Sendable {
    case hmac(HMACKey)
    case rsa(_RSA.Signing.PublicKey)
    case p256(P256.Signing.PublicKey)
    case p384(P384.Signing.PublicKey)
    case p521(P521.Signing.PublicKey)
    case ed25519(Curve25519.Signing.PublicKey)

    /// Every algorithm this kind of key can verify (RFC 7518 §3, RFC 8037 §3.1).
    package var compatibleAlgorithms: AlgorithmSet {
        switch self {
        case .hmac: .hmac
        case .rsa: .rsa
        case .p256: AlgorithmSet(.ES256)
        case .p384: AlgorithmSet(.ES384)
        case .p521: AlgorithmSet(.ES512)
        case .ed25519: AlgorithmSet(.EdDSA)
        }
    }

    package var kindDescription: String {
        switch self {
        case .hmac: "an HMAC secret"
        case .rsa(let key): "a \(key.keySizeInBits)-bit RSA key"
        case .p256: "a P-256 key"
        case .p384: "a P-384 key"
        case .p521: "a P-521 key"
        case .ed25519: "an Ed25519 key"
        }
    }
}

/// One entry of the key table.
package struct VerificationKey: Sendable {
    /// The `kid` this key answers to, if it has one.
    package var keyID: String?
    package var keyIDBytes: [UInt8]
    /// What it may verify: its type's algorithms, narrowed by a JWK `alg` and by the configured algorithms.
    package var algorithms: AlgorithmSet
    package var material: KeyMaterial

    package init(keyID: String?, algorithms: AlgorithmSet, material: KeyMaterial) {
        self.keyID = keyID
        self.keyIDBytes = keyID.map { Array($0.utf8) } ?? []
        self.algorithms = algorithms.intersection(material.compatibleAlgorithms)
        self.material = material
    }
}
