import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One change to the embedded store, as written to `revocation.file` (one JSON object a line).
enum JournalRecord: Equatable {
    case revoke(jti: String, expiresAt: Double, reason: String?)
    case unrevoke(jti: String)
    /// Raw tokens are kept as their SHA-256 so the file never holds a usable token.
    case revokeToken(sha256: String, expiresAt: Double)
    case revokeSubject(subject: String, before: Double, expiresAt: Double)
    case unrevokeSubject(subject: String)
    /// An audit entry, with its sequence number (what the audit's cursors name).
    case audit(AuditEntry, sequence: UInt64)

    /// One line, keys sorted: `{"expires_at":1767225600,"jti":"3f1c9a","op":"revoke"}`. Written
    /// and read without Foundation's JSON classes, so replaying a million-entry file takes
    /// seconds rather than minutes.
    func encoded() -> Data {
        var fields: [(String, JournalValue)]
        switch self {
        case .revoke(let jti, let expiresAt, let reason):
            fields = [("expires_at", .number(expiresAt)), ("jti", .string(jti)), ("op", .string("revoke"))]
            if let reason { fields.append(("reason", .string(reason))) }
        case .unrevoke(let jti):
            fields = [("jti", .string(jti)), ("op", .string("unrevoke"))]
        case .revokeToken(let sha256, let expiresAt):
            fields = [("expires_at", .number(expiresAt)), ("op", .string("revoke_token")), ("sha256", .string(sha256))]
        case .revokeSubject(let subject, let before, let expiresAt):
            fields = [("before", .number(before)), ("expires_at", .number(expiresAt)), ("op", .string("revoke_subject")),
                      ("sub", .string(subject))]
        case .unrevokeSubject(let subject):
            fields = [("op", .string("unrevoke_subject")), ("sub", .string(subject))]
        case .audit(let entry, let sequence):
            fields = [("action", .string(entry.action.rawValue)), ("actor", .string(entry.actor)), ("op", .string("audit"))]
            if let peer = entry.peer { fields.append(("peer", .string(peer))) }
            if let reason = entry.reason { fields.append(("reason", .string(reason))) }
            fields += [("seq", .number(Double(sequence))), ("target", .string(entry.target)), ("time", .number(entry.time))]
        }
        var out = "{"
        for (index, (key, value)) in fields.enumerated() {
            if index > 0 { out += "," }
            out += "\"\(key)\":"
            value.write(to: &out)
        }
        out += "}\n"
        return Data(out.utf8)
    }

    init?(line: Substring) {
        guard case .object(let object)? = try? JSONValue.parse(String(line)),
              case .string(let op)? = object["op"]
        else { return nil }
        func string(_ key: String) -> String? {
            if case .string(let text)? = object[key] { return text }
            return nil
        }
        func number(_ key: String) -> Double? {
            if case .number(let text)? = object[key] { return Double(text) }
            return nil
        }
        switch op {
        case "revoke":
            guard let jti = string("jti"), let exp = number("expires_at") else { return nil }
            self = .revoke(jti: jti, expiresAt: exp, reason: string("reason"))
        case "unrevoke":
            guard let jti = string("jti") else { return nil }
            self = .unrevoke(jti: jti)
        case "revoke_token":
            guard let hash = string("sha256"), let exp = number("expires_at") else { return nil }
            self = .revokeToken(sha256: hash, expiresAt: exp)
        case "revoke_subject":
            guard let sub = string("sub"), let before = number("before"), let exp = number("expires_at") else { return nil }
            self = .revokeSubject(subject: sub, before: before, expiresAt: exp)
        case "unrevoke_subject":
            guard let sub = string("sub") else { return nil }
            self = .unrevokeSubject(subject: sub)
        case "audit":
            guard let actionName = string("action"), let action = AuditAction(rawValue: actionName),
                  let actor = string("actor"), let target = string("target"), let time = number("time"),
                  case .number(let sequenceText)? = object["seq"], let sequence = UInt64(sequenceText)
            else { return nil }
            self = .audit(AuditEntry(time: time, actor: actor, action: action, target: target,
                                     reason: string("reason"), peer: string("peer")),
                          sequence: sequence)
        default:
            return nil
        }
    }
}

