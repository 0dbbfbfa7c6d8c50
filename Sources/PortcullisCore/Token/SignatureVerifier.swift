import Crypto
import Foundation
import _CryptoExtras

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
        case (.hmac(let key), .HS256):
            return key.sha256.isValid(signature, for: signingInput)
        case (.hmac(let key), .HS384):
            return key.sha384.isValid(signature, for: signingInput)
        case (.hmac(let key), .HS512):
            return key.sha512.isValid(signature, for: signingInput)

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
