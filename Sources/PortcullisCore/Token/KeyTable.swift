/// The verification keys, built once at start or reload and then only read.
///
/// Order matters for tokens without `kid` (see `TokenVerifier`): the HMAC
/// secret first, then the PEM key, then JWKS keys in document order.
public struct KeyTable: Sendable {
    package let keys: [VerificationKey]
    /// True when some key has a `kid`; a token's unknown `kid` is then a refusal instead of a hint.
    package let usesKeyIDs: Bool

    /// Builds the table, refusing weak or unusable material:
    /// - an HMAC secret shorter than the hash output of any configured HS algorithm (RFC 7518 §3.2);
    /// - RSA moduli under 2048 bits;
    /// - a PEM that is not a public RSA, EC P-256/384/521 or Ed25519 key, or that no configured algorithm uses;
    /// - a malformed JWKS, or one with no key usable with `algorithms`;
    /// - without a JWKS, a configured algorithm that no key can verify. (A JWKS is
    ///   exempt: an IdP may not publish a key for every algorithm at every moment.)
    ///
    /// `remoteJWKSPending` is set while `jwt.jwks_url` has not been fetched yet: the table then
    /// holds only the local keys (possibly none), and a token naming a `kid` is an unknown key.
    public init(hmacSecret: [UInt8]?, publicKeyPEM: String?, jwksJSON: String?, algorithms: Set<JWTAlgorithm>,
                remoteJWKSPending: Bool = false) throws(KeyTableError) {
        let allowed = AlgorithmSet(algorithms)
        guard !allowed.isEmpty else { throw KeyTableError(.noKeys, "no JWT algorithm is configured") }
        guard hmacSecret != nil || publicKeyPEM != nil || jwksJSON != nil || remoteJWKSPending else {
            throw KeyTableError(.noKeys, "no key is configured: give an HMAC secret, a public key PEM or a JWKS")
        }
        var keys = [VerificationKey]()

        if let hmacSecret {
            guard !hmacSecret.isEmpty else { throw KeyTableError(.weakSecret, "HMAC secret is empty") }
            let usable = allowed.intersection(.hmac)
            try Self.checkSecretLength(hmacSecret.count, for: usable, source: "HMAC secret")
            // A secret with no HS algorithm configured is inert rather than an error: it may be kept for `mint`.
            if !usable.isEmpty {
                keys.append(VerificationKey(keyID: nil, algorithms: usable, material: .hmac(HMACKey(hmacSecret))))
            }
        }

        if let publicKeyPEM {
            let material = try PEMKeyLoader.load(publicKeyPEM)
            let usable = allowed.intersection(material.compatibleAlgorithms)
            guard !usable.isEmpty else {
                throw KeyTableError(
                    .algorithmMismatch,
                    "public key PEM is \(material.kindDescription), usable for \(material.compatibleAlgorithms.names), "
                        + "but the configured algorithms are \(allowed.names)"
                )
            }
            keys.append(VerificationKey(keyID: nil, algorithms: usable, material: material))
        }

        if let jwksJSON {
            let loaded = try JWKSLoader.load(jwksJSON, allowed: allowed)
            guard !loaded.isEmpty else {
                throw KeyTableError(.invalidJWKS, "JWKS has no signing key usable with the configured algorithms (\(allowed.names))")
            }
            keys += loaded
        } else if !remoteJWKSPending {
            let covered = keys.reduce(into: AlgorithmSet()) { $0.formUnion($1.algorithms) }
            let uncovered = allowed.subtracting(covered)
            guard uncovered.isEmpty else {
                throw KeyTableError(.algorithmMismatch, "no configured key can verify \(uncovered.names)")
            }
        }

        self.keys = keys
        self.usesKeyIDs = remoteJWKSPending || keys.contains { $0.keyID != nil }
    }

    /// RFC 7518 §3.2: an HS key must be at least as long as the hash output.
    package static func checkSecretLength(_ byteCount: Int, for algorithms: AlgorithmSet, source: String) throws(KeyTableError) {
        for (algorithm, minimum) in [(JWTAlgorithm.HS256, 32), (.HS384, 48), (.HS512, 64)]
        where algorithms.contains(algorithm) && byteCount < minimum {
            throw KeyTableError(
                .weakSecret, "\(source) is \(byteCount) bytes; \(algorithm.rawValue) needs at least \(minimum) (its hash output)"
            )
        }
    }

    /// The number of keys in the table.
    public var count: Int { keys.count }

    /// One line per key for `check-config` and logs, e.g. `JWKS key kid "a1": a 2048-bit RSA key for RS256`;
    /// never shows secret material.
    public var keyDescriptions: [String] {
        keys.map { key in
            let name = key.keyID.map { "key kid \"\($0)\"" } ?? "key"
            return "\(name): \(key.material.kindDescription) for \(key.algorithms.names)"
        }
    }
}
