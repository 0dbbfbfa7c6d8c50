import Crypto
import Foundation
import Synchronization

/// The embedded store: entries with expiry in process memory, every change journaled to a
/// local file that is replayed at start. For a single node; replicas share Redis instead.
/// Its audit lives in the same file, the newest `auditMaxEntries` kept.
public final class MemoryRevocationStore: RevocationStore, RevocationFeed, AuditTrail {
    public struct Settings: Sendable {
        public var file: String
        public var leewaySeconds: Double
        public var maxTTLSeconds: Double
        /// `admin.audit_max_entries`.
        public var auditMaxEntries: Int

        public init(file: String, leewaySeconds: Double, maxTTLSeconds: Double, auditMaxEntries: Int = 100_000) {
            self.auditMaxEntries = auditMaxEntries
            self.file = file
            self.leewaySeconds = leewaySeconds
            self.maxTTLSeconds = maxTTLSeconds
        }
    }

    /// What replaying the file found, for the startup log.
    public struct LoadReport: Sendable {
        public var liveEntries: Int
        public var auditEntries: Int
        public var skippedLines: Int
    }

    private struct Tables {
        var jtis: [String: Entry] = [:]
        var tokens: [String: Double] = [:]
        var subjects: [String: Cutoff] = [:]
        var audit: MemoryAuditLog

        init(auditCapacity: Int) { audit = MemoryAuditLog(capacity: auditCapacity) }

        var liveCount: Int { jtis.count + tokens.count + subjects.count }
        /// The lines a compacted file holds.
        var recordCount: Int { liveCount + audit.count }
    }

    private struct Entry {
        var expiresAt: Double
        var reason: String?
    }

    private struct Cutoff {
        var before: Double
        var expiresAt: Double
    }

    private let settings: Settings
    private let now: @Sendable () -> Double
    /// Hot-path reads take only this lock, briefly.
    private let tables: Mutex<Tables>
    /// Serializes journal writes (which fsync) without holding up readers.
    private let journal: Mutex<RevocationJournal>
    public let loadReport: LoadReport
    /// Told after each revocation (open tunnels close on it); read only by writers.
    private let observers = Mutex<[@Sendable (RevocationNotice) -> Void]>([])

    public init(
        settings: Settings,
        now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) throws(RevocationStoreError) {
        self.settings = settings
        self.now = now
        let replay = try RevocationJournal.replay(path: settings.file)
        var loaded = Tables(auditCapacity: settings.auditMaxEntries)
        let start = now()
        for record in replay.records {
            Self.apply(record, to: &loaded)
        }
        Self.dropExpired(from: &loaded, now: start)
        let journal = try RevocationJournal(path: settings.file)
        // Start from a compact file: replay cost and size stay proportional to live entries.
        try journal.rewrite(with: Self.records(of: loaded))
        self.tables = Mutex(loaded)
        self.journal = Mutex(journal)
        self.loadReport = LoadReport(liveEntries: loaded.liveCount, auditEntries: loaded.audit.count,
                                     skippedLines: replay.skippedLines)
    }

    // MARK: Per-request check

    public func immediateVerdict(_ query: RevocationQuery) -> RevocationVerdict? {
        let time = now()
        let tokenHash = query.rawToken.map(Self.sha256Hex)
        return tables.withLock { t -> RevocationVerdict in
            if let jti = query.jti, let entry = t.jtis[jti], entry.expiresAt > time {
                return .revoked
            }
            if let tokenHash, let expiry = t.tokens[tokenHash], expiry > time {
                return .revoked
            }
            if let subject = query.subject, let cutoff = t.subjects[subject], cutoff.expiresAt > time {
                guard let iat = query.issuedAt, iat > cutoff.before else { return .revoked }
            }
            return .allowed
        }
    }

    public func check(_ query: RevocationQuery, answer: @escaping @Sendable (RevocationVerdict) -> Void) {
        answer(immediateVerdict(query) ?? .unavailable)
    }

    // MARK: Admin operations

    public func revoke(jti: String, expiresAt: Double?, reason: String?) throws(RevocationStoreError) -> RevocationRecord {
        let time = now()
        let until = expiryFor(expiresAt, now: time)
        let ttl = Self.ttl(until, now: time)
        // A token that has already expired needs no entry: it is rejected anyway.
        if ttl > 0 {
            try write(.revoke(jti: jti, expiresAt: until, reason: reason))
        }
        return RevocationRecord(jti: jti, expiresAt: until, ttlSeconds: ttl, reason: reason)
    }

