import Logging
import PortcullisCore

/// The audit side of the admin API: each change it stores is recorded once, here, after the
/// store has taken it (a refused call never gets this far), and `GET /v1/audit` pages it.
extension AdminAPI {
    /// Records a stored change in the audit and writes the `admin change` log line.
    func recordChange(_ action: AuditAction, target: String, reason: String?, _ request: Request,
                      log extra: Logger.Metadata) async {
        if action == .revoke || action == .revokeSubject { revocationsWritten?.increment() }
        let entry = await audit.record(action, actor: request.actor ?? "-", target: target, reason: reason,
                                       peer: request.peer)
        var metadata: Logger.Metadata = ["audit.action": "\(action.rawValue)", "audit.result": "ok",
                                         "audit.actor": "\(entry.actor)", "audit.caller": "\(entry.peer ?? "unknown")",
                                         "audit.target": "\(entry.target)"]
        if let reason { metadata["audit.reason"] = "\(reason)" }
        metadata.merge(extra) { $1 }
        logger.info("admin change", metadata: metadata)
    }

    func auditPage(_ query: PageQuery) async throws -> AdminResponse {
        let page = try await audit.trail.page(limit: query.limit, cursor: query.cursor)
        return .json(200, AuditListing.page(page.items.map { .init(entry: $0) }, nextCursor: page.nextCursor))
    }
}
