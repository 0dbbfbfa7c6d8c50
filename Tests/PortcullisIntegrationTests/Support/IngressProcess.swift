import Foundation
import XCTest

/// A real ingress (nginx, Caddy) from the system's packages, run by a test in its own
/// directory on a loopback port, and stopped by it.
final class IngressProcess {
    let process = Process()
    let port: Int
    private let output: FileHandle
    let logFile: URL

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
    }

    /// An example from deploy/examples with its addresses replaced (the example's text → the test's).
    static func example(_ relative: String, replacing: [(String, String)]) throws -> String {
        var text = try String(contentsOf: repositoryRoot.appendingPathComponent("deploy/examples/" + relative), encoding: .utf8)
        for (from, to) in replacing {
            guard text.contains(from) else { throw Missing(description: "deploy/examples/\(relative) no longer contains \(from)") }
            text = text.replacingOccurrences(of: from, with: to)
        }
        return text
    }

    static func executable(_ candidates: [String]) throws -> String {
        for path in candidates where FileManager.default.isExecutableFile(atPath: path) { return path }
        throw Missing(description: "none of \(candidates) is installed: run `make deps` (make test installs nginx and caddy)")
    }

    init(executable: String, arguments: [String], environment: [String: String] = [:], port: Int, directory: URL) throws {
        self.port = port
        logFile = directory.appendingPathComponent("ingress-output.log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        output = try FileHandle(forWritingTo: logFile)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        process.standardOutput = output
        process.standardError = output
        try process.run()
        try waitUntilListening(seconds: 20)
    }

    var outputText: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Polls until the port accepts a connection, or fails with the ingress's own output.
    private func waitUntilListening(seconds: Double) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard process.isRunning else {
                throw Missing(description: "\(process.executableURL!.lastPathComponent) exited (\(process.terminationStatus)): \(outputText)")
            }
            if (try? RawHTTPClient(port: port, timeoutSeconds: 1)) != nil { return }
            usleep(50_000)
        }
        stop()
        throw Missing(description: "\(process.executableURL!.lastPathComponent) did not listen on \(port): \(outputText)")
    }

    /// SIGTERM, then SIGKILL if it is still running after 5 s.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? output.close()
    }

    deinit { stop() }
}

extension RawHTTPClient.Response {
    /// The headers the test upstream saw (it echoes them as [[name, value]]).
    func upstreamHeader(_ name: String) -> String? {
        guard let pairs = json["headers"] as? [[String]] else { return nil }
        return pairs.first { $0.first?.lowercased() == name.lowercased() }?.last
    }
}

extension GatewayHarness {
    var forwardAuthPort: Int { gateway.forwardAuthPort! }

    func forwardAuthClient() throws -> RawHTTPClient { try RawHTTPClient(port: forwardAuthPort) }
}
