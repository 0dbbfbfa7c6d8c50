import ArgumentParser
import Foundation
import PortcullisCore

struct Mint: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sign a token with the configured key, for development and smoke tests.",
        discussion: """
            Prints the token on standard output. The claims follow AuthX: sub, jti, type, fresh, iat, exp
            (and iss/aud when jwt.issuer/jwt.audience are configured).

            Examples:
              portcullis mint --config portcullis.yaml --sub alice --ttl 15m
              TOKEN=$(portcullis mint --sub alice --type refresh --ttl 30d)
            """)

    @OptionGroup var options: ConfigOption

    @Option(help: "Subject (sub claim).")
    var sub: String

    @Option(help: "Lifetime: 250ms, 30s, 15m, 2h, 30d or seconds.")
    var ttl: String = "15m"

    @Option(help: "Token type claim: access or refresh.")
    var type: String = "access"

    @Flag(help: "Set the fresh claim to true.")
    var fresh = false

    @Option(help: "The jti claim (default: a random UUID).")
    var jti: String?

    @Option(name: .customLong("claim"), help: ArgumentHelp("An extra string claim, repeatable.", valueName: "k=v"))
    var claims: [String] = []

    @Option(help: ArgumentHelp("PEM private key for RS*/PS*/ES*/EdDSA.", valueName: "FILE"))
    var privateKeyFile: String?

    @Option(help: "Algorithm to sign with (default: the first of jwt.algorithms the key can sign).")
    var algorithm: String?

    @Option(help: "A kid header, for verifiers that pick keys from a JWKS.")
    var kid: String?

    func run() throws {
        guard type == "access" || type == "refresh" else {
            throw ValidationError("--type must be access or refresh, not \(type)")
        }
        guard let ttlSeconds = DurationText.parse(ttl)?.seconds, ttlSeconds > 0 else {
            throw ValidationError("--ttl \(ttl): not a duration (250ms, 30s, 15m, 2h, 30d or seconds)")
        }
        var extra: [(String, String)] = []
        for claim in claims {
            guard let equals = claim.firstIndex(of: "="), equals != claim.startIndex else {
                throw ValidationError("--claim \(claim): expected name=value")
            }
            extra.append((String(claim[..<equals]), String(claim[claim.index(after: equals)...])))
        }
        let configuration: Configuration
        do {
            configuration = try ConfigurationLoader.load(path: options.config, environment: ProcessInfo.processInfo.environment)
        } catch {
            printError("configuration has \(error.problems.count) problem\(error.problems.count == 1 ? "" : "s"):")
            for problem in error.problems { printError("  \(problem)") }
            throw ExitCode(1)
        }
        let minter: TokenMinter
        do {
            minter = try makeMinter(configuration.jwt)
        } catch let error as TokenMinter.MintError {
            printError("mint: \(error.description)")
            throw ExitCode(1)
        }
        let token = minter.mint(
            .init(subject: sub, ttlSeconds: ttlSeconds, type: type, fresh: fresh, jti: jti ?? UUID().uuidString,
                  extraClaims: extra),
            issuer: configuration.jwt.issuer, audience: configuration.jwt.audience,
            now: Date().timeIntervalSince1970, keyID: kid)
        print(token)
    }

    private func makeMinter(_ jwt: Configuration.JWT) throws -> TokenMinter {
        let hmac: Set<JWTAlgorithm> = [.HS256, .HS384, .HS512]
        var chosen: JWTAlgorithm?
        if let algorithm {
            guard let parsed = JWTAlgorithm(rawValue: algorithm) ?? JWTAlgorithm.allCases.first(where: {
                $0.rawValue.lowercased() == algorithm.lowercased()
            }) else {
                throw TokenMinter.MintError(description: "--algorithm \(algorithm): not one of \(JWTAlgorithm.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            chosen = parsed
        }
        if let privateKeyFile {
            let pem: String
            do {
                pem = try String(contentsOfFile: privateKeyFile, encoding: .utf8)
            } catch {
                throw TokenMinter.MintError(description: "--private-key-file \(privateKeyFile): cannot read: \(error.localizedDescription)")
            }
            var lastError: TokenMinter.MintError?
            for candidate in chosen.map({ [$0] }) ?? jwt.algorithms where !hmac.contains(candidate) {
                do {
                    return try TokenMinter(algorithm: candidate, privateKeyPEM: pem)
                } catch {
                    lastError = error
                }
            }
            throw lastError ?? TokenMinter.MintError(description: "jwt.algorithms has no RS/PS/ES/EdDSA algorithm for --private-key-file")
        }
        guard let secret = jwt.secretBytes else {
            throw TokenMinter.MintError(description: "needs jwt.secret or jwt.secret_file (HS*), or --private-key-file (RS/PS/ES/EdDSA)")
        }
        guard let algorithm = chosen ?? jwt.algorithms.first(where: hmac.contains) else {
            throw TokenMinter.MintError(description: "jwt.algorithms has no HS256/HS384/HS512 to sign with jwt.secret")
        }
        return try TokenMinter(algorithm: algorithm, secret: secret)
    }
}
