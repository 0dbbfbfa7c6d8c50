import Crypto
import Foundation
import _CryptoExtras

/// Turns a JSON Web Key Set (RFC 7517 §5) into verification keys.
///
/// Keys marked `"use": "enc"` or whose `key_ops` lack `verify` are skipped,
/// as are keys whose algorithm is not configured — an IdP's set may hold
/// more than this proxy accepts. Anything malformed is an error naming the
/// key (`#1` is the first in the `keys` array), because a silently dropped
/// key shows up later as unexplained `unknownKey` denials.
package enum JWKSLoader {
    package static func load(_ json: String, allowed: AlgorithmSet) throws(KeyTableError) -> [VerificationKey] {
        let document: JSONValue
        do throws(JSONSyntaxError) {
            document = try JSONValue.parse(json)
        } catch {
            throw KeyTableError(.invalidJWKS, "JWKS is not valid JSON: \(error.reason) at byte \(error.offset)")
        }
        guard case .object(let members) = document, case .array(let entries)? = members["keys"] else {
            throw KeyTableError(.invalidJWKS, "JWKS must be an object with a \"keys\" array")
        }
        var keys = [VerificationKey]()
        for (offset, entry) in entries.enumerated() {
            if let key = try loadKey(entry, number: offset + 1, allowed: allowed) {
                keys.append(key)
            }
        }
        return keys
    }

    private static func loadKey(_ entry: JSONValue, number: Int, allowed: AlgorithmSet) throws(KeyTableError) -> VerificationKey? {
        guard case .object(let jwk) = entry else {
            throw KeyTableError(.invalidJWKS, "JWKS key #\(number): not an object")
        }
        var reader = JWKReader(jwk: jwk, label: "JWKS key #\(number)")
        let keyID = try reader.optionalString("kid")
        if let keyID { reader.label += " (kid \"\(keyID)\")" }

        switch try reader.optionalString("use") {
        case nil, "sig": break
        case "enc": return nil
        case let use?: throw reader.error("unsupported use \"\(use)\"")
        }
        if let operations = try reader.optionalStringArray("key_ops"), !operations.contains("verify") {
            return nil
        }
        let declared = try reader.optionalString("alg")
        let kty = try reader.requiredString("kty")
        let material: KeyMaterial
        switch kty {
        case "oct":
            material = .hmac(HMACKey(try reader.bytes("k")))
        case "RSA":
            try reader.refusePrivateMembers(["d", "p", "q", "dp", "dq", "qi"])
            material = .rsa(try rsaKey(&reader))
        case "EC":
            try reader.refusePrivateMembers(["d"])
            material = try ecKey(&reader)
        case "OKP":
            try reader.refusePrivateMembers(["d"])
            let curve = try reader.requiredString("crv")
            guard curve == "Ed25519" else { throw reader.error("unsupported OKP curve \"\(curve)\"") }
            let x = try reader.bytes("x")
            guard x.count == 32, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: x) else {
                throw reader.error("\"x\" is not a 32-byte Ed25519 public key")
            }
            material = .ed25519(key)
        default:
            throw reader.error("unsupported kty \"\(kty)\"")
        }

        var algorithms = material.compatibleAlgorithms
        if let declared {
            // RFC 9864 renamed EdDSA-with-Ed25519 to "Ed25519"; both mean our EdDSA.
            let name = declared == "Ed25519" ? JWTAlgorithm.EdDSA.rawValue : declared
            guard let algorithm = JWTAlgorithm(rawValue: name) else { throw reader.error("unsupported alg \"\(declared)\"") }
            guard algorithms.contains(algorithm) else {
                throw reader.error("alg \(declared) cannot be used with \(material.kindDescription)")
            }
            algorithms = AlgorithmSet(algorithm)
        }
        algorithms.formIntersection(allowed)
        guard !algorithms.isEmpty else { return nil }
        if case .hmac(let secret) = material {
            try KeyTable.checkSecretLength(secret.byteCount, for: algorithms, source: reader.label)
        }
        return VerificationKey(keyID: keyID, algorithms: algorithms, material: material)
    }

    private static func rsaKey(_ reader: inout JWKReader) throws(KeyTableError) -> _RSA.Signing.PublicKey {
        let modulus = try reader.bytes("n")
        let exponent = try reader.bytes("e")
        let significant = modulus.drop { $0 == 0 }
        let bits = significant.first.map { (significant.count - 1) * 8 + (8 - $0.leadingZeroBitCount) } ?? 0
        guard bits >= 2048 else {
            throw KeyTableError(.weakRSAKey, "\(reader.label): \(bits)-bit RSA key; at least 2048 bits are required")
        }
        guard let key = try? _RSA.Signing.PublicKey(n: modulus, e: exponent) else {
            throw reader.error("\"n\"/\"e\" do not form an RSA public key")
        }
        return key
    }

    private static func ecKey(_ reader: inout JWKReader) throws(KeyTableError) -> KeyMaterial {
        let curve = try reader.requiredString("crv")
        let x = try reader.bytes("x")
        let y = try reader.bytes("y")
        let width: Int
        switch curve {
        case "P-256": width = 32
        case "P-384": width = 48
        case "P-521": width = 66
        default: throw reader.error("unsupported EC curve \"\(curve)\"")
        }
        // RFC 7518 §6.2.1.2: coordinates are the full field width, never trimmed.
        guard x.count == width, y.count == width else {
            throw reader.error("\"x\" and \"y\" must be \(width) bytes for \(curve)")
        }
        let raw = x + y
        let material: KeyMaterial?
        switch curve {
        case "P-256": material = (try? P256.Signing.PublicKey(rawRepresentation: raw)).map(KeyMaterial.p256)
        case "P-384": material = (try? P384.Signing.PublicKey(rawRepresentation: raw)).map(KeyMaterial.p384)
        default: material = (try? P521.Signing.PublicKey(rawRepresentation: raw)).map(KeyMaterial.p521)
        }
        guard let material else { throw reader.error("the point is not on \(curve)") }
        return material
    }
}

