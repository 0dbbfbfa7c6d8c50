import Crypto
import Foundation

/// Signs tokens for development and smoke tests (`portcullis mint`), in AuthX's claim shape.
public struct TokenMinter: Sendable {
    public struct MintError: Error, CustomStringConvertible {
        public var description: String
    }

    public struct Options: Sendable {
        public var subject: String
        public var ttlSeconds: Double
        public var type: String
        public var fresh: Bool
        public var jti: String
        public var extraClaims: [(String, String)]

        public init(subject: String, ttlSeconds: Double, type: String = "access", fresh: Bool = false,
                    jti: String = UUID().uuidString, extraClaims: [(String, String)] = []) {
            self.subject = subject
            self.ttlSeconds = ttlSeconds
            self.type = type
            self.fresh = fresh
            self.jti = jti
            self.extraClaims = extraClaims
        }
    }

    let algorithm: JWTAlgorithm
    let secret: [UInt8]

    public init(algorithm: JWTAlgorithm, secret: [UInt8]) throws(MintError) {
        guard [.HS256, .HS384, .HS512].contains(algorithm) else {
            throw MintError(description: "mint signs with HS256/HS384/HS512 from jwt.secret; \(algorithm.rawValue) needs a private key")
        }
        self.algorithm = algorithm
        self.secret = secret
    }

    public func mint(_ options: Options, issuer: String?, audience: [String], now: Double) -> String {
        var claims: [String: Any] = [
            "sub": options.subject, "jti": options.jti, "type": options.type, "fresh": options.fresh,
            "iat": Int64(now), "exp": Int64(now + options.ttlSeconds),
        ]
        if let issuer { claims["iss"] = issuer }
        if audience.count == 1 { claims["aud"] = audience[0] } else if !audience.isEmpty { claims["aud"] = audience }
        for (name, value) in options.extraClaims { claims[name] = value }
        let header: [String: Any] = ["alg": algorithm.rawValue, "typ": "JWT"]
        let signingInput = Self.segment(header) + "." + Self.segment(claims)
        let key = SymmetricKey(data: secret)
        let signature: [UInt8]
        switch algorithm {
        case .HS384: signature = Array(HMAC<SHA384>.authenticationCode(for: Array(signingInput.utf8), using: key))
        case .HS512: signature = Array(HMAC<SHA512>.authenticationCode(for: Array(signingInput.utf8), using: key))
        default: signature = Array(HMAC<SHA256>.authenticationCode(for: Array(signingInput.utf8), using: key))
        }
        return signingInput + "." + Self.base64URL(Data(signature))
    }

    static func segment(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return base64URL(data)
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
