import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import PortcullisCore
import PortcullisGateway
import ServiceLifecycle

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the proxy and admin listeners until SIGTERM/SIGINT, then drain and exit 0; SIGHUP reloads.",
        discussion: """
            Example:
              portcullis serve --config portcullis.yaml
            """)

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let configuration: Configuration
        do {
            configuration = try LoadedConfiguration.load(path: options.config)
        } catch {
            printError("configuration has \(error.problems.count) problem\(error.problems.count == 1 ? "" : "s"):")
            for problem in error.problems { printError("  \(problem)") }
            throw ExitCode(1)
        }
        let logger = Logging.makeLogger(configuration.log)
        let threads = configuration.proxy.threads > 0 ? configuration.proxy.threads : System.coreCount
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        logger.info("effective configuration\n\(configuration.renderedYAML())")
        let gateway: Gateway
        do {
            gateway = try await Gateway(configuration: configuration, group: group, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        logger.info("serving", metadata: ["event_loop_threads": "\(threads)"])
        let path = options.config
        try await gateway.run(reloadSource: { () throws(ConfigurationError) in try LoadedConfiguration.load(path: path) })
        // The event loops are not shut down: the process ends here, and closing listeners
        // still schedule teardown work on them that a shut-down loop would refuse.
        logger.info("stopped: drained and closed")
    }
}

