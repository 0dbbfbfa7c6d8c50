import Foundation

/// A real Redis Cluster on loopback: three masters with a replica each, built with
/// `redis-cli --cluster create`, node timeout 1 s so a failover completes within a test.
final class RedisClusterDeployment {
    let nodes: [RedisServer]

    init() throws {
        nodes = try (0..<6).map { _ in
            try RedisServer(arguments: ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                                        "--cluster-node-timeout", "1000",
                                        // A free port for the bus too: the default, port + 10000, may not exist.
                                        "--cluster-port", "\(PortcullisProcess.freePort())"])
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        process.arguments = ["--cluster", "create"] + nodes.map { "127.0.0.1:\($0.port)" } + ["--cluster-replicas", "1", "--cluster-yes"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw RawHTTPClient.ClientError(description: "redis-cli --cluster create failed: \(output)")
        }
        for node in nodes {
            try node.waitUntil(seconds: 15, "node \(node.port) sees the cluster ok") {
                (try? node.cli(["CLUSTER", "INFO"]))?.contains("cluster_state:ok") == true
            }
        }
    }

    /// `revocation.redis_cluster_nodes`: one seed is enough, the map names the rest.
    var seeds: String { "127.0.0.1:\(nodes[0].port)" }

    /// The node (among these servers) currently master of `slot`, from `CLUSTER NODES`.
    func master(ofSlot slot: Int) -> RedisServer? {
        for node in nodes {
            guard let lines = try? node.cli(["CLUSTER", "NODES"]).split(separator: "\n"),
                  let myself = lines.first(where: { $0.contains("myself") }) else { continue }
            let fields = myself.split(separator: " ")
            guard fields.count > 2, fields[2].contains("master") else { continue }
            for range in fields.dropFirst(8) {
                let bounds = range.split(separator: "-").compactMap { Int($0) }
                if bounds.count == 2, (bounds[0]...bounds[1]).contains(slot) { return node }
                if bounds.count == 1, bounds[0] == slot { return node }
            }
        }
        return nil
    }

    var masters: [RedisServer] {
        nodes.filter { (try? $0.cli(["ROLE"]))?.hasPrefix("master") == true }
    }

    func slot(of key: String) throws -> Int {
        Int(try nodes[0].cli(["CLUSTER", "KEYSLOT", key])) ?? -1
    }

    func nodeID(_ node: RedisServer) throws -> String {
        try node.cli(["CLUSTER", "MYID"])
    }

    func replica(of master: RedisServer) throws -> RedisServer? {
        let id = try nodeID(master)
        return nodes.first { node in
            guard let lines = try? node.cli(["CLUSTER", "NODES"]).split(separator: "\n"),
                  let myself = lines.first(where: { $0.contains("myself") }) else { return false }
            let fields = myself.split(separator: " ")
            return fields.count > 3 && fields[2].contains("slave") && fields[3] == id
        }
    }

    /// Runs commands through a cluster-aware redis-cli (`-c` follows MOVED), one per stdin line.
    func cli(script commands: [[String]]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        process.arguments = ["-c", "-h", "127.0.0.1", "-p", "\(nodes[0].port)"]
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        input.fileHandleForWriting.write(Data(commands.map { $0.joined(separator: " ") + "\n" }.joined().utf8))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}
