import Foundation
import PortcullisCore

/// Where each kind of revocation lives in Redis (INTERFACE §5), and how one request's keys are
/// asked about.
///
/// A jti or raw-token key revokes when it exists, whatever its type or value: an application
/// may have written it with `SET`, `SADD` or `HSET`. So those are asked with `EXISTS` (a `GET`
/// or `MGET` would read a set or a hash as "not there"); only the subject cut-off, whose value
/// matters, is read with `GET`. One command per key, so that no command spans hash slots.
struct RedisKeyLayout: Sendable {
    let jti: KeyTemplate
    let subject: KeyTemplate
    let token: KeyTemplate?
    /// Redis Cluster: the reason key must live in its jti key's slot (see `reasonKey(of:)`).
    let cluster: Bool

    init(jtiKey: String, subjectKey: String, tokenKey: String, cluster: Bool = false) throws(RevocationStoreError) {
        self.cluster = cluster
        guard let jti = KeyTemplate(jtiKey, placeholder: "{jti}"),
              let subject = KeyTemplate(subjectKey, placeholder: "{sub}")
        else { throw RevocationStoreError(.unavailable, "revocation key templates must contain {jti} and {sub}") }
        self.jti = jti
        self.subject = subject
        self.token = KeyTemplate(tokenKey, placeholder: "{token}")
    }

    /// Where the reason of a jti revocation is kept: beside the jti key, never inside it, since
    /// the jti key's value is `1` for anyone reading the layout of INTERFACE §5. The prefix has
    /// no `{`, so a jti key's hash tag stays the reason key's hash tag.
    static let reasonKeyPrefix = "portcullis:reason:"

    ///
    /// On a cluster, a jti key without a hash tag is wrapped in braces
    /// (`portcullis:reason:{blocklist:abc}`), so that its whole name is the reason key's hash
    /// tag: both keys hash alike and the `MULTI` that writes them stays in one slot. Where even
    /// that cannot match (a jti key holding a `}` but no tag), nil: no reason is kept.
    func reasonKey(of jtiKey: String) -> String? {
        let plain = Self.reasonKeyPrefix + jtiKey
        guard cluster else { return plain }
        let slot = RedisClusterSlots.slot(of: jtiKey)
        if RedisClusterSlots.slot(of: plain) == slot { return plain }
        let wrapped = Self.reasonKeyPrefix + "{" + jtiKey + "}"
        return RedisClusterSlots.slot(of: wrapped) == slot ? wrapped : nil
    }

    /// The audit stream (INTERFACE §5), beside the revocation keys.
    static let auditKey = "portcullis:audit"

    /// A key of the jti template that is neither a reason key nor the audit stream; with a
    /// template as broad as `{jti}`, `SCAN MATCH` also returns those, which are never listed as jtis.
    func isJTIKey(_ key: String) -> Bool {
        guard jti.value(in: key) != nil, key != Self.auditKey else { return false }
        guard key.hasPrefix(Self.reasonKeyPrefix) else { return true }
        return jti.value(in: String(key.dropFirst(Self.reasonKeyPrefix.count))) == nil
    }

    /// True when the query names no key this layout stores: the answer is "allowed" at once.
    func asksNothing(_ query: RevocationQuery) -> Bool {
        query.jti == nil && query.subject == nil && (query.rawToken == nil || token == nil)
    }

    /// The commands of one request's lookup, or nil when it has no key to ask about.
    func lookup(_ query: RevocationQuery) -> RedisLookup? {
        var keys: [String] = []
        var cachedKeys: [RedisCachedKey] = []
        if let value = query.jti {
            keys.append(jti.key(value))
            cachedKeys.append(.jti(value))
        }
        if let template = token, let raw = query.rawToken {
            keys.append(template.key(raw))
            cachedKeys.append(.token(String(raw)))
        }
        let existenceChecks = keys.count
        if let value = query.subject {
            keys.append(subject.key(value))
            cachedKeys.append(.subject(value))
        }
        guard !keys.isEmpty else { return nil }
        return RedisLookup(keys: keys, cachedKeys: cachedKeys, existenceChecks: existenceChecks,
                           asksSubject: query.subject != nil, issuedAt: query.issuedAt)
    }