    public func revoke(rawToken: String, expiresAt: Double?, reason: String?) throws(RevocationStoreError) -> Int {
        let time = now()
        let until = expiryFor(expiresAt, now: time)
        let ttl = Self.ttl(until, now: time)
        if ttl > 0 {
            try write(.revokeToken(sha256: Self.sha256Hex(Substring(rawToken)), expiresAt: until))
        }
        return ttl
    }

    public func lookup(jti: String) -> RevocationRecord? {
        let time = now()
        return tables.withLock { t -> RevocationRecord? in
            guard let entry = t.jtis[jti], entry.expiresAt > time else { return nil }
            return RevocationRecord(jti: jti, expiresAt: entry.expiresAt,
                                    ttlSeconds: Self.ttl(entry.expiresAt, now: time), reason: entry.reason)
        }
    }

    public func unrevoke(jti: String) throws(RevocationStoreError) -> Bool {
        guard lookup(jti: jti) != nil else { return false }
        try write(.unrevoke(jti: jti))
        return true
    }

    /// Pages in jti order; the cursor is the last jti of the previous page, tagged and
    /// base64url-encoded, so each live jti comes exactly once even when entries change between pages.
    public func list(limit: Int, cursor: String?) throws(RevocationStoreError) -> RevocationPage {
        var after: String?
        if let cursor, !cursor.isEmpty {
            guard let decoded = Self.decodeCursor(cursor) else {
                throw RevocationStoreError(.badCursor, "cursor: not one this server issued")
            }
            after = decoded
        }
        let time = now()
        let live = tables.withLock { t in
            t.jtis.filter { $0.value.expiresAt > time }
        }
        let ordered = live.keys.sorted().drop { after != nil && $0 <= after! }
        let page = ordered.prefix(limit).map { jti in
            RevocationRecord(jti: jti, expiresAt: live[jti]!.expiresAt,
                             ttlSeconds: Self.ttl(live[jti]!.expiresAt, now: time), reason: live[jti]!.reason)
        }
        let next = ordered.count > limit ? page.last.map { Self.encodeCursor($0.jti) } : nil
        return RevocationPage(items: page, nextCursor: next)
    }

    public func revokeSubject(_ subject: String, before: Double) throws(RevocationStoreError) -> SubjectCutoff {
        let time = now()
        let until = time + settings.maxTTLSeconds
        try write(.revokeSubject(subject: subject, before: before, expiresAt: until))
        return SubjectCutoff(subject: subject, revokedBefore: before, ttlSeconds: Self.ttl(until, now: time))
    }

    public func unrevokeSubject(_ subject: String) throws(RevocationStoreError) -> Bool {
        let time = now()
        let present = tables.withLock { t in (t.subjects[subject]?.expiresAt ?? 0) > time }
        guard present else { return false }
        try write(.unrevokeSubject(subject: subject))
        return true
    }

    public func isReady() -> Bool { true }

    // MARK: Audit

    public func record(_ entry: AuditEntry) throws(RevocationStoreError) {
        try journal.withLock { (journal: inout RevocationJournal) throws(RevocationStoreError) in
            // Numbered under the journal's lock, which orders every write.
            let sequence = tables.withLock { $0.audit.lastSequence + 1 }
            try append(.audit(entry, sequence: sequence), to: &journal)
        }
    }

    /// Newest first; the cursor is the sequence number of the previous page's last entry.
    public func page(limit: Int, cursor: String?) throws(RevocationStoreError) -> AuditPage {
        var before: UInt64?
        if let cursor, !cursor.isEmpty {
            guard let sequence = MemoryAuditLog.sequence(inCursor: cursor) else {
                throw RevocationStoreError(.badCursor, "cursor: not one this server issued")
            }
            before = sequence
        }
        let (items, more) = tables.withLock { $0.audit.page(limit: limit, before: before) }
        return AuditPage(items: items.map(\.entry),
                         nextCursor: more ? items.last.map { MemoryAuditLog.cursor($0.sequence) } : nil)
    }

