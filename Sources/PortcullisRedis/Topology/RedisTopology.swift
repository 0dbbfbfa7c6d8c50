import NIOCore
import ServiceLifecycle

/// What the store needs from Redis, whatever its shape (one server, Sentinel, Cluster): send a
/// lookup's commands from the request's event loop, send admin commands from anywhere.
///
/// Every command given here touches the keys of one hash slot only; commands of one call are
/// pipelined, so a call costs one round trip of latency.
protocol RedisTopology: AnyObject, Sendable, Service {
    /// On the calling event loop, without a hop: replies in order, `completion` once on that loop.
    /// Fails at once when the loop has no connection ready.
    func lookup(_ commands: [[String]], completion: @escaping (Result<[RedisReply], Error>) -> Void)

    /// From any thread, on the admin connection (apart from lookups, so a slow `SCAN` or a
    /// `WAIT` never holds up a request). `timeout` overrides `revocation.timeout` for these.
    func execute(_ commands: [[String]], timeout: TimeAmount?) async throws -> [RedisReply]

    /// How many nodes a listing walks with `SCAN` (the masters of a cluster; else 1).
    var scanNodeCount: Int { get }

    /// `commands` on the admin connection of node `index` (0 ..< `scanNodeCount`).
    func execute(_ commands: [[String]], timeout: TimeAmount?, onNode index: Int) async throws -> [RedisReply]

    /// The calling event loop's local cache, when `revocation.local_cache: tracking` (check
    /// `inUse` before trusting it), else nil.
    func localCache() -> RedisLoopCache?

    /// Drops keys from every loop's local cache, before the call returns.
    func invalidateLocally(_ keys: [String]) async

    /// Closes every connection; commands fail from then on.
    func shutdown() async
}

extension RedisTopology {
    func execute(_ commands: [[String]]) async throws -> [RedisReply] {
        try await execute(commands, timeout: nil)
    }
}