    /// The verdict from the local cache when it holds every key of the query, else nil. The
    /// per-request path of a cache hit: no key name is built, nothing is allocated (but for a
    /// raw token, when `revocation.token_key` is set).
    func cachedVerdict(_ query: RevocationQuery, in cache: RedisLoopCache) -> RevocationVerdict? {
        if let value = query.jti {
            guard case .absent = cache.entry(.jti(value)) else { return nil }
        }
        if token != nil, let raw = query.rawToken {
            guard case .absent = cache.entry(.token(String(raw))) else { return nil }
        }
        guard let value = query.subject else { return .allowed }
        switch cache.entry(.subject(value)) {
        case nil: return nil
        case .absent: return .allowed
        case .cutoff(let cutoff):
            if let iat = query.issuedAt, iat > cutoff { return .allowed }
            return .revoked
        }
    }

    /// What an invalidated Redis key was to the cache: a jti, a raw token or a subject key
    /// (one name may fit more than one template when they overlap, or be a reason key that
    /// fits a broad jti template: dropping too much only costs a lookup).
    func cachedKeys(of name: String) -> [RedisCachedKey] {
        var keys: [RedisCachedKey] = []
        if let value = jti.value(in: name) { keys.append(.jti(value)) }
        if let value = token?.value(in: name) { keys.append(.token(value)) }
        if let value = subject.value(in: name) { keys.append(.subject(value)) }
        return keys
    }

    /// What `BCAST PREFIX` tracks for the local cache: every key a lookup reads.
    var trackedPrefixes: [String] {
        RedisTracking.prefixes(of: [jti.prefix, subject.prefix] + (token.map { [$0.prefix] } ?? []))
    }
}

/// One request's lookup: `EXISTS` for each revoking key, then `GET` of the subject cut-off.
struct RedisLookup: Sendable {
    /// The revoking keys (asked with `EXISTS`), then the subject key (asked with `GET`).
    var keys: [String]
    /// The same keys as the local cache names them.
    var cachedKeys: [RedisCachedKey]
    var existenceChecks: Int
    var asksSubject: Bool
    var issuedAt: Double?

    var commands: [[String]] {
        keys.enumerated().map { index, key in [index < existenceChecks ? "EXISTS" : "GET", key] }
    }

    /// What the replies say that the cache may keep: keys that do not exist, a subject's cut-off.
    func fill(_ cache: RedisLoopCache, from replies: [RedisReply], sentAt epoch: UInt64) {
        guard replies.count == keys.count else { return }
        for (index, reply) in replies.enumerated() {
            switch reply {
            case .integer(0) where index < existenceChecks: cache.fill(cachedKeys[index], .absent, sentAt: epoch)
            case .null where index >= existenceChecks: cache.fill(cachedKeys[index], .absent, sentAt: epoch)
            case .string where index >= existenceChecks:
                cache.fill(cachedKeys[index], .cutoff(Self.cutoff(reply)), sentAt: epoch)
            default: break
            }
        }
    }

    /// The verdict from the replies, in command order. An error reply (a node loading its
    /// data, a refused command) is not an answer: unavailable.
    func verdict(_ replies: [RedisReply]) -> RevocationVerdict {
        guard replies.count == commands.count else { return .unavailable }
        for reply in replies.prefix(existenceChecks) {
            guard case .integer(let count) = reply else { return .unavailable }
            if count > 0 { return .revoked }
        }
        guard asksSubject else { return .allowed }
        switch replies[existenceChecks] {
        case .null:
            return .allowed
        case .error(let message) where message.hasPrefix("WRONGTYPE"):
            // A cut-off that is not a string revokes everything of that subject: fail safe.
            return .revoked
        case .error:
            return .unavailable
        case let reply:
            if let iat = issuedAt, iat > Self.cutoff(reply) { return .allowed }
            return .revoked
        }
    }

    /// A subject key's value as a cut-off; one that is not a number revokes everything of that
    /// subject: fail safe.
    static func cutoff(_ reply: RedisReply) -> Double {
        reply.text.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) } ?? .infinity
    }
}
