import ArgumentParser
import Foundation

@main
struct Portcullis: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "portcullis",
        abstract: "A reverse proxy that lets a request through only when its bearer JWT is valid and not revoked.",
        discussion: """
            Configuration comes from a YAML file (--config, else $PORTCULLIS_CONFIG, else ./portcullis.yaml)
            with PORTCULLIS_* environment variables on top.

            Examples:
              portcullis serve --config portcullis.yaml
              portcullis check-config --config portcullis.yaml
              portcullis mint --config portcullis.yaml --sub alice --ttl 15m
              portcullis revoke --jti 3f1c9a --expires-at 1767225600
              portcullis audit --limit 20
            """,
        version: version,
        subcommands: [Serve.self, CheckConfig.self, Revoke.self, Audit.self, Mint.self]
    )
}

/// `--config FILE` shared by every subcommand that needs configuration.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Configuration file (default: $PORTCULLIS_CONFIG, then ./portcullis.yaml).", valueName: "FILE"))
    var config: String?
}

/// Writes to standard error, for diagnostics that must not mix with a command's output.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
