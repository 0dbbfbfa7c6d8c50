/// Remembers tokens whose signature verified, for every algorithm (HS included): a token seen
/// before costs a hash probe instead of a signature check (HS256 about 3 µs here, RS/ES/EdDSA
/// 20–90 µs), so the per-request work is the probe, the claim checks and the store lookup.
///
/// One cache per event loop, used only from that loop's thread: no locks. Keyed by the whole
/// token, so a hit means these exact bytes verified before under the same key table; a new
/// verifier (reload, key rotation) empties it. Only the signature verdict and the parsed claims
/// are kept: the claim checks (exp, nbf, iat, iss, aud, type) and the revocation lookup still
/// run on every request. Bounded: at capacity expired entries go first, then everything.
public final class VerifiedTokenCache {
    private struct Entry {
        var token: VerifiedToken
        /// When the entry stops being useful: the token's `exp`, or `maxAge` for tokens without one.
        var dropAt: Double
    }

    public let capacity: Int
    /// How long a token without `exp` is remembered.
    public let maxAge: Double
    private var entries: [Substring: Entry] = [:]
    private var owner: UInt64?

    public init(capacity: Int = 4096, maxAge: Double = 300) {
        self.capacity = capacity
        self.maxAge = maxAge
    }

    public var count: Int { entries.count }

    public func lookup(_ token: Substring, verifier: TokenVerifier, now: Double) -> VerifiedToken? {
        guard owner == verifier.identity, let entry = entries[token] else { return nil }
        guard entry.dropAt > now else {
            entries[token] = nil
            return nil
        }
        return entry.token
    }

    public func insert(_ token: Substring, _ verified: VerifiedToken, verifier: TokenVerifier, now: Double) {
        if owner != verifier.identity {
            entries.removeAll(keepingCapacity: true)
            owner = verifier.identity
        }
        let dropAt = verified.claims.exp ?? (now + maxAge)
        guard dropAt > now else { return }
        if entries.count >= capacity {
            entries = entries.filter { $0.value.dropAt > now }
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        }
        // A copy, so the cache does not keep the whole request header string alive.
        entries[Substring(String(token))] = Entry(token: verified, dropAt: dropAt)
    }
}
