/// What a revocation just stored names, as far as an open tunnel needs to know: the tunnels
/// carrying a matching token are checked again at once instead of at their next recheck.
public enum RevocationNotice: Sendable, Hashable {
    case jti(String)
    /// A subject cut-off: every token of that subject is checked again (its `iat` decides).
    case subject(String)
    /// A raw token was revoked; only its hash is known, so every tunnel is checked again.
    case rawToken
}

/// A store that can say, as it happens, that something was revoked: the embedded store does
/// (every revocation goes through it); a store written by others (Redis without a local
/// cache) does not, and its tunnels rely on the periodic recheck alone.
public protocol RevocationFeed: AnyObject, Sendable {
    /// `observer` is called after each revocation is stored, on the thread that stored it (an
    /// admin request or a logout, never a request's store lookup). It must only hand the notice on.
    func observeRevocations(_ observer: @escaping @Sendable (RevocationNotice) -> Void)
}
