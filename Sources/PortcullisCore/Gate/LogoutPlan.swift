/// `proxy.logout_path`: what a logout at the gate revokes before the request goes on to the
/// application's own logout.
public struct LogoutPlan: Sendable {
    public enum Revocation: Sendable, Equatable {
        case jti(String, expiresAt: Double?)
        case rawToken(String, expiresAt: Double?)
    }

    /// Empty when the feature is off.
    public let path: String

    public init(path: String) { self.path = path }

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

    /// Writes a logout's revocations (reason `logout`), in order; the first failure stops it.
    public static func store(_ revocations: [Revocation], in store: RevocationStore) async throws {
        for revocation in revocations {
            switch revocation {
            case .jti(let jti, let expiresAt):
                _ = try await store.revoke(jti: jti, expiresAt: expiresAt, reason: "logout")
            case .rawToken(let token, let expiresAt):
                _ = try await store.revoke(rawToken: token, expiresAt: expiresAt, reason: "logout")
            }
        }
    }
}
