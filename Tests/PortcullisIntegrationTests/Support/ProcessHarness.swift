import Foundation
import XCTest

/// Runs the built `portcullis` binary as a child process, for what only a process shows:
/// signals, exit codes, durability across SIGKILL, memory use.
final class PortcullisProcess {
    static var binary: URL {
        // Tests/PortcullisIntegrationTests/Support/ProcessHarness.swift → repository root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/portcullis")
    }

    let process = Process()
    private let stderrPipe = Pipe()
    private let stdoutPipe = Pipe()

    init(arguments: [String], environment: [String: String] = [:]) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary.path) else {
            throw RawHTTPClient.ClientError(description: "\(Self.binary.path) not found: run `swift build` first (make test does)")
        }
        process.executableURL = Self.binary
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PORTCULLIS_") }
        env.merge(environment) { $1 }
        process.environment = env
        process.standardError = stderrPipe
        process.standardOutput = stdoutPipe
        try process.run()
    }

    /// Runs to completion and returns (exit code, stdout, stderr).
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String, String) {
        let child = try PortcullisProcess(arguments: arguments, environment: environment)
        let out = child.stdoutPipe.fileHandleForReading.readDataToEndOfFile()
        let err = child.stderrPipe.fileHandleForReading.readDataToEndOfFile()
        child.process.waitUntilExit()
        return (child.process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for exit, at most `seconds`; returns the exit status or nil on time-out.
    func waitForExit(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    var stderrText: String {
        String(decoding: stderrPipe.fileHandleForReading.availableData, as: UTF8.self)
    }

    /// Peak resident memory (VmHWM) of the running process, in bytes.
    var peakRSS: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return nil }
        return line.split(separator: " ").compactMap { Int($0) }.first.map { $0 * 1024 }
    }

    func terminate() {
        if process.isRunning {
            signal(SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Polls `GET /readyz` on the admin port until it answers 200.
    static func waitUntilReady(adminPort: Int, seconds: Double = 20) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let client = try? RawHTTPClient(port: adminPort, timeoutSeconds: 2),
               let response = try? client.request("GET", "/readyz"), response.status == 200 {
                return
            }
            usleep(50_000)
        }
        throw RawHTTPClient.ClientError(description: "portcullis did not become ready on admin port \(adminPort)")
    }

    /// A free loopback port: bind port 0, read it, release it.
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
