import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import PortcullisCore

/// `revocation.store: redis`: the store several Portcullis replicas share (INTERFACE §5).
///
/// A lookup is one round trip: `MGET jti-key subject-key [token-key]` on the connection of the
/// calling event loop, pipelined with every other lookup of that loop.
public final class RedisRevocationStore: RevocationStore {
    public struct Settings: Sendable {
        public var url: RedisURL
        public var jtiKey: String
        public var subjectKey: String
        public var tokenKey: String
        public var timeout: TimeAmount
        public var leewaySeconds: Double
        public var maxTTLSeconds: Double
        /// For `rediss://`: trust this PEM CA bundle instead of the system's roots.
        public var tlsCAFile: String?

        public init(url: RedisURL, jtiKey: String, subjectKey: String, tokenKey: String, timeout: TimeAmount,
                    leewaySeconds: Double, maxTTLSeconds: Double, tlsCAFile: String? = nil) {
            self.tlsCAFile = tlsCAFile
            self.url = url
            self.jtiKey = jtiKey
            self.subjectKey = subjectKey
            self.tokenKey = tokenKey
            self.timeout = timeout
            self.leewaySeconds = leewaySeconds
            self.maxTTLSeconds = maxTTLSeconds
        }
    }

    private let group: EventLoopGroup
    private let connections: [ObjectIdentifier: NIOLoopBound<RedisConnection>]
    private let loops: [EventLoop]
    private let jti: KeyTemplate
    private let subject: KeyTemplate
    private let token: KeyTemplate?
    private let settings: Settings
    private let now: @Sendable () -> Double

    public init(settings: Settings, group: EventLoopGroup, logger: Logger,
                now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) async throws {
        guard let jti = KeyTemplate(settings.jtiKey, placeholder: "{jti}"),
              let subject = KeyTemplate(settings.subjectKey, placeholder: "{sub}")
        else { throw RevocationStoreError(.unavailable, "revocation key templates must contain {jti} and {sub}") }
        self.jti = jti
        self.subject = subject
        self.token = KeyTemplate(settings.tokenKey, placeholder: "{token}")
        self.settings = settings
        self.group = group
        self.now = now
        var tls: NIOSSLContext?
        if settings.url.tls {
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let caFile = settings.tlsCAFile {
                configuration.trustRoots = .file(caFile)
            }
            do {
                tls = try NIOSSLContext(configuration: configuration)
            } catch {
                throw RevocationStoreError(.unavailable, "revocation.redis_url: TLS setup failed: \(error)")
            }
        }
        let connectionSettings = RedisConnection.Settings(
            host: settings.url.host, port: settings.url.port, username: settings.url.username,
            password: settings.url.password, database: settings.url.database, timeout: settings.timeout, tls: tls)
        var connections: [ObjectIdentifier: NIOLoopBound<RedisConnection>] = [:]
        var loops: [EventLoop] = []
        for loop in group.makeIterator() {
            loops.append(loop)
            connections[ObjectIdentifier(loop)] = try await loop.submit {
                let connection = RedisConnection(eventLoop: loop, settings: connectionSettings, logger: logger)
                connection.start()
                return NIOLoopBound(connection, eventLoop: loop)
            }.get()
        }
        self.connections = connections
        self.loops = loops
    }

    // MARK: Per-request check

    public func immediateVerdict(_ query: RevocationQuery) -> RevocationVerdict? {
        query.jti == nil && query.subject == nil && (query.rawToken == nil || token == nil) ? .allowed : nil
    }

