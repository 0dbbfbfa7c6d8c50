/// The time, issuer, audience and type checks, applied to claims whose
/// signature has already been verified, in this order: exp, nbf, iat, iss, aud, type.
///
/// Time rules are PyJWT's (2.x `api_jwt.py`), so a token is judged exactly
/// as the AuthX backend behind us would judge it. PyJWT truncates each time
/// claim to an integer first (`int(exp)`), which matters for AuthX's float
/// times:
/// - expired        when `trunc(exp) <= now - leeway` (so `exp == now` is already expired);
/// - not yet valid  when `trunc(nbf) >  now + leeway`;
/// - issued in future when `trunc(iat) > now + leeway`.
/// A missing `exp`, `nbf` or `iat` is not checked.
package struct ClaimValidator: Sendable {
    package let policy: TokenPolicy

    package init(policy: TokenPolicy) {
        self.policy = policy
    }

    package func validate(_ claims: TokenClaims, now: Double) throws(TokenError) {
        try validate(claims, now: now, requiredType: policy.requiredType)
    }

    /// As above, with the token type a route demands in place of `policy.requiredType`.
    package func validate(_ claims: TokenClaims, now: Double, requiredType: TokenPolicy.RequiredType) throws(TokenError) {
        let leeway = policy.leewaySeconds
        if let exp = claims.exp, exp.rounded(.towardZero) <= now - leeway {
            throw TokenError(.expired, "exp \(Self.format(exp)) is not after now \(Self.format(now)) - leeway \(Self.format(leeway))")
        }
        if let nbf = claims.nbf, nbf.rounded(.towardZero) > now + leeway {
            throw TokenError(.notYetValid, "nbf \(Self.format(nbf)) is after now \(Self.format(now)) + leeway \(Self.format(leeway))")
        }
        if let iat = claims.iat, iat.rounded(.towardZero) > now + leeway {
            throw TokenError(.issuedInFuture, "iat \(Self.format(iat)) is after now \(Self.format(now)) + leeway \(Self.format(leeway))")
        }
        if let issuer = policy.issuer, claims.iss != issuer {
            throw TokenError(.wrongIssuer, claims.iss == nil ? "iss is missing" : "iss does not match")
        }
        if !policy.audience.isEmpty, !claims.aud.contains(where: policy.audience.contains) {
            throw TokenError(.wrongAudience, claims.aud.isEmpty ? "aud is missing" : "aud does not match")
        }
        // A token without `type` passes: only AuthX writes it. Any other value
        // than the required one is refused, not just the opposite kind.
        if let type = claims.type {
            switch requiredType {
            case .access where type != "access":
                throw TokenError(.accessTokenRequired, "type is not \"access\"")
            case .refresh where type != "refresh":
                throw TokenError(.refreshTokenRequired, "type is not \"refresh\"")
            default:
                break
            }
        }
    }

    /// The first moment at which `validate` refuses these claims as expired: `exp` truncated as
    /// the check reads it, plus the leeway. nil when there is no `exp`.
    package func expiryInstant(of claims: TokenClaims) -> Double? {
        claims.exp.map { $0.rounded(.towardZero) + policy.leewaySeconds }
    }

    /// Whole seconds without a trailing ".0"; only used on the failure path.
    private static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 {
            return String(Int64(value))
        }
        return String(value)
    }
}