    public func observeRevocations(_ observer: @escaping @Sendable (RevocationNotice) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    /// Drops expired entries from memory; the file follows at the next compaction.
    public func sweep() {
        let time = now()
        tables.withLock { Self.dropExpired(from: &$0, now: time) }
    }

    // MARK: Internals

    /// Journal first, then memory: a change is visible only once it is durable.
    private func write(_ record: JournalRecord) throws(RevocationStoreError) {
        try journal.withLock { (journal: inout RevocationJournal) throws(RevocationStoreError) in
            try append(record, to: &journal)
        }
        let notice: RevocationNotice? = switch record {
        case .revoke(let jti, _, _): .jti(jti)
        case .revokeToken: .rawToken
        case .revokeSubject(let subject, _, _): .subject(subject)
        case .unrevoke, .unrevokeSubject, .audit: nil
        }
        if let notice {
            // Outside both locks: an observer may take its own.
            for observer in observers.withLock({ $0 }) { observer(notice) }
        }
    }

    /// Under the journal's lock. The file is compacted once it holds many more lines than
    /// live entries and kept audit entries: its size stays bounded by both.
    private func append(_ record: JournalRecord, to journal: inout RevocationJournal) throws(RevocationStoreError) {
        try journal.append(record)
        let kept = tables.withLock { t -> Int in
            Self.apply(record, to: &t)
            return t.recordCount
        }
        if journal.linesWritten > 2 * kept + 1024 {
            let time = now()
            let snapshot = tables.withLock { t -> [JournalRecord] in
                Self.dropExpired(from: &t, now: time)
                return Self.records(of: t)
            }
            try journal.rewrite(with: snapshot)
        }
    }

    private func expiryFor(_ expiresAt: Double?, now time: Double) -> Double {
        if let expiresAt { return expiresAt + settings.leewaySeconds }
        return time + settings.maxTTLSeconds
    }

    private static func ttl(_ until: Double, now time: Double) -> Int {
        let remaining = until - time
        return remaining > 0 ? Int(remaining.rounded(.up)) : 0
    }

    private static func apply(_ record: JournalRecord, to t: inout Tables) {
        switch record {
        case .revoke(let jti, let expiresAt, let reason):
            t.jtis[jti] = Entry(expiresAt: expiresAt, reason: reason)
        case .unrevoke(let jti):
            t.jtis[jti] = nil
        case .revokeToken(let hash, let expiresAt):
            t.tokens[hash] = expiresAt
        case .revokeSubject(let subject, let before, let expiresAt):
            t.subjects[subject] = Cutoff(before: before, expiresAt: expiresAt)
        case .unrevokeSubject(let subject):
            t.subjects[subject] = nil
        case .audit(let entry, let sequence):
            t.audit.append(entry, sequence: sequence)
        }
    }

    private static func dropExpired(from t: inout Tables, now time: Double) {
        t.jtis = t.jtis.filter { $0.value.expiresAt > time }
        t.tokens = t.tokens.filter { $0.value > time }
        t.subjects = t.subjects.filter { $0.value.expiresAt > time }
    }

    private static func records(of t: Tables) -> [JournalRecord] {
        var records: [JournalRecord] = []
        records.reserveCapacity(t.recordCount)
        for (jti, entry) in t.jtis.sorted(by: { $0.key < $1.key }) {
            records.append(.revoke(jti: jti, expiresAt: entry.expiresAt, reason: entry.reason))
        }
        for (hash, expiry) in t.tokens.sorted(by: { $0.key < $1.key }) {
            records.append(.revokeToken(sha256: hash, expiresAt: expiry))
        }
        for (subject, cutoff) in t.subjects.sorted(by: { $0.key < $1.key }) {
            records.append(.revokeSubject(subject: subject, before: cutoff.before, expiresAt: cutoff.expiresAt))
        }
        for stored in t.audit.retained {
            records.append(.audit(stored.entry, sequence: stored.sequence))
        }
        return records
    }

    static func sha256Hex(_ token: Substring) -> String {
        let digest = SHA256.hash(data: Array(token.utf8))
        return digest.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    private static let cursorTag = "m1:"

    static func encodeCursor(_ jti: String) -> String {
        Base64URL.encode((cursorTag + jti).utf8)
    }

    /// nil for anything `encodeCursor` did not produce (a Redis store's cursor included).
    static func decodeCursor(_ cursor: String) -> String? {
        guard let bytes = Base64URL.decode(cursor), let text = String(validating: bytes, as: UTF8.self),
              text.hasPrefix(cursorTag)
        else { return nil }
        return String(text.dropFirst(cursorTag.count))
    }
}