private enum JournalValue {
    case string(String)
    case number(Double)

    func write(to out: inout String) {
        switch self {
        case .number(let value):
            // Whole seconds as integers (what operators and scripts write); fractions exactly.
            if value == value.rounded(), abs(value) < 1e15 { out += String(Int64(value)) } else { out += "\(value)" }
        case .string(let text):
            out += "\"" + JSONStringEncoding.escaped(text) + "\""
        }
    }
}

/// The append-only file behind the embedded store.
///
/// Each change is written and fsync'ed before the admin API answers, so a 201 survives
/// SIGKILL and power loss. The file is rewritten from the live entries (compacted) when
/// it holds many more lines than there are live entries.
final class RevocationJournal {
    let path: String
    private var fd: Int32
    private(set) var linesWritten = 0

    struct Replay {
        var records: [JournalRecord] = []
        /// Lines that could not be read: a torn last line after a crash, or damage.
        var skippedLines = 0
    }

    init(path: String) throws(RevocationStoreError) {
        self.path = path
        self.fd = try Self.openForAppend(path)
    }

    deinit { close(fd) }

    static func replay(path: String) throws(RevocationStoreError) -> Replay {
        guard FileManager.default.fileExists(atPath: path) else { return Replay() }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw RevocationStoreError(.durability, "cannot read \(path): \(error.localizedDescription)")
        }
        var replay = Replay()
        let text = String(decoding: data, as: UTF8.self)
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if let record = JournalRecord(line: line) {
                replay.records.append(record)
            } else {
                replay.skippedLines += 1
            }
        }
        return replay
    }

    func append(_ record: JournalRecord) throws(RevocationStoreError) {
        try Self.writeAll(fd, record.encoded(), path: path)
        guard fsync(fd) == 0 else {
            throw RevocationStoreError(.durability, "fsync \(path): \(String(cString: strerror(errno)))")
        }
        linesWritten += 1
    }

    /// Replaces the file with `records`: write a temporary file, fsync it, rename it over
    /// the journal, fsync the directory. A crash at any point leaves either file whole.
    func rewrite(with records: [JournalRecord]) throws(RevocationStoreError) {
        let temporary = path + ".compacting"
        let tfd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard tfd >= 0 else {
            throw RevocationStoreError(.durability, "open \(temporary): \(String(cString: strerror(errno)))")
        }
        var body = Data()
        for record in records { body.append(record.encoded()) }
        do {
            try Self.writeAll(tfd, body, path: temporary)
        } catch {
            close(tfd)
            unlink(temporary)
            throw error
        }
        guard fsync(tfd) == 0 else {
            close(tfd)
            unlink(temporary)
            throw RevocationStoreError(.durability, "fsync \(temporary): \(String(cString: strerror(errno)))")
        }
        close(tfd)
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw RevocationStoreError(.durability, "rename \(temporary): \(String(cString: strerror(errno)))")
        }
        Self.syncDirectory(of: path)
        close(fd)
        fd = try Self.openForAppend(path)
        linesWritten = records.count
    }

    private static func openForAppend(_ path: String) throws(RevocationStoreError) -> Int32 {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw RevocationStoreError(.durability, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        return fd
    }

    private static func writeAll(_ fd: Int32, _ data: Data, path: String) throws(RevocationStoreError) {
        let failure: String? = data.withUnsafeBytes { raw -> String? in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return String(cString: strerror(errno))
                }
                offset += n
            }
            return nil
        }
        if let failure { throw RevocationStoreError(.durability, "write \(path): \(failure)") }
    }

    private static func syncDirectory(of path: String) {
        let directory = (path as NSString).deletingLastPathComponent
        let dfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }
}
