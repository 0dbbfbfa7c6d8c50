import Crypto
import Foundation
import _CryptoExtras

/// Signs tokens for development and smoke tests (`portcullis mint`), in AuthX's claim shape.
public struct TokenMinter: Sendable {
    public struct MintError: Error, CustomStringConvertible {
        public var description: String

        public init(description: String) { self.description = description }
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

    private enum Signer: @unchecked Sendable {
        case hmac([UInt8])
        case rsa(_RSA.Signing.PrivateKey)
        case p256(P256.Signing.PrivateKey)
        case p384(P384.Signing.PrivateKey)
        case p521(P521.Signing.PrivateKey)
        case ed25519(Curve25519.Signing.PrivateKey)
    }

    public let algorithm: JWTAlgorithm
    private let signer: Signer

    /// HS256/384/512 with a shared secret.
    public init(algorithm: JWTAlgorithm, secret: [UInt8]) throws(MintError) {
        guard [.HS256, .HS384, .HS512].contains(algorithm) else {
            throw MintError(description: "\(algorithm.rawValue) signs with a private key (--private-key-file), not jwt.secret")
        }
        self.algorithm = algorithm
        self.signer = .hmac(secret)
    }

    /// RS*/PS* (RSA), ES256/384/512 (P-256/384/521) or EdDSA (Ed25519) with a PEM private key.
    public init(algorithm: JWTAlgorithm, privateKeyPEM pem: String) throws(MintError) {
        self.algorithm = algorithm
        do {
            switch algorithm {
            case .RS256, .RS384, .RS512, .PS256, .PS384, .PS512:
                signer = .rsa(try _RSA.Signing.PrivateKey(pemRepresentation: pem))
            case .ES256: signer = .p256(try P256.Signing.PrivateKey(pemRepresentation: pem))
            case .ES384: signer = .p384(try P384.Signing.PrivateKey(pemRepresentation: pem))
            case .ES512: signer = .p521(try P521.Signing.PrivateKey(pemRepresentation: pem))
            case .EdDSA: signer = .ed25519(try Self.ed25519(pem))
            case .HS256, .HS384, .HS512:
                throw MintError(description: "\(algorithm.rawValue) signs with jwt.secret, not a private key")
            }
        } catch let error as MintError {
            throw error
        } catch {
            throw MintError(description: "the private key is not a PEM \(Self.keyKind(algorithm)) private key: \(error)")
        }
    }

    private static func keyKind(_ algorithm: JWTAlgorithm) -> String {
        switch algorithm {
        case .ES256: "P-256"
        case .ES384: "P-384"
        case .ES512: "P-521"
        case .EdDSA: "Ed25519"
        default: "RSA"
        }
    }

    /// Ed25519 PKCS#8 (RFC 8410): a fixed 16-byte DER prefix, then the 32-byte seed.
    private static func ed25519(_ pem: String) throws -> Curve25519.Signing.PrivateKey {
        let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard let der = Data(base64Encoded: body), der.count == 48,
              Array(der.prefix(16)) == [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
        else { throw MintError(description: "not an Ed25519 PKCS#8 private key") }
        return try Curve25519.Signing.PrivateKey(rawRepresentation: der.suffix(32))
    }

    private func sign(_ input: [UInt8]) throws -> [UInt8] {
        switch signer {
        case .hmac(let secret):
            let key = SymmetricKey(data: secret)
            switch algorithm {
            case .HS384: return Array(HMAC<SHA384>.authenticationCode(for: input, using: key))
            case .HS512: return Array(HMAC<SHA512>.authenticationCode(for: input, using: key))
            default: return Array(HMAC<SHA256>.authenticationCode(for: input, using: key))
            }
        case .rsa(let key):
            let padding: _RSA.Signing.Padding = algorithm.rawValue.hasPrefix("PS") ? .PSS : .insecurePKCS1v1_5
            switch algorithm {
            case .RS384, .PS384: return Array(try key.signature(for: SHA384.hash(data: input), padding: padding).rawRepresentation)
            case .RS512, .PS512: return Array(try key.signature(for: SHA512.hash(data: input), padding: padding).rawRepresentation)
            default: return Array(try key.signature(for: SHA256.hash(data: input), padding: padding).rawRepresentation)
            }
        case .p256(let key): return Array(try key.signature(for: input).rawRepresentation)
        case .p384(let key): return Array(try key.signature(for: input).rawRepresentation)
        case .p521(let key): return Array(try key.signature(for: input).rawRepresentation)
        case .ed25519(let key): return Array(try key.signature(for: input))
        }
    }

    public func mint(_ options: Options, issuer: String?, audience: [String], now: Double, keyID: String? = nil) -> String {
        var claims: [String: Any] = [
            "sub": options.subject, "type": options.type, "fresh": options.fresh,
            "iat": Int64(now), "exp": Int64(now + options.ttlSeconds),
        ]
        // An empty jti means a token without one (for testing raw-token revocation).
        if !options.jti.isEmpty { claims["jti"] = options.jti }
        if let issuer { claims["iss"] = issuer }
        if audience.count == 1 { claims["aud"] = audience[0] } else if !audience.isEmpty { claims["aud"] = audience }
        for (name, value) in options.extraClaims { claims[name] = value }
        var header: [String: Any] = ["alg": algorithm.rawValue, "typ": "JWT"]
        if let keyID { header["kid"] = keyID }
        let signingInput = Self.segment(header) + "." + Self.segment(claims)
        // Signing with a key that loaded cannot fail short of memory exhaustion.
        let signature = (try? sign(Array(signingInput.utf8))) ?? []
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
