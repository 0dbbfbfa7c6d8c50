/// Writes the audit entry of a change that has just been stored, by the instance that made it.
///
/// The entry is written after the change: a revocation in force is never answered as a failure
/// because its entry could not be kept. Such a failure goes to `failed`, where the gateway logs
/// the whole entry (so it is still on record) and counts it.
public struct AuditRecorder: Sendable {
    public let trail: AuditTrail
    private let now: @Sendable () -> Double
    private let failed: @Sendable (AuditEntry, RevocationStoreError) -> Void

    public init(trail: AuditTrail, now: @escaping @Sendable () -> Double,
                failed: @escaping @Sendable (AuditEntry, RevocationStoreError) -> Void) {
        self.trail = trail
        self.now = now
        self.failed = failed
    }

    /// Records the change at the current time; never throws (see the type's comment).
    @discardableResult
    public func record(_ action: AuditAction, actor: String, target: String, reason: String?,
                       peer: String?) async -> AuditEntry {
        let entry = AuditEntry(time: now(), actor: actor, action: action, target: target, reason: reason, peer: peer)
        do {
            try await trail.record(entry)
        } catch {
            failed(entry, error)
        }
        return entry
    }
}
