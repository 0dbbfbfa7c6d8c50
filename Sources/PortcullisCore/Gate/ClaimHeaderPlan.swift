/// `proxy.claim_headers` compiled once: which claim feeds which upstream header.
public struct ClaimHeaderPlan: Sendable {
    enum Source: Sendable {
        case jti, sub, iss, type, aud, exp, nbf, iat
        /// Index into `TokenClaims.captured`.
        case captured(Int)
    }

    public let headerNames: [String]
    let sources: [Source]
    /// Claim names the verifier must capture for this plan, in `captured` order.
    public let capturedClaims: [String]

    public init(_ mapping: [(header: String, claim: String)]) {
        var names: [String] = []
        var sources: [Source] = []
        var captured: [String] = []
        for (header, claim) in mapping {
            names.append(header)
            switch claim {
            case "jti": sources.append(.jti)
            case "sub": sources.append(.sub)
            case "iss": sources.append(.iss)
            case "type": sources.append(.type)
            case "aud": sources.append(.aud)
            case "exp": sources.append(.exp)
            case "nbf": sources.append(.nbf)
            case "iat": sources.append(.iat)
            default:
                if let existing = captured.firstIndex(of: claim) {
                    sources.append(.captured(existing))
                } else {
                    sources.append(.captured(captured.count))
                    captured.append(claim)
                }
            }
        }
        self.headerNames = names
        self.sources = sources
        self.capturedClaims = captured
    }

    public var isEmpty: Bool { headerNames.isEmpty }

    /// Calls `body` with each header that has a value for this token; claims the token lacks send no header.
    public func forEachHeader(of claims: TokenClaims, _ body: (String, String) -> Void) {
        for (index, source) in sources.enumerated() {
            let value: String?
            switch source {
            case .jti: value = claims.jti
            case .sub: value = claims.sub
            case .iss: value = claims.iss
            case .type: value = claims.type
            case .aud: value = claims.aud.isEmpty ? nil : claims.aud.joined(separator: ",")
            case .exp: value = claims.exp.map(Self.formatTime)
            case .nbf: value = claims.nbf.map(Self.formatTime)
            case .iat: value = claims.iat.map(Self.formatTime)
            case .captured(let slot): value = slot < claims.captured.count ? claims.captured[slot] : nil
            }
            if let value, Self.isSafeHeaderValue(value) {
                body(headerNames[index], value)
            }
        }
    }

    static func formatTime(_ seconds: Double) -> String {
        seconds == seconds.rounded() && abs(seconds) < 1e15 ? String(Int64(seconds)) : String(seconds)
    }

    /// A claim must not smuggle a header break or control bytes into the upstream request.
    static func isSafeHeaderValue(_ value: String) -> Bool {
        value.utf8.allSatisfy { $0 >= 0x20 && $0 != 0x7F || $0 == 0x09 }
    }
}
