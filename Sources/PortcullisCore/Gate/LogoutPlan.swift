/// `proxy.logout_path`: what a logout at the gate revokes before the request goes on to the
/// application's own logout.
public struct LogoutPlan: Sendable {
    public enum Revocation: Sendable, Equatable {
        case jti(String, expiresAt: Double?)
        case rawToken(String, expiresAt: Double?)
    }

    /// Empty when the feature is off.
    public let path: String
    /// Where each revocation made here is recorded (actor `logout`); nil records nothing.
    public let audit: AuditRecorder?

    public init(path: String, audit: AuditRecorder? = nil) {
        self.path = path
        self.audit = audit
    }

    public func applies(to target: RequestTarget) -> Bool {
        !path.isEmpty && target.path == path
    }

    /// The presented token, plus the refresh token from the `refresh_token_cookie` cookie or
    /// the `X-Refresh-Token` header when it verifies and has not expired. A token without `jti`
    /// is revoked as a raw token when raw-token revocation is on, else it cannot be revoked.
    public func revocations(token: VerifiedToken, query: RevocationQuery, headers: some RequestHeaders,
                            gate: Gate, now: Double) -> [Revocation] {
        var result: [Revocation] = []
        if let jti = token.claims.jti {
            result.append(.jti(jti, expiresAt: token.claims.exp))
        } else if let raw = query.rawToken {
            result.append(.rawToken(String(raw), expiresAt: token.claims.exp))
        }
        let refreshExtractor = TokenExtractor(locations: [.cookies], headerName: "X-Refresh-Token", headerType: "",
                                              cookieName: "refresh_token_cookie", queryParameter: "")
        let presented = refreshExtractor.fromCookies(headers) ?? refreshExtractor.fromHeader(headers)
        if let presented, !presented.isEmpty,
           let refresh = try? gate.verifier.verifySignature(presented),
           (refresh.claims.exp ?? .infinity) > now {
            if let jti = refresh.claims.jti {
                if !result.contains(.jti(jti, expiresAt: refresh.claims.exp)) {
                    result.append(.jti(jti, expiresAt: refresh.claims.exp))
                }
            } else if gate.revokesRawTokens {
                result.append(.rawToken(String(presented), expiresAt: refresh.claims.exp))
            }
        }
        return result
    }

    /// Writes a logout's revocations (reason `logout`), in order, each then recorded in the
    /// audit with the client's address `peer`; the first failure stops it.
    public func store(_ revocations: [Revocation], in store: RevocationStore, peer: String?) async throws {
        for revocation in revocations {
            let target: String
            switch revocation {
            case .jti(let jti, let expiresAt):
                _ = try await store.revoke(jti: jti, expiresAt: expiresAt, reason: Self.reason)
                target = jti
            case .rawToken(let token, let expiresAt):
                _ = try await store.revoke(rawToken: token, expiresAt: expiresAt, reason: Self.reason)
                target = AuditEntry.target(ofRawToken: token)
            }
            await audit?.record(.logout, actor: AuditEntry.logoutActor, target: target, reason: Self.reason, peer: peer)
        }
    }

    /// The reason every logout revocation is stored with.
    public static let reason = "logout"
}
