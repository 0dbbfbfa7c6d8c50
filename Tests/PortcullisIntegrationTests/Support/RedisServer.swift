import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real `redis-server` on a free loopback port, started and stopped by the tests.
final class RedisServer {
    let port: Int
    let password: String?
    /// With AOF and fsync on every write, as production should run: data survives SIGKILL.
    let persistent: Bool
    /// CA bundle when the server speaks TLS only (`rediss://`).
    private(set) var tlsCAFile: String?
    /// More `redis-server` arguments (`--replicaof`, …).
    let extraArguments: [String]
    private var process: Process?
    private let directory: URL

    init(password: String? = nil, persistent: Bool = false, tls: Bool = false, arguments: [String] = []) throws {
        self.port = PortcullisProcess.freePort()
        self.password = password
        self.persistent = persistent
        self.extraArguments = arguments
        self.directory = try GatewayHarness.makeTemporaryDirectory()
        if tls { tlsCAFile = try TestCertificates.make(in: directory).caFile }
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    func start() throws {
        let binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        guard let binary else {
            throw RawHTTPClient.ClientError(description: "redis-server not installed: run `make test` (it apt-installs redis-server)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        var arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--dir", directory.path]
        arguments += persistent ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]
        if let ca = tlsCAFile {
            arguments = arguments.map { $0 == "--port" ? "--tls-port" : $0 }
            arguments += ["--port", "0", "--tls-cert-file", "\(directory.path)/server.pem",
                          "--tls-key-file", "\(directory.path)/server.key", "--tls-ca-cert-file", ca,
                          "--tls-auth-clients", "no"]
        }
        if let password { arguments += ["--requirepass", password, "--masterauth", password] }
        process.arguments = arguments + extraArguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if (try? cli(["PING"]))?.contains("PONG") == true || (try? cli(["PING"]))?.contains("NOAUTH") == true { return }
            usleep(20_000)
        }
        throw RawHTTPClient.ClientError(description: "redis-server did not start on port \(port)")
    }

    func stop() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    var isRunning: Bool { process?.isRunning == true }

    /// A replica of this server, started and in sync (`master_link_status:up`) within 10 s.
    func startReplica() throws -> RedisServer {
        let replica = try RedisServer(password: password, arguments: ["--replicaof", "127.0.0.1", "\(port)"])
        try replica.waitUntil(seconds: 10, "the replica syncs with its master") {
            (try? replica.cli(["INFO", "replication"]))?.contains("master_link_status:up") == true
        }
        return replica
    }

    /// Polls `condition` every 20 ms; throws when it is still false after `seconds`.
    func waitUntil(seconds: Double, _ what: String, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return }
            usleep(20_000)
        }
        throw RawHTTPClient.ClientError(description: "not within \(seconds)s: \(what)")
    }

    /// Runs redis-cli against this server and returns its output.
    @discardableResult
    func cli(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        var all = ["-h", "127.0.0.1", "-p", "\(port)"]
        if let password { all += ["--no-auth-warning", "-a", password] }
        if let tlsCAFile { all += ["--tls", "--cacert", tlsCAFile] }
        process.arguments = all + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs the commands one after the other on one redis-cli connection (each line of
    /// stdin is a command), so nothing else can happen in between when they are a MULTI.
    @discardableResult
    func cli(script commands: [[String]]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        var all = ["-h", "127.0.0.1", "-p", "\(port)"]
        if let password { all += ["--no-auth-warning", "-a", password] }
        process.arguments = all
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(commands.map { $0.joined(separator: " ") + "\n" }.joined().utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    var url: String { "\(tlsCAFile == nil ? "redis" : "rediss")://\(password.map { ":\($0)@" } ?? "")127.0.0.1:\(port)/0" }
}
