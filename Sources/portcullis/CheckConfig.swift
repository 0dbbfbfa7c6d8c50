import ArgumentParser
import Foundation
import PortcullisCore

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration as serve would; print it with secrets redacted.",
        discussion: """
            Exits 0 and prints the effective configuration, or exits 1 and prints every problem found.

            Example:
              PORTCULLIS_PROXY_UPSTREAM=http://127.0.0.1:8000 portcullis check-config --config portcullis.yaml
            """)

    @OptionGroup var options: ConfigOption

    func run() throws {
        do {
            let configuration = try LoadedConfiguration.load(path: options.config)
            print(configuration.renderedYAML(), terminator: "")
        } catch {
            printError("configuration has \(error.problems.count) problem\(error.problems.count == 1 ? "" : "s"):")
            for problem in error.problems { printError("  \(problem)") }
            throw ExitCode(1)
        }
    }
}

enum LoadedConfiguration {
    /// Loads and validates everything serve needs, key material included, so check-config
    /// and serve accept exactly the same configurations.
    static func load(path: String?) throws(ConfigurationError) -> Configuration {
        let environment = ProcessInfo.processInfo.environment
        let configuration = try ConfigurationLoader.load(path: path, environment: environment)
        _ = try Gate(configuration: configuration)
        return configuration
    }
}
