import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Verifies compact JWS tokens (RFC 7515 §7.1) against a key table and policy.
///
/// Pure and synchronous: it runs inline on the event loop for every request,
/// so it takes no locks, starts no tasks, and decodes into stack buffers.
/// The checks run in a fixed order and the first failure is reported:
/// compact form and base64url → header JSON → `alg` allowed → key selection
/// → signature → payload JSON → exp → nbf → iat → iss → aud → type.
/// Nothing in the payload is read before its signature has verified.
///
/// Key selection. `alg` never picks a key type by itself: a key verifies only
/// the algorithms of its type (and of its JWK `alg`, when given):
/// - header `kid` and the table has keys with IDs: only keys with that exact
///   `kid` are candidates; none → `unknownKey`.
/// - header `kid` but no key has an ID (a lone secret or PEM): `kid` is a hint and ignored.
/// - no `kid`: every key is a candidate, in table order (secret, PEM, JWKS in
///   document order). Each candidate whose algorithm fits is tried until one
///   verifies, so a kid-less token costs at most one verification per such key.
/// Candidates exist but none fits `alg` → `algorithmNotAllowed`; fitting keys
/// exist but none verifies → `badSignature`.
public struct TokenVerifier: Sendable {
    /// One immutable reference, so the closures of the request path copy a
    /// pointer instead of every array and string of the configuration.
    private final class Configuration: Sendable {
        let keys: [VerificationKey]
        let usesKeyIDs: Bool
        let allowed: AlgorithmSet
        let claimsParser: ClaimsParser
        let claimValidator: ClaimValidator
        /// Unique per verifier ever built: unlike an object address, never reused after a reload.
        let generation: UInt64

        private static let generations = Atomic<UInt64>(0)

        init(keys: KeyTable, policy: TokenPolicy) {
            self.generation = Self.generations.add(1, ordering: .relaxed).newValue
            self.keys = keys.keys
            self.usesKeyIDs = keys.usesKeyIDs
            self.allowed = AlgorithmSet(policy.algorithms)
            self.claimsParser = ClaimsParser(capturedClaims: policy.capturedClaims, readsScopes: policy.readsScopes)
            self.claimValidator = ClaimValidator(policy: policy)
        }
    }

    private let configuration: Configuration

    public init(keys: KeyTable, policy: TokenPolicy) {
        self.configuration = Configuration(keys: keys, policy: policy)
    }

    /// Verifies the compact JWS and its claims at time `now` (seconds since 1970).
    public func verify(_ token: Substring, now: Double) throws(TokenError) -> VerifiedToken {
        let verified = try verifySignature(token)
        try configuration.claimValidator.validate(verified.claims, now: now)
        return verified
    }

    /// The claim checks of `verify` alone (exp, nbf, iat, iss, aud, type), for a token whose
    /// signature verified earlier (the verified-token cache).
    public func validate(_ claims: TokenClaims, now: Double) throws(TokenError) {
        try configuration.claimValidator.validate(claims, now: now)
    }

    /// `verify` with the token type a route demands instead of the policy's.
    public func verify(_ token: Substring, now: Double, requiredType: TokenPolicy.RequiredType) throws(TokenError) -> VerifiedToken {
        let verified = try verifySignature(token)
        try configuration.claimValidator.validate(verified.claims, now: now, requiredType: requiredType)
        return verified
    }

    /// `validate` with the token type a route demands instead of the policy's.
    public func validate(_ claims: TokenClaims, now: Double, requiredType: TokenPolicy.RequiredType) throws(TokenError) {
        try configuration.claimValidator.validate(claims, now: now, requiredType: requiredType)
    }

    /// From when (seconds since 1970) `verify` refuses a token with these claims as expired
    /// (`exp` plus the leeway); nil when it never expires. An open tunnel is closed then.
    public func expiryInstant(of claims: TokenClaims) -> Double? {
        configuration.claimValidator.expiryInstant(of: claims)
    }

    /// Identifies the key table and policy: cached verdicts of one verifier are not valid for
    /// another. A counter, not an object address: a freed verifier's address can be reused.
    public var identity: UInt64 { configuration.generation }

    /// Signature only + claims parsing, no time/iss/aud/type checks (used by the admin API when revoking by token).
    public func verifySignature(_ token: Substring) throws(TokenError) -> VerifiedToken {
        let result = token.utf8.withContiguousStorageIfAvailable { buffer in
            Result { () throws(TokenError) -> VerifiedToken in try verifySignature(bytes: UnsafeRawBufferPointer(buffer)) }
        }
        if let result { return try result.get() }
        // Only bridged or otherwise non-contiguous strings get here.
        let copy = Array(token.utf8)
        return try copy.withUnsafeBytes { buffer in
            Result { () throws(TokenError) -> VerifiedToken in try verifySignature(bytes: buffer) }
        }.get()
    }

    private func verifySignature(bytes token: UnsafeRawBufferPointer) throws(TokenError) -> VerifiedToken {
        let segments = try CompactSegments(token)
        guard let headerCount = Base64URL.decodedCount(encodedCount: segments.header.count),
              let payloadCount = Base64URL.decodedCount(encodedCount: segments.payload.count),
              let signatureCount = Base64URL.decodedCount(encodedCount: segments.signature.count)
        else {
            throw .malformed("a segment has a length no base64url text can have")
        }
        return try withUnsafeTemporaryAllocation(byteCount: headerCount + payloadCount + signatureCount, alignment: 1) {
            (scratch) throws(TokenError) -> VerifiedToken in
            let header = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<headerCount])
            let payload = UnsafeMutableRawBufferPointer(rebasing: scratch[headerCount..<headerCount + payloadCount])
            let signature = UnsafeMutableRawBufferPointer(rebasing: scratch[headerCount + payloadCount..<scratch.count])
            guard Base64URL.decode(UnsafeRawBufferPointer(rebasing: token[segments.header]), into: header) != nil else {
                throw .malformed("header is not canonical unpadded base64url")
            }
            guard Base64URL.decode(UnsafeRawBufferPointer(rebasing: token[segments.payload]), into: payload) != nil else {
                throw .malformed("payload is not canonical unpadded base64url")
            }
            guard Base64URL.decode(UnsafeRawBufferPointer(rebasing: token[segments.signature]), into: signature) != nil else {
                throw .malformed("signature is not canonical unpadded base64url")
            }

