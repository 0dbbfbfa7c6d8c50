/// What the gate asks the store about one verified token.
public struct RevocationQuery: Sendable {
    public var jti: String?
    public var subject: String?
    /// `iat` of the token; a subject cut-off revokes tokens issued at or before it, and tokens without `iat`.
    public var issuedAt: Double?
    /// The raw compact token, present only when raw-token revocation is enabled.
    public var rawToken: Substring?

    public init(jti: String?, subject: String?, issuedAt: Double?, rawToken: Substring? = nil) {
        self.jti = jti
        self.subject = subject
        self.issuedAt = issuedAt
        self.rawToken = rawToken
    }
}

public enum RevocationVerdict: Sendable, Equatable {
    case allowed
    case revoked
    /// The store could not answer (down, or slower than `revocation.timeout`).
    case unavailable
}

/// One revoked jti as the admin API reports it.
public struct RevocationRecord: Sendable, Equatable {
    public var jti: String
    public var expiresAt: Double
    public var ttlSeconds: Int
    public var reason: String?

    public init(jti: String, expiresAt: Double, ttlSeconds: Int, reason: String? = nil) {
        self.jti = jti
        self.expiresAt = expiresAt
        self.ttlSeconds = ttlSeconds
        self.reason = reason
    }
}

public struct SubjectCutoff: Sendable, Equatable {
    public var subject: String
    public var revokedBefore: Double
    public var ttlSeconds: Int

    public init(subject: String, revokedBefore: Double, ttlSeconds: Int) {
        self.subject = subject
        self.revokedBefore = revokedBefore
        self.ttlSeconds = ttlSeconds
    }
}

public struct RevocationPage: Sendable, Equatable {
    public var items: [RevocationRecord]
    public var nextCursor: String?

    public init(items: [RevocationRecord], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }
}

/// Where revocations live. The memory store and the Redis store both implement it.
///
/// The per-request check is split in two so that a store which can answer from memory
/// does so inline on the event loop without allocating a callback.
public protocol RevocationStore: AnyObject, Sendable {
    /// The verdict when the store can give it without waiting, else nil (then `check` is used).
    func immediateVerdict(_ query: RevocationQuery) -> RevocationVerdict?

    /// Answers exactly once through `answer`, on the thread that called `check` or later on it.
    func check(_ query: RevocationQuery, answer: @escaping @Sendable (RevocationVerdict) -> Void)

    /// Stores a revocation; when this returns, every gate reading this store rejects the jti.
    /// `expiresAt` nil means `revocation.max_ttl` from now.
    func revoke(jti: String, expiresAt: Double?, reason: String?) async throws(RevocationStoreError) -> RevocationRecord
    /// Revokes a raw token that carries no jti.
    func revoke(rawToken: String, expiresAt: Double?, reason: String?) async throws(RevocationStoreError) -> Int
    func lookup(jti: String) async throws(RevocationStoreError) -> RevocationRecord?
    /// Returns false when there was nothing to remove.
    func unrevoke(jti: String) async throws(RevocationStoreError) -> Bool
    func list(limit: Int, cursor: String?) async throws(RevocationStoreError) -> RevocationPage
    func revokeSubject(_ subject: String, before: Double) async throws(RevocationStoreError) -> SubjectCutoff
    func unrevokeSubject(_ subject: String) async throws(RevocationStoreError) -> Bool

    /// True when the store answers lookups.
    func isReady() async -> Bool
}

/// A store failure, rendered by the admin API as 503 (unavailable) or 400 (bad cursor).
public struct RevocationStoreError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable {
        case unavailable
        case durability
        /// `revocation.write_replicas` replicas did not confirm the write in time (INTERFACE §4).
        case notReplicated
        case badCursor
    }

    public var code: Code
    public var detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code.rawValue): \(detail)" }
}
