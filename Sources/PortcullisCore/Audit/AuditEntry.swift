/// What an audit entry says was done.
public enum AuditAction: String, Sendable, Equatable, CaseIterable {
    case revoke
    case unrevoke
    case revokeSubject = "revoke_subject"
    case unrevokeSubject = "unrevoke_subject"
    /// A revocation made by `proxy.logout_path`, one per token it revoked.
    case logout
}

/// One change to the revocations, as the audit keeps it: who, what, on what, why, from where.
public struct AuditEntry: Sendable, Equatable {
    /// Unix time in seconds, fractional.
    public var time: Double
    /// The admin credential's name, or `logout` for the logout path.
    public var actor: String
    public var action: AuditAction
    /// The jti, the subject, or `AuditEntry.target(ofRawToken:)` for a raw token without jti.
    public var target: String
    public var reason: String?
    /// The caller's address, when known.
    public var peer: String?

    public init(time: Double, actor: String, action: AuditAction, target: String, reason: String?, peer: String?) {
        self.time = time
        self.actor = actor
        self.action = action
        self.target = target
        self.reason = reason
        self.peer = peer
    }

    /// The actor of every entry the logout path writes.
    public static let logoutActor = "logout"

    /// How a raw token without jti is named in the audit: the first 12 hex digits of its
    /// SHA-256. Enough to match it against a token an operator holds; never the token itself.
    public static func target(ofRawToken token: some StringProtocol) -> String {
        String(MemoryRevocationStore.sha256Hex(Substring(token)).prefix(12))
    }
}

/// One page of the audit, newest first; `nextCursor` continues with older entries.
public struct AuditPage: Sendable, Equatable {
    public var items: [AuditEntry]
    public var nextCursor: String?

    public init(items: [AuditEntry], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }
}

/// Where the audit lives: beside the revocations, in the same store, so every Portcullis
/// sharing that store reads the same audit. Each store keeps at most `admin.audit_max_entries`
/// (dropping the oldest).
public protocol AuditTrail: AnyObject, Sendable {
    /// Appends one entry; when this returns it is stored.
    func record(_ entry: AuditEntry) async throws(RevocationStoreError)
    /// Newest first, `limit` at most; `cursor` is a `nextCursor` this store issued (a bad one
    /// throws `.badCursor`).
    func page(limit: Int, cursor: String?) async throws(RevocationStoreError) -> AuditPage
}