/// Typed access to one JWK's members with errors that name the key.
private struct JWKReader {
    let jwk: [String: JSONValue]
    var label: String

    func error(_ problem: String) -> KeyTableError {
        KeyTableError(.invalidJWKS, "\(label): \(problem)")
    }

    func optionalString(_ name: String) throws(KeyTableError) -> String? {
        switch jwk[name] {
        case nil: return nil
        case .string(let value)?: return value
        default: throw error("\"\(name)\" must be a string")
        }
    }

    func requiredString(_ name: String) throws(KeyTableError) -> String {
        guard let value = try optionalString(name) else { throw error("missing \"\(name)\"") }
        return value
    }

    func optionalStringArray(_ name: String) throws(KeyTableError) -> [String]? {
        guard let value = jwk[name] else { return nil }
        guard case .array(let elements) = value else { throw error("\"\(name)\" must be an array of strings") }
        var strings = [String]()
        for element in elements {
            guard case .string(let string) = element else { throw error("\"\(name)\" must be an array of strings") }
            strings.append(string)
        }
        return strings
    }

    /// A base64url member (RFC 7518 §6: unpadded).
    func bytes(_ name: String) throws(KeyTableError) -> [UInt8] {
        let text = try requiredString(name)
        guard let bytes = Base64URL.decode(text), !bytes.isEmpty else {
            throw error("\"\(name)\" is not unpadded base64url")
        }
        return bytes
    }

    /// A published set holding private parameters is a leak; refusing it gets it noticed.
    func refusePrivateMembers(_ names: [String]) throws(KeyTableError) {
        if let name = names.first(where: { jwk[$0] != nil }) {
            throw error("holds private key member \"\(name)\"; publish only public keys")
        }
    }
}
