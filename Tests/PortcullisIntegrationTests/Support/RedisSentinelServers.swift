import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real `redis-sentinel` on a free loopback port, monitoring one master as `mymaster`.
/// Fast timings, so a failover completes within a test: the master counts as down after 1 s.
final class RedisSentinelServer {
    let port: Int
    let password: String?
    private var process: Process?
    private let directory: URL
    private let masterPort: Int
    private let masterPassword: String?

    init(monitoring master: RedisServer, quorum: Int, password: String? = nil) throws {
        port = PortcullisProcess.freePort()
        self.password = password
        masterPort = master.port
        masterPassword = master.password
        directory = try GatewayHarness.makeTemporaryDirectory()
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    private func start() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-sentinel") else {
            throw RawHTTPClient.ClientError(description: "redis-sentinel not installed: run `make test` (it apt-installs redis-sentinel)")
        }
        var lines = [
            "port \(port)", "bind 127.0.0.1", "daemonize no", "dir \(directory.path)",
            "sentinel monitor mymaster 127.0.0.1 \(masterPort) 2",
            "sentinel down-after-milliseconds mymaster 1000",
            "sentinel failover-timeout mymaster 10000",
            "sentinel parallel-syncs mymaster 1",
        ]
        if let masterPassword { lines.append("sentinel auth-pass mymaster \(masterPassword)") }
        if let password {
            lines.append("requirepass \(password)")
            // The Sentinels find and vote with each other; with a password they need it too.
            lines.append("sentinel sentinel-pass \(password)")
        }
        let file = directory.appendingPathComponent("sentinel.conf")
        try lines.joined(separator: "\n").appending("\n").write(to: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-sentinel")
        process.arguments = [file.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if (try? cli(["PING"]))?.contains("PONG") == true { return }
            usleep(20_000)
        }
        throw RawHTTPClient.ClientError(description: "redis-sentinel did not start on port \(port)")
    }

    func stop() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    @discardableResult
    func cli(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        var all = ["-h", "127.0.0.1", "-p", "\(port)"]
        if let password { all += ["--no-auth-warning", "-a", password] }
        process.arguments = all + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The port this Sentinel currently names for `mymaster`.
    var masterPortNamed: Int? {
        guard let lines = try? cli(["SENTINEL", "get-master-addr-by-name", "mymaster"]).split(separator: "\n"),
              lines.count == 2 else { return nil }
        return Int(lines[1].trimmingCharacters(in: .whitespaces))
    }
}

/// A master, its replica and three Sentinels (quorum 2), all on loopback, ready for a failover:
/// every Sentinel knows the replica and the two other Sentinels.
final class SentinelDeployment {
    let master: RedisServer
    let replica: RedisServer
    let sentinels: [RedisSentinelServer]

    init(sentinelPassword: String? = nil) throws {
        let master = try RedisServer()
        let replica = try master.startReplica()
        let sentinels = try (0..<3).map { _ in try RedisSentinelServer(monitoring: master, quorum: 2, password: sentinelPassword) }
        self.master = master
        self.replica = replica
        self.sentinels = sentinels
        for sentinel in sentinels {
            try master.waitUntil(seconds: 15, "Sentinel \(sentinel.port) knows the replica and the other Sentinels") {
                let replicas = (try? sentinel.cli(["SENTINEL", "replicas", "mymaster"])) ?? ""
                let others = (try? sentinel.cli(["SENTINEL", "sentinels", "mymaster"])) ?? ""
                let known = sentinels.filter { $0.port != sentinel.port }.allSatisfy { others.contains("\($0.port)") }
                return replicas.contains("\(replica.port)") && !replicas.contains("s_down") && known
            }
        }
    }

    /// `revocation.redis_sentinels` for these Sentinels.
    var sentinelList: String { sentinels.map { "127.0.0.1:\($0.port)" }.joined(separator: ",") }

    /// How many of Portcullis's connections (by `CLIENT SETNAME`) `server` holds.
    static func portcullisConnections(on server: RedisServer) -> Int {
        guard let list = try? server.cli(["CLIENT", "LIST"]) else { return 0 }
        return list.split(separator: "\n").filter { $0.contains("name=portcullis-") }.count
    }
}
