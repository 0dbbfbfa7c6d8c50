import NIOConcurrencyHelpers
import NIOCore
import PortcullisCore

/// One open tunnel as the registry sees it: something that can check its token again now.
protocol TunnelEndpoint: AnyObject {
    func revocationNoticed()
}

/// The open tunnels of one event loop, found by what a revocation names (jti, subject), so a
/// revocation rechecks only the tunnels it may concern. Used only on its loop.
final class TunnelRegistry {
    private struct Member {
        let endpoint: TunnelEndpoint
        let jti: String?
        let subject: String?
    }

    private var members: [ObjectIdentifier: Member] = [:]
    private var byJTI: [String: Set<ObjectIdentifier>] = [:]
    private var bySubject: [String: Set<ObjectIdentifier>] = [:]
    /// Counts the batches of notices handled. A handshake that read the store before a
    /// revocation and opens its tunnel after the notice was handled sees it changed, and
    /// checks again at once.
    private(set) var epoch: UInt64 = 0

    var count: Int { members.count }

    func add(_ endpoint: TunnelEndpoint, jti: String?, subject: String?) {
        let id = ObjectIdentifier(endpoint)
        members[id] = Member(endpoint: endpoint, jti: jti, subject: subject)
        if let jti { byJTI[jti, default: []].insert(id) }
        if let subject { bySubject[subject, default: []].insert(id) }
    }

    func remove(_ endpoint: TunnelEndpoint) {
        let id = ObjectIdentifier(endpoint)
        guard let member = members.removeValue(forKey: id) else { return }
        if let jti = member.jti { Self.remove(id, key: jti, from: &byJTI) }
        if let subject = member.subject { Self.remove(id, key: subject, from: &bySubject) }
    }

    /// Each tunnel the notices may concern checks its token again (once, however many name it).
    func noticed(_ notices: PendingRevocationNotices) {
        epoch &+= 1
        guard !members.isEmpty else { return }
        var concerned: [TunnelEndpoint] = []
        if notices.everything {
            concerned = members.values.map(\.endpoint)
        } else {
            var ids: Set<ObjectIdentifier> = []
            for jti in notices.jtis { ids.formUnion(byJTI[jti] ?? []) }
            for subject in notices.subjects { ids.formUnion(bySubject[subject] ?? []) }
            concerned = ids.compactMap { members[$0]?.endpoint }
        }
        for endpoint in concerned { endpoint.revocationNoticed() }
    }

    private static func remove(_ id: ObjectIdentifier, key: String, from index: inout [String: Set<ObjectIdentifier>]) {
        guard var ids = index[key] else { return }
        ids.remove(id)
        index[key] = ids.isEmpty ? nil : ids
    }
}

/// Notices gathered for one loop between two of its turns.
struct PendingRevocationNotices: Sendable {
    var jtis: Set<String> = []
    var subjects: Set<String> = []
    /// Every tunnel is checked: a raw token was revoked, or too many notices piled up to keep.
    var everything = false

    /// More than this many names pending and the loop simply checks every tunnel.
    static let maxNames = 4096

    mutating func add(_ notice: RevocationNotice) {
        guard !everything else { return }
        switch notice {
        case .jti(let jti): jtis.insert(jti)
        case .subject(let subject): subjects.insert(subject)
        case .rawToken: everything = true
        }
        if everything || jtis.count + subjects.count > Self.maxNames {
            everything = true
            jtis = []
            subjects = []
        }
    }
}

/// Hands the store's revocation notices to every event loop's registry. The store calls it on
/// the writer's thread; it only records the notice and, when that loop has none pending yet,
/// schedules one turn there, so a burst of revocations costs one turn per loop, not one each.
final class TunnelRevocationWatch: Sendable {
    private struct Loop: Sendable {
        let eventLoop: EventLoop
        /// Called on `eventLoop` only.
        let registry: @Sendable () -> TunnelRegistry
        let pending: NIOLockedValueBox<PendingRevocationNotices?>
    }

    private let loops: [Loop]

    /// `loops`: each event loop with its registry (read on that loop).
    init(loops: [(EventLoop, @Sendable () -> TunnelRegistry)]) {
        self.loops = loops.map { Loop(eventLoop: $0.0, registry: $0.1, pending: NIOLockedValueBox(nil)) }
    }

    func notice(_ notice: RevocationNotice) {
        for loop in loops {
            let schedule = loop.pending.withLockedValue { pending -> Bool in
                let first = pending == nil
                if first { pending = PendingRevocationNotices() }
                pending!.add(notice)
                return first
            }
            guard schedule else { continue }
            loop.eventLoop.execute {
                let notices = loop.pending.withLockedValue { pending in
                    defer { pending = nil }
                    return pending ?? PendingRevocationNotices()
                }
                loop.registry().noticed(notices)
            }
        }
    }
}