            let headerBytes = UnsafeRawBufferPointer(header)
            let jose = try JOSEHeader.parse(headerBytes)
            let algorithm = try allowedAlgorithm(jose.algorithm)
            let keyID = try verifySignature(
                UnsafeRawBufferPointer(signature),
                of: UnsafeRawBufferPointer(rebasing: token[segments.signingInput]),
                algorithm: algorithm,
                keyID: jose.keyID,
                in: JSONScanner(headerBytes)
            )
            let claims = try configuration.claimsParser.parse(UnsafeRawBufferPointer(payload))
            return VerifiedToken(algorithm: algorithm, keyID: keyID, claims: claims)
        }
    }

    private func allowedAlgorithm(_ algorithm: JOSEHeader.Algorithm) throws(TokenError) -> JWTAlgorithm {
        switch algorithm {
        case .none:
            throw TokenError(.algorithmNotAllowed, "alg \"none\" (unsecured JWS) is never accepted")
        case .unsupported:
            throw TokenError(.algorithmNotAllowed, "alg is not a supported JWS algorithm")
        case .supported(let algorithm):
            guard configuration.allowed.contains(algorithm) else {
                throw TokenError(.algorithmNotAllowed, "alg \(algorithm.rawValue) is not a configured algorithm")
            }
            return algorithm
        }
    }

    /// Picks candidate keys as described on the type and returns the `kid` to report.
    private func verifySignature(
        _ signature: UnsafeRawBufferPointer,
        of signingInput: UnsafeRawBufferPointer,
        algorithm: JWTAlgorithm,
        keyID: JSONString?,
        in header: JSONScanner
    ) throws(TokenError) -> String? {
        let keys = configuration.keys
        let selectByKeyID = keyID != nil && configuration.usesKeyIDs
        var sawKeyWithKeyID = false
        var sawFittingKey = false
        // Indices, not `for key in keys`: that copies each entry and retains its material.
        for index in keys.indices {
            if selectByKeyID, let keyID {
                guard keys[index].keyID != nil, header.string(keyID, equals: keys[index].keyIDBytes) else { continue }
                sawKeyWithKeyID = true
            }
            guard keys[index].algorithms.contains(algorithm) else { continue }
            sawFittingKey = true
            if SignatureVerifier.isValid(signature, of: signingInput, algorithm: algorithm, key: keys[index].material) {
                return keys[index].keyID ?? keyID.map { header.string($0) }
            }
        }
        if selectByKeyID, !sawKeyWithKeyID {
            throw TokenError(.unknownKey, "no key has \(Self.describe(keyID, in: header))")
        }
        guard sawFittingKey else {
            let scope = selectByKeyID ? "the key with \(Self.describe(keyID, in: header))" : "no configured key"
            throw TokenError(.algorithmNotAllowed, "alg \(algorithm.rawValue) does not fit \(scope)")
        }
        throw TokenError(.badSignature, "signature does not verify")
    }

    /// The `kid` for a log line when it is short printable ASCII; otherwise it is withheld.
    private static func describe(_ keyID: JSONString?, in header: JSONScanner) -> String {
        guard let keyID else { return "no kid" }
        let bytes = header.unescapedBytes(keyID)
        let printable = bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
        guard printable, bytes.count <= 64 else { return "the given kid" }
        return "kid \"\(String(decoding: bytes, as: UTF8.self))\""
    }
}

/// Where the three parts of a compact JWS lie in the token text.
private struct CompactSegments {
    let header: Range<Int>
    let payload: Range<Int>
    let signature: Range<Int>

    /// The ASCII `header.payload` that the signature covers (RFC 7515 §5.1 step 8).
    var signingInput: Range<Int> { header.lowerBound..<payload.upperBound }

    init(_ token: UnsafeRawBufferPointer) throws(TokenError) {
        // memchr is vectorised; the dots are the only bytes this pass needs.
        guard let base = token.baseAddress,
              let firstDot = memchr(base, Int32(UInt8(ascii: ".")), token.count)
        else { throw .malformed("token does not have three dot-separated segments") }
        let first = base.distance(to: UnsafeRawPointer(firstDot))
        guard let secondDot = memchr(base + first + 1, Int32(UInt8(ascii: ".")), token.count - first - 1) else {
            throw .malformed("token does not have three dot-separated segments")
        }
        let second = base.distance(to: UnsafeRawPointer(secondDot))
        if memchr(base + second + 1, Int32(UInt8(ascii: ".")), token.count - second - 1) != nil {
            // Five segments would be JWE, which we do not accept either.
            throw .malformed("token has more than three segments")
        }
        header = 0..<first
        payload = first + 1..<second
        signature = second + 1..<token.count
        guard !header.isEmpty else { throw .malformed("header segment is empty") }
        guard !payload.isEmpty else { throw .malformed("payload segment is empty") }
        // An empty signature is the unsecured JWS of RFC 7515 §A.5; whatever alg says, it never verifies.
        guard !signature.isEmpty else { throw .malformed("signature segment is empty") }
    }
}
