import Crypto
import Foundation
import JWTKit
import PortcullisCore
import XCTest
import _CryptoExtras

/// Our verifier against vapor/jwt-kit, in both directions, on generated claims:
/// tokens jwt-kit signs verify with ours to the same claims, and tokens our
/// `TokenMinter` signs verify with jwt-kit to the same claims.
final class CrossCheckJWTKitTests: XCTestCase {
    // 64 bytes: enough for HS512 (RFC 7518 §3.2), which our KeyTable insists on.
    static let secret = Array("jwt-kit-crosscheck-secret-0123456789-abcdefghijklmnopqrstuvwxyzAB".utf8)

    /// The claims jwt-kit writes and reads back; `extra` is nested data both must skip.
    struct KitPayload: JWTPayload, Equatable {
        var sub: SubjectClaim
        var jti: IDClaim?
        var iss: IssuerClaim?
        var aud: AudienceClaim?
        var exp: ExpirationClaim
        var nbf: NotBeforeClaim?
        var iat: IssuedAtClaim?
        var type: String?
        var csrf: String?
        var fresh: Bool?
        var extra: [String: [Int]]?
        var tags: [String]?

        func verify(using algorithm: some JWTKit.JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
        }

        var tokenClaims: TokenClaims {
            TokenClaims(
                jti: jti?.value, sub: sub.value, iss: iss?.value, aud: aud?.value ?? [],
                exp: exp.value.timeIntervalSince1970, nbf: nbf?.value.timeIntervalSince1970, iat: iat?.value.timeIntervalSince1970,
                type: type, csrf: csrf, fresh: fresh
            )
        }
    }

    /// One signing key per algorithm, in jwt-kit's collection and as our verifier's key table.
    struct Signer {
        let algorithm: PortcullisCore.JWTAlgorithm
        let kit: JWTKeyCollection
        let ours: TokenVerifier
    }

    static func signers() async throws -> [Signer] {
        let rsa = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let p256 = P256.Signing.PrivateKey()
        let p384 = P384.Signing.PrivateKey()
        let ed25519 = Curve25519.Signing.PrivateKey()
        // SubjectPublicKeyInfo for Ed25519 (RFC 8410 §4): a fixed prefix and the raw key.
        let ed25519DER: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]
            + Array(ed25519.publicKey.rawRepresentation)
        let ed25519PEM = "-----BEGIN PUBLIC KEY-----\n\(Data(ed25519DER).base64EncodedString())\n-----END PUBLIC KEY-----\n"