    public func check(_ query: RevocationQuery, answer: @escaping @Sendable (RevocationVerdict) -> Void) {
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop,
              let connection = connections[ObjectIdentifier(loop)]?.value
        else {
            answer(.unavailable)
            return
        }
        var keys: [String] = []
        var slots: (jti: Int?, subject: Int?, token: Int?) = (nil, nil, nil)
        if let value = query.jti { slots.jti = keys.count; keys.append(jti.key(value)) }
        if let value = query.subject { slots.subject = keys.count; keys.append(subject.key(value)) }
        if let template = token, let raw = query.rawToken { slots.token = keys.count; keys.append(template.key(raw)) }
        guard !keys.isEmpty else {
            answer(.allowed)
            return
        }
        connection.send(["MGET"] + keys) { result in
            guard case .success(.array(let values)) = result, values.count == keys.count else {
                answer(.unavailable)
                return
            }
            func present(_ slot: Int?) -> Bool {
                guard let slot else { return false }
                if case .null = values[slot] { return false }
                return true
            }
            if present(slots.jti) || present(slots.token) {
                answer(.revoked)
                return
            }
            if let slot = slots.subject, let text = values[slot].text {
                // A cut-off that is not a number revokes everything of that subject: fail safe.
                let cutoff = Double(text.trimmingCharacters(in: .whitespaces)) ?? .infinity
                if let iat = query.issuedAt, iat > cutoff {
                    answer(.allowed)
                } else {
                    answer(.revoked)
                }
                return
            }
            answer(.allowed)
        }
    }

    // MARK: Admin operations

    /// The jti key and its reason key are written in one `MULTI`/`EXEC`, pipelined in one round
    /// trip: both exist with the same TTL, or neither. Without a reason, a reason left from an
    /// earlier revocation of the same jti is deleted.
    public func revoke(jti value: String, expiresAt: Double?, reason: String?) async throws(RevocationStoreError) -> RevocationRecord {
        let time = now()
        let until = expiresAt.map { $0 + settings.leewaySeconds } ?? time + settings.maxTTLSeconds
        let ttl = Self.ttl(until, now: time)
        if ttl > 0 {
            let key = jti.key(value)
            let results = try await transaction([
                ["SET", key, "1", "EX", String(ttl)],
                reason.map { ["SET", Self.reasonKey(of: key), $0, "EX", String(ttl)] } ?? ["DEL", Self.reasonKey(of: key)],
            ])
            try expectOK(results[0])
        }
        return RevocationRecord(jti: value, expiresAt: until, ttlSeconds: ttl, reason: reason)
    }

    public func revoke(rawToken: String, expiresAt: Double?, reason: String?) async throws(RevocationStoreError) -> Int {
        guard let token else { throw RevocationStoreError(.unavailable, "revocation.token_key is not set") }
        let time = now()
        let ttl = Self.ttl(expiresAt.map { $0 + settings.leewaySeconds } ?? time + settings.maxTTLSeconds, now: time)
        if ttl > 0 {
            try expectOK(try await command(["SET", token.key(rawToken), "1", "EX", String(ttl)]))
        }
        return ttl
    }

    /// `TTL` of the jti key and `GET` of its reason key, pipelined.
    public func lookup(jti value: String) async throws(RevocationStoreError) -> RevocationRecord? {
        let key = jti.key(value)
        let replies = try await pipeline([["TTL", key], ["GET", Self.reasonKey(of: key)]])
        guard let seconds = try remainingSeconds(replies[0]) else { return nil }
        return RevocationRecord(jti: value, expiresAt: now() + Double(seconds), ttlSeconds: seconds,
                                reason: replies[1].text)
    }

    public func unrevoke(jti value: String) async throws(RevocationStoreError) -> Bool {
        let key = jti.key(value)
        let results = try await transaction([["DEL", key], ["DEL", Self.reasonKey(of: key)]])
        guard case .integer(let removed) = results[0] else {
            throw RevocationStoreError(.unavailable, "unexpected reply to DEL")
        }
        return removed > 0
    }

