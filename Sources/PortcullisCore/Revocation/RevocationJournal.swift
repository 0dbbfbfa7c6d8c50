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

    func encoded() -> Data {
        var object: [String: Any]
        switch self {
        case .revoke(let jti, let expiresAt, let reason):
            object = ["op": "revoke", "jti": jti, "expires_at": expiresAt]
            if let reason { object["reason"] = reason }
        case .unrevoke(let jti):
            object = ["op": "unrevoke", "jti": jti]
        case .revokeToken(let sha256, let expiresAt):
            object = ["op": "revoke_token", "sha256": sha256, "expires_at": expiresAt]
        case .revokeSubject(let subject, let before, let expiresAt):
            object = ["op": "revoke_subject", "sub": subject, "before": before, "expires_at": expiresAt]
        case .unrevokeSubject(let subject):
            object = ["op": "unrevoke_subject", "sub": subject]
        }
        // Every value above is a String or Double, so serialization cannot fail.
        var data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        data.append(0x0A)
        return data
    }

    init?(line: Substring) {
        guard let data = line.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let op = object["op"] as? String
        else { return nil }
        func number(_ key: String) -> Double? { (object[key] as? NSNumber)?.doubleValue }
        switch op {
        case "revoke":
            guard let jti = object["jti"] as? String, let exp = number("expires_at") else { return nil }
            self = .revoke(jti: jti, expiresAt: exp, reason: object["reason"] as? String)
        case "unrevoke":
            guard let jti = object["jti"] as? String else { return nil }
            self = .unrevoke(jti: jti)
        case "revoke_token":
            guard let hash = object["sha256"] as? String, let exp = number("expires_at") else { return nil }
            self = .revokeToken(sha256: hash, expiresAt: exp)
        case "revoke_subject":
            guard let sub = object["sub"] as? String, let before = number("before"),
                  let exp = number("expires_at") else { return nil }
            self = .revokeSubject(subject: sub, before: before, expiresAt: exp)
        case "unrevoke_subject":
            guard let sub = object["sub"] as? String else { return nil }
            self = .unrevokeSubject(subject: sub)
        default:
            return nil
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
