import CoreMetrics
import Foundation
import Logging
import PortcullisCore

/// The admin API of INTERFACE §4, independent of the transport: health, readiness, metrics,
/// the authenticated `/v1/` endpoints, and the console under `/ui/`.
public struct AdminAPI: Sendable {
    public var store: RevocationStore
    /// Where every change made through the API is recorded, and `GET /v1/audit` reads.
    public var audit: AuditRecorder
    public var adminToken: String?
    /// The gate in force, for revoking by token (its signature must verify).
    public var currentGate: @Sendable () -> Gate
    public var maxTTLSeconds: Double
    public var now: @Sendable () -> Double
    public var logger: Logger
    /// The Prometheus text of every metric, for `GET /metrics`.
    public var metricsText: @Sendable () -> [UInt8]
    public var revocationsWritten: Counter?
    /// When set, the admin token in force is read from here on each call (a reload may change it).
    public var liveAdminToken: (@Sendable () -> String?)?
    /// The credentials in force (`admin.token` and `admin.tokens_file`), read per call so a
    /// reload takes effect at once; when nil, `admin.token` alone.
    public var liveCredentials: (@Sendable () -> [AdminCredential])?
    /// False while signing keys are still loading (`jwt.jwks_url` not fetched yet): `/readyz` answers 503.
    public var keysReady: @Sendable () -> Bool
    /// The operators' console; without one `/ui/` answers 404.
    public var console: (any ConsolePage)?

    public init(store: RevocationStore, audit: AuditRecorder, adminToken: String?,
                currentGate: @escaping @Sendable () -> Gate,
                maxTTLSeconds: Double, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
                metricsText: @escaping @Sendable () -> [UInt8] = { [] }, revocationsWritten: Counter? = nil,
                liveAdminToken: (@Sendable () -> String?)? = nil,
                liveCredentials: (@Sendable () -> [AdminCredential])? = nil,
                keysReady: @escaping @Sendable () -> Bool = { true },
                console: (any ConsolePage)? = nil,
                logger: Logger) {
        self.liveAdminToken = liveAdminToken
        self.liveCredentials = liveCredentials
        self.keysReady = keysReady
        self.metricsText = metricsText
        self.revocationsWritten = revocationsWritten
        self.store = store
        self.audit = audit
        self.adminToken = adminToken
        self.currentGate = currentGate
        self.maxTTLSeconds = maxTTLSeconds
        self.now = now
        self.console = console
        self.logger = logger
    }

    public struct Request: Sendable {
        public var method: String
        public var uri: String
        public var authorization: String?
        public var body: [UInt8]
        /// Who is calling, for the audit.
        public var peer: String?
        /// The name of the credential that authenticated the call, once it did.
        public var actor: String?

        public init(method: String, uri: String, authorization: String?, body: [UInt8], peer: String?) {
            self.method = method
            self.uri = uri
            self.authorization = authorization
            self.body = body
            self.peer = peer
        }
    }

    public func handle(_ request: Request) async -> AdminResponse {
        let target = RequestTarget(request.uri)
        let route = AdminRoute(method: request.method, path: target.path)
        do {
            var request = request
            if route.requiresCredential {
                guard let credential = authenticate(request.authorization) else { throw AdminError.unauthorized }
                guard credential.permits(method: request.method) else { throw AdminError.forbidden }
                request.actor = credential.name
            }
            return try await respond(to: route, request, query: target.query)
        } catch let error as AdminError {
            return error.response
        } catch let error as RevocationStoreError {
            logger.error("revocation store failed", metadata: ["error": "\(error)"])
            return AdminError(error).response
        } catch {
            return AdminError.internalError.response
        }
    }