        func ours(_ algorithm: PortcullisCore.JWTAlgorithm, secret: [UInt8]? = nil, pem: String? = nil) throws -> TokenVerifier {
            let table = try KeyTable(hmacSecret: secret, publicKeyPEM: pem, jwksJSON: nil, algorithms: [algorithm])
            return TokenVerifier(keys: table, policy: TokenPolicy(algorithms: [algorithm], requiredType: .any))
        }
        return [
            Signer(algorithm: .HS256, kit: await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256),
                   ours: try ours(.HS256, secret: secret)),
            Signer(algorithm: .HS384, kit: await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: .sha384),
                   ours: try ours(.HS384, secret: secret)),
            Signer(algorithm: .HS512, kit: await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: .sha512),
                   ours: try ours(.HS512, secret: secret)),
            Signer(algorithm: .ES256, kit: await JWTKeyCollection().add(ecdsa: try ES256PrivateKey(backing: p256)),
                   ours: try ours(.ES256, pem: p256.publicKey.pemRepresentation)),
            Signer(algorithm: .ES384, kit: await JWTKeyCollection().add(ecdsa: try ES384PrivateKey(backing: p384)),
                   ours: try ours(.ES384, pem: p384.publicKey.pemRepresentation)),
            Signer(algorithm: .RS256, kit: await JWTKeyCollection().add(rsa: try Insecure.RSA.PrivateKey(backing: rsa), digestAlgorithm: .sha256),
                   ours: try ours(.RS256, pem: rsa.publicKey.pemRepresentation)),
            Signer(algorithm: .PS384, kit: await JWTKeyCollection().add(pss: try Insecure.RSA.PrivateKey(backing: rsa), digestAlgorithm: .sha384),
                   ours: try ours(.PS384, pem: rsa.publicKey.pemRepresentation)),
            Signer(algorithm: .EdDSA, kit: await JWTKeyCollection().add(eddsa: EdDSA.PrivateKey(backing: ed25519)),
                   ours: try ours(.EdDSA, pem: ed25519PEM)),
        ]
    }

    func testTokensSignedByJWTKitVerifyWithTheSameClaims() async throws {
        var random = SplitMix64(seed: 7)
        let now = Date().timeIntervalSince1970.rounded(.down)
        var mismatches = [String]()
        var checked = 0
        for signer in try await Self.signers() {
            for index in 0..<150 {
                let payload = Self.randomPayload(&random, index: index, now: now)
                let token = try await signer.kit.sign(payload)
                // jwt-kit's own reading is the reference: it also shows what survived its Date round trip.
                let kitRead = try await signer.kit.verify(token, as: KitPayload.self)
                do {
                    let verified = try signer.ours.verify(Substring(token), now: now)
                    XCTAssertEqual(verified.algorithm, signer.algorithm)
                    if verified.claims != kitRead.tokenClaims {
                        mismatches.append("\(signer.algorithm) \(token):\n  ours    \(verified.claims)\n  jwt-kit \(kitRead.tokenClaims)")
                    }
                } catch {
                    mismatches.append("\(signer.algorithm) \(token): refused with \(error)")
                }
                checked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 1000)
        XCTAssert(mismatches.isEmpty, "\(mismatches.count) of \(checked) differ:\n" + mismatches.prefix(20).joined(separator: "\n"))
    }

    func testTokensMintedByUsVerifyWithJWTKit() async throws {
        var random = SplitMix64(seed: 11)
        let now = Date().timeIntervalSince1970.rounded(.down)
        var checked = 0
        for (algorithm, digest) in [(PortcullisCore.JWTAlgorithm.HS256, DigestAlgorithm.sha256), (.HS384, .sha384), (.HS512, .sha512)] {
            let minter = try TokenMinter(algorithm: algorithm, secret: Self.secret)
            let kit = await JWTKeyCollection().add(hmac: HMACKey(from: Self.secret), digestAlgorithm: digest)
            for index in 0..<80 {
                let options = TokenMinter.Options(
                    subject: Self.randomText(&random, 1...12), ttlSeconds: Double(random.next(in: 60...86_400)),
                    type: index % 3 == 0 ? "refresh" : "access", fresh: index % 2 == 0, jti: "jti-\(index)-" + Self.randomText(&random, 0...6),
                    extraClaims: [("note", Self.randomText(&random, 0...4))]
                )
                let audience = [[], ["api"], ["api", Self.randomText(&random, 1...5)]][index % 3]
                let issuer = index % 4 == 0 ? nil : "https://issuer.example/" + Self.randomText(&random, 0...3)
                let token = minter.mint(options, issuer: issuer, audience: audience, now: now)
                let label = "\(algorithm) \(token)"
                let read: KitPayload
                do {
                    read = try await kit.verify(token, as: KitPayload.self)
                } catch {
                    XCTFail("\(label): jwt-kit refused: \(error)")
                    continue
                }
                XCTAssertEqual(read.sub.value, options.subject, label)
                XCTAssertEqual(read.jti?.value, options.jti, label)
                XCTAssertEqual(read.type, options.type, label)
                XCTAssertEqual(read.fresh, options.fresh, label)
                XCTAssertEqual(read.iss?.value, issuer, label)
                XCTAssertEqual(read.aud?.value ?? [], audience, label)
                XCTAssertEqual(read.iat?.value.timeIntervalSince1970, now, label)
                XCTAssertEqual(read.exp.value.timeIntervalSince1970, (now + options.ttlSeconds).rounded(.down), label)
                checked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 200)
    }

    /// The known difference. jwt-kit picks the key by `kid` (or its default key) and
    /// verifies with that key's own algorithm: a key added as HS256 never looks at the
    /// header's `alg`, so a token whose header says `HS512`, `none` or `ES256` but which
    /// carries an HMAC-SHA256 signature is accepted. Ours checks `alg` first: against
    /// the configured set (`algorithmNotAllowed`), then against the key's algorithms,
    /// and verifies with the algorithm the header names (`badSignature` on a mismatch).
    func testHeaderAlgDisagreeingWithTheKeyIsAcceptedByJWTKitOnly() async throws {
        let now = Date().timeIntervalSince1970.rounded(.down)
        let kit = await JWTKeyCollection().add(hmac: HMACKey(from: Self.secret), digestAlgorithm: .sha256)
        let hs256Only = try KeyTable(hmacSecret: Self.secret, publicKeyPEM: nil, jwksJSON: nil, algorithms: [.HS256])
        let allHS = try KeyTable(hmacSecret: Self.secret, publicKeyPEM: nil, jwksJSON: nil, algorithms: [.HS256, .HS384, .HS512])
        let strict = TokenVerifier(keys: hs256Only, policy: TokenPolicy(algorithms: [.HS256], requiredType: .any))
        let lenient = TokenVerifier(keys: allHS, policy: TokenPolicy(algorithms: [.HS256, .HS384, .HS512], requiredType: .any))
        let payload = #"{"sub":"mallory","exp":\#(Int(now) + 600)}"#

        // Each header below, with an HMAC-SHA256 signature over header.payload made with the HS256 secret.
        let cases: [(header: String, strict: TokenError.Code, lenient: TokenError.Code)] = [
            (#"{"alg":"HS512","typ":"JWT"}"#, .algorithmNotAllowed, .badSignature),
            (#"{"alg":"none","typ":"JWT"}"#, .algorithmNotAllowed, .algorithmNotAllowed),
            (#"{"alg":"ES256","typ":"JWT"}"#, .algorithmNotAllowed, .algorithmNotAllowed),
            (#"{"typ":"JWT"}"#, .malformed, .malformed),
        ]
        for (header, strictCode, lenientCode) in cases {
            let signingInput = Self.base64URL(Data(header.utf8)) + "." + Self.base64URL(Data(payload.utf8))
            let mac = HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: SymmetricKey(data: Self.secret))
            let token = signingInput + "." + Self.base64URL(Data(mac))

            let kitRead = try await kit.verify(token, as: KitPayload.self)
            XCTAssertEqual(kitRead.sub.value, "mallory", "jwt-kit accepts header \(header)")
            XCTAssertThrowsError(try strict.verify(Substring(token), now: now), header) { error in
                XCTAssertEqual((error as? TokenError)?.code, strictCode, header)
            }
            XCTAssertThrowsError(try lenient.verify(Substring(token), now: now), header) { error in
                XCTAssertEqual((error as? TokenError)?.code, lenientCode, header)
            }
        }
    }

    // MARK: - Generated claims

    static let pieces = ["a", "Z", "0", " ", "/", "\\", "\"", "\n", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "€", "\u{2028}",
                         "\u{FEFF}", "\u{FFFF}", "😀", "\u{10FFFF}", "日本", "alice", "</script>"]

    static func randomText(_ random: inout SplitMix64, _ length: ClosedRange<Int>) -> String {
        (0..<random.next(in: length)).map { _ in pieces[random.next(in: 0...pieces.count - 1)] }.joined()
    }

    /// Times are whole seconds plus multiples of 1/8, which survive jwt-kit's Date
    /// (seconds since 2001) round trip exactly, so the comparison can be exact.
    static func randomTime(_ random: inout SplitMix64, around base: Double, within seconds: ClosedRange<Int>) -> Date {
        Date(timeIntervalSince1970: base + Double(random.next(in: seconds)) + Double(random.next(in: 0...7)) / 8)
    }

    static func randomPayload(_ random: inout SplitMix64, index: Int, now: Double) -> KitPayload {
        func maybe<T>(_ value: @autoclosure () -> T) -> T? { random.next(in: 0...3) == 0 ? nil : value() }
        let audience: AudienceClaim? = [nil, AudienceClaim(value: [randomText(&random, 1...6)]),
                                        AudienceClaim(value: (0..<random.next(in: 0...3)).map { _ in randomText(&random, 0...5) })][index % 3]
        return KitPayload(
            sub: SubjectClaim(value: randomText(&random, 1...16)),
            jti: maybe(IDClaim(value: "\(index)-" + randomText(&random, 0...6))),
            iss: maybe(IssuerClaim(value: randomText(&random, 0...8))),
            aud: audience,
            exp: ExpirationClaim(value: randomTime(&random, around: now, within: 2...2_592_000)),
            nbf: maybe(NotBeforeClaim(value: randomTime(&random, around: now, within: -86_400 ... -1))),
            iat: maybe(IssuedAtClaim(value: randomTime(&random, around: now, within: -86_400 ... -1))),
            type: maybe(["access", "refresh", "other"][random.next(in: 0...2)]),
            csrf: maybe(randomText(&random, 0...8)),
            fresh: maybe(random.next(in: 0...1) == 0),
            extra: maybe([randomText(&random, 1...4): (0..<random.next(in: 0...4)).map { _ in random.next(in: -1_000_000...1_000_000) }]),
            tags: maybe((0..<random.next(in: 0...3)).map { _ in randomText(&random, 0...4) })
        )
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// A seeded generator, so a failure names a reproducible token.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next(in range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
}
