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
        guard let secret = configuration.jwt.secret,
              let algorithm = configuration.jwt.algorithms.first(where: { $0.rawValue.hasPrefix("HS") })
        else {
            printError("mint needs an HS256/HS384/HS512 algorithm in jwt.algorithms and jwt.secret or jwt.secret_file")
            throw ExitCode(1)
        }
        let minter = try TokenMinter(algorithm: algorithm, secret: Array(secret.utf8))
        let token = minter.mint(
            .init(subject: sub, ttlSeconds: ttlSeconds, type: type, fresh: fresh, jti: jti ?? UUID().uuidString,
                  extraClaims: extra),
            issuer: configuration.jwt.issuer, audience: configuration.jwt.audience,
            now: Date().timeIntervalSince1970)
        print(token)
    }
}