    private func respond(to route: AdminRoute, _ request: Request, query: Substring?) async throws -> AdminResponse {
        switch route {
        case .health:
            return .json(200, ProbeStatus(status: "ok"))
        case .ready:
            guard keysReady() else {
                return .json(503, ProbeStatus(status: "unavailable", message: "signing keys from jwt.jwks_url are not loaded yet"))
            }
            return await store.isReady() ? .json(200, ProbeStatus(status: "ready"))
                : .json(503, ProbeStatus(status: "unavailable", message: "revocation store is not answering"))
        case .metrics:
            return AdminResponse(status: 200, body: metricsText(),
                                 headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")])
        case .console(let path):
            guard let answer = console?.answer(path: path) else { throw AdminError.notFound }
            return answer
        case .consoleRedirect:
            guard console != nil else { throw AdminError.notFound }
            return AdminResponse(status: 308, body: [], headers: [("Location", "/ui/")])
        case .revoke:
            return try await revoke(request)
        case .list:
            return try await list(PageQuery(query))
        case .lookup(let jti):
            return try await lookup(jti)
        case .unrevoke(let jti):
            return try await unrevoke(jti, request)
        case .revokeSubject(let subject):
            return try await revokeSubject(subject, request)
        case .unrevokeSubject(let subject):
            return try await unrevokeSubject(subject, request)
        case .audit:
            return try await auditPage(PageQuery(query))
        case .v1Refused(let error):
            throw error
        case .notFound:
            throw AdminError.notFound
        }
    }

    /// The credential the bearer token belongs to, or nil (no header, another scheme, unknown token).
    private func authenticate(_ header: String?) -> AdminCredential? {
        let credentials = liveCredentials?() ?? (liveAdminToken.map { $0() } ?? adminToken).map {
            [AdminCredential(name: "admin", role: .admin, token: $0)]
        } ?? []
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return AdminCredentials.authenticate(String(parts[1]).trimmingCharacters(in: .whitespaces), among: credentials)
    }

    // MARK: Endpoints

    private func revoke(_ request: Request) async throws -> AdminResponse {
        let body = try AdminBody.decode(RevocationRequest.self, from: request.body)
        if let token = body.token {
            if body.jti != nil || body.expiresAt != nil {
                throw AdminError.badRequest("send either token or jti (with expires_at), not both")
            }
            return try await revokeToken(token, reason: body.reason, request)
        }
        guard let jti = body.jti else { throw AdminError.badRequest("jti: required (or send token)") }
        guard !jti.isEmpty else { throw AdminError.badRequest("jti: must not be empty") }
        let record = try await store.revoke(jti: jti, expiresAt: body.expiresAt, reason: body.reason)
        await recordChange(.revoke, target: jti, reason: body.reason, request, log: ["audit.jti": "\(jti)"])
        return .json(201, RevocationCreated(jti: jti, expiresAt: UnixTime(body.expiresAt ?? record.expiresAt.rounded(.up)),
                                            ttlSeconds: record.ttlSeconds))
    }

    private func revokeToken(_ token: String, reason: String?, _ request: Request) async throws -> AdminResponse {
        let gate = currentGate()
        let verified: VerifiedToken
        do {
            verified = try gate.verifier.verifySignature(Substring(token))
        } catch {
            throw AdminError.badRequest("token: \(error.detail)")
        }
        let expiresAt = verified.claims.exp
        if let jti = verified.claims.jti {
            let record = try await store.revoke(jti: jti, expiresAt: expiresAt, reason: reason)
            await recordChange(.revoke, target: jti, reason: reason, request,
                               log: ["audit.jti": "\(jti)", "audit.by": "token"])
            return .json(201, RevocationCreated(jti: jti, expiresAt: UnixTime(expiresAt ?? record.expiresAt.rounded(.up)),
                                                ttlSeconds: record.ttlSeconds))
        }
        guard gate.revokesRawTokens else {
            throw AdminError.badRequest("token: has no jti claim, and revocation.token_key is not set")
        }
        let ttl = try await store.revoke(rawToken: token, expiresAt: expiresAt, reason: reason)
        await recordChange(.revoke, target: AuditEntry.target(ofRawToken: token), reason: reason, request,
                           log: ["audit.by": "raw token"])
        return .json(201, RevocationCreated(jti: nil, expiresAt: UnixTime(expiresAt ?? (now() + maxTTLSeconds).rounded(.up)),
                                            ttlSeconds: ttl))
    }

    private func lookup(_ jti: String) async throws -> AdminResponse {
        guard let record = try await store.lookup(jti: jti) else {
            return .json(404, RevocationStatus(jti: jti, revoked: false))
        }
        return .json(200, RevocationStatus(jti: jti, revoked: true, ttlSeconds: record.ttlSeconds, reason: record.reason))
    }

    private func unrevoke(_ jti: String, _ request: Request) async throws -> AdminResponse {
        let removed = try await store.unrevoke(jti: jti)
        await recordChange(.unrevoke, target: jti, reason: nil, request,
                           log: ["audit.jti": "\(jti)", "audit.result": removed ? "removed" : "absent"])
        return .noContent
    }

    private func list(_ query: PageQuery) async throws -> AdminResponse {
        let page = try await store.list(limit: query.limit, cursor: query.cursor)
        return .json(200, RevocationListing.page(page.items.map { .init(jti: $0.jti, ttlSeconds: $0.ttlSeconds) },
                                                 nextCursor: page.nextCursor))
    }

    private func revokeSubject(_ subject: String, _ request: Request) async throws -> AdminResponse {
        // A subject cut-off has no lookup endpoint: its reason goes to the audit only.
        let reason = try request.body.isEmpty ? nil : AdminBody.decode(SubjectRevocationRequest.self, from: request.body).reason
        let before = now().rounded(.down)
        let cutoff = try await store.revokeSubject(subject, before: before)
        await recordChange(.revokeSubject, target: subject, reason: reason, request, log: ["audit.sub": "\(subject)"])
        return .json(201, SubjectRevoked(sub: subject, revokedBefore: Int64(cutoff.revokedBefore)))
    }

    private func unrevokeSubject(_ subject: String, _ request: Request) async throws -> AdminResponse {
        let removed = try await store.unrevokeSubject(subject)
        await recordChange(.unrevokeSubject, target: subject, reason: nil, request,
                           log: ["audit.sub": "\(subject)", "audit.result": removed ? "removed" : "absent"])
        return .noContent
    }
}
