import Crypto
import Foundation
import _CryptoExtras

/// Public key material, one case per key type, so that which algorithms a
/// key can verify is decided by its type and never by the token.
package enum KeyMaterial: Sendable {
    case hmac(SymmetricKey)
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

/// Checks a JWS signature (RFC 7515 §5.2) with one key.
package enum SignatureVerifier {
    /// Whether `signature` is `algorithm`'s signature of `signingInput`
    /// (the ASCII `header.payload`) under `key`. A key/algorithm mismatch is
    /// simply false: the caller has already filtered on `key.algorithms`,
    /// this is the second lock on the same door.
    package static func isValid(
        _ signature: UnsafeRawBufferPointer,
        of signingInput: UnsafeRawBufferPointer,
        algorithm: JWTAlgorithm,
        key: KeyMaterial
    ) -> Bool {
        switch (key, algorithm) {
        case (.hmac(let secret), .HS256):
            // Constant-time comparison inside swift-crypto.
            return HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: signingInput, using: secret)
        case (.hmac(let secret), .HS384):
            return HMAC<SHA384>.isValidAuthenticationCode(signature, authenticating: signingInput, using: secret)
        case (.hmac(let secret), .HS512):
            return HMAC<SHA512>.isValidAuthenticationCode(signature, authenticating: signingInput, using: secret)

        case (.rsa(let publicKey), .RS256):
            return rsa(publicKey, signature, SHA256.hash(data: signingInput), .insecurePKCS1v1_5)
        case (.rsa(let publicKey), .RS384):
            return rsa(publicKey, signature, SHA384.hash(data: signingInput), .insecurePKCS1v1_5)
        case (.rsa(let publicKey), .RS512):
            return rsa(publicKey, signature, SHA512.hash(data: signingInput), .insecurePKCS1v1_5)
        // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash — swift-crypto's `.PSS`.
        case (.rsa(let publicKey), .PS256):
            return rsa(publicKey, signature, SHA256.hash(data: signingInput), .PSS)
        case (.rsa(let publicKey), .PS384):
            return rsa(publicKey, signature, SHA384.hash(data: signingInput), .PSS)
        case (.rsa(let publicKey), .PS512):
            return rsa(publicKey, signature, SHA512.hash(data: signingInput), .PSS)

        // JWS ECDSA signatures are the fixed-width R || S of RFC 7518 §3.4, not DER;
        // the raw initialisers refuse any other length.
        case (.p256(let publicKey), .ES256):
            guard let parsed = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return publicKey.isValidSignature(parsed, for: SHA256.hash(data: signingInput))
        case (.p384(let publicKey), .ES384):
            guard let parsed = try? P384.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return publicKey.isValidSignature(parsed, for: SHA384.hash(data: signingInput))
        case (.p521(let publicKey), .ES512):
            guard let parsed = try? P521.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return publicKey.isValidSignature(parsed, for: SHA512.hash(data: signingInput))

        case (.ed25519(let publicKey), .EdDSA):
            return publicKey.isValidSignature(signature, for: signingInput)

        default:
            return false
        }
    }

    private static func rsa(
        _ key: _RSA.Signing.PublicKey, _ signature: UnsafeRawBufferPointer, _ digest: some Digest, _ padding: _RSA.Signing.Padding
    ) -> Bool {
        // BoringSSL rejects a signature whose length differs from the modulus.
        key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: digest, padding: padding)
    }
}