    /// `SCAN MATCH` over the jti template, a page at a time; see `ScanCursor` for how a `SCAN`
    /// batch larger than the page is carried over. On a keyspace that does not change while
    /// the pages are fetched, every revoked jti comes exactly once; while it changes, a jti
    /// present throughout comes at least once (as with `SCAN` itself).
    public func list(limit: Int, cursor: String?) async throws(RevocationStoreError) -> RevocationPage {
        var position: ScanCursor
        if let cursor, !cursor.isEmpty {
            guard let decoded = ScanCursor(encoded: cursor) else {
                throw RevocationStoreError(.badCursor, "cursor: not one this server issued")
            }
            position = decoded
        } else {
            position = ScanCursor(startingWithPageSize: limit)
        }
        var items: [RevocationRecord] = []
        var listed = Set<String>()
        while true {
            let reply = try await command(["SCAN", String(position.position), "MATCH", jti.scanPattern,
                                           "COUNT", String(position.count)])
            guard case .array(let parts) = reply, parts.count == 2, let nextText = parts[0].text,
                  let next = UInt64(nextText), case .array(let found) = parts[1]
            else { throw RevocationStoreError(.unavailable, "unexpected reply to SCAN") }
            var remaining = position.remaining(of: found.compactMap(\.text).filter(isJTIKey), batchEnd: next)[...]
            while !remaining.isEmpty && items.count < limit {
                let chunk = remaining.prefix(limit - items.count)
                remaining = remaining.dropFirst(chunk.count)
                position.progress = chunk.last.map { ScanCursor.Progress(lastKey: $0, batchEnd: next) }
                // A key can come twice across SCAN calls while Redis resizes its table.
                let fresh = chunk.filter { !listed.contains($0) }
                let replies = try await pipeline(fresh.map { ["TTL", $0] })
                let time = now()
                for (key, reply) in zip(fresh, replies) {
                    // Gone since SCAN saw it (expired or un-revoked): not listed.
                    guard let seconds = try remainingSeconds(reply), let value = jti.value(in: key) else { continue }
                    listed.insert(key)
                    items.append(RevocationRecord(jti: value, expiresAt: time + Double(seconds), ttlSeconds: seconds))
                }
            }
            if !remaining.isEmpty {
                return RevocationPage(items: items, nextCursor: position.encoded)
            }
            guard next != 0 else { return RevocationPage(items: items, nextCursor: nil) }
            position = ScanCursor(position: next, count: position.count)
            if items.count >= limit {
                return RevocationPage(items: items, nextCursor: position.encoded)
            }
        }
    }

    public func revokeSubject(_ value: String, before: Double) async throws(RevocationStoreError) -> SubjectCutoff {
        let ttl = Int(settings.maxTTLSeconds.rounded(.up))
        try expectOK(try await command(["SET", subject.key(value), String(Int64(before)), "EX", String(ttl)]))
        return SubjectCutoff(subject: value, revokedBefore: before, ttlSeconds: ttl)
    }

    public func unrevokeSubject(_ value: String) async throws(RevocationStoreError) -> Bool {
        guard case .integer(let removed) = try await command(["DEL", subject.key(value)]) else {
            throw RevocationStoreError(.unavailable, "unexpected reply to DEL")
        }
        return removed > 0
    }

    public func isReady() async -> Bool {
        guard case .status(let pong)? = try? await command(["PING"]) else { return false }
        return pong == "PONG"
    }

    public func shutdown() async {
        for loop in loops {
            guard let connection = connections[ObjectIdentifier(loop)] else { continue }
            try? await loop.submit { connection.value.shutdown() }.get()
        }
    }

    // MARK: Helpers

    /// Where the reason of a jti revocation is kept: beside the jti key, never inside it, since
    /// the jti key's value is `1` for anyone reading the layout of INTERFACE §5.
    static let reasonKeyPrefix = "portcullis:reason:"

    static func reasonKey(of jtiKey: String) -> String { reasonKeyPrefix + jtiKey }

