/// Why key material was refused at start or reload. `message` names the
/// problem and the key it concerns, and never quotes secret material.
public struct KeyTableError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        /// No HMAC secret, PEM or JWKS given, or no algorithm configured.
        case noKeys
        /// An HMAC secret shorter than the output of a configured HS hash.
        case weakSecret
        /// An RSA modulus under 2048 bits.
        case weakRSAKey
        /// The PEM text is not a public RSA, EC (P-256/384/521) or Ed25519 key.
        case invalidPEM
        /// The JWKS document or one of its keys is malformed or unsupported.
        case invalidJWKS
        /// A configured algorithm no key can verify, or a key no configured algorithm uses.
        case algorithmMismatch
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