    /// A key of the jti template that is not a reason key; with a template as broad as `{jti}`,
    /// `SCAN MATCH` also returns the reason keys, which are never listed as jtis.
    private func isJTIKey(_ key: String) -> Bool {
        guard jti.value(in: key) != nil else { return false }
        guard key.hasPrefix(Self.reasonKeyPrefix) else { return true }
        return jti.value(in: String(key.dropFirst(Self.reasonKeyPrefix.count))) == nil
    }

    /// Seconds a key has left from its `TTL` reply; nil when the key does not exist.
    private func remainingSeconds(_ reply: RedisReply) throws(RevocationStoreError) -> Int? {
        guard case .integer(let ttl) = reply else { throw RevocationStoreError(.unavailable, "unexpected reply to TTL") }
        // -2: no such key; -1: a key without expiry (written by hand), revoked for good.
        guard ttl != -2 else { return nil }
        return ttl < 0 ? Int(settings.maxTTLSeconds) : Int(ttl)
    }

    /// Sends every command back to back on the first loop's connection, so they leave in one
    /// write: one round trip. Replies in order; a Redis error reply is returned, not thrown.
    private func pipeline(_ commands: [[String]]) async throws(RevocationStoreError) -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        guard let loop = loops.first, let connection = connections[ObjectIdentifier(loop)] else {
            throw RevocationStoreError(.unavailable, "no Redis connection")
        }
        let promise = loop.makePromise(of: [RedisReply].self)
        loop.execute {
            var replies: [RedisReply] = []
            replies.reserveCapacity(commands.count)
            var failed = false
            for arguments in commands {
                connection.value.send(arguments) { result in
                    switch result {
                    case .success(let reply):
                        replies.append(reply)
                        if replies.count == commands.count { promise.succeed(replies) }
                    case .failure(let error):
                        // The connection fails every outstanding command at once: answer once.
                        if !failed { promise.fail(error) }
                        failed = true
                    }
                }
            }
        }
        do {
            return try await promise.futureResult.get()
        } catch {
            throw RevocationStoreError(.unavailable, "\(error)")
        }
    }

    /// `MULTI`, the commands, `EXEC`, pipelined: applied all or none. Returns `EXEC`'s results.
    private func transaction(_ commands: [[String]]) async throws(RevocationStoreError) -> [RedisReply] {
        let replies = try await pipeline([["MULTI"]] + commands + [["EXEC"]])
        for reply in replies {
            if case .error(let message) = reply { throw RevocationStoreError(.unavailable, "Redis: \(message)") }
        }
        guard case .array(let results) = replies.last, results.count == commands.count else {
            throw RevocationStoreError(.unavailable, "unexpected reply to EXEC")
        }
        for result in results {
            if case .error(let message) = result { throw RevocationStoreError(.unavailable, "Redis: \(message)") }
        }
        return results
    }

    /// Runs one command on the first loop's connection, from any thread.
    private func command(_ arguments: [String]) async throws(RevocationStoreError) -> RedisReply {
        guard let loop = loops.first, let connection = connections[ObjectIdentifier(loop)] else {
            throw RevocationStoreError(.unavailable, "no Redis connection")
        }
        let promise = loop.makePromise(of: RedisReply.self)
        loop.execute {
            connection.value.send(arguments) { promise.completeWith($0) }
        }
        do {
            let reply = try await promise.futureResult.get()
            if case .error(let message) = reply { throw RevocationStoreError(.unavailable, "Redis: \(message)") }
            return reply
        } catch let error as RevocationStoreError {
            throw error
        } catch {
            throw RevocationStoreError(.unavailable, "\(error)")
        }
    }

    private func expectOK(_ reply: RedisReply) throws(RevocationStoreError) {
        guard case .status("OK") = reply else { throw RevocationStoreError(.unavailable, "unexpected reply \(reply)") }
    }

    private static func ttl(_ until: Double, now time: Double) -> Int {
        let remaining = until - time
        return remaining > 0 ? Int(remaining.rounded(.up)) : 0
    }
}
