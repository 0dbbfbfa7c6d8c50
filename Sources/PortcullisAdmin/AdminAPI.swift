import CoreMetrics
import Foundation
import Logging
import PortcullisCore

/// An answer of the admin listener, before it becomes HTTP.
public struct AdminResponse: Sendable, Equatable {
    public var status: Int
    public var body: [UInt8]
    public var headers: [(String, String)]

    public static func == (a: AdminResponse, b: AdminResponse) -> Bool {
        a.status == b.status && a.body == b.body && a.headers.map { "\($0.0):\($0.1)" } == b.headers.map { "\($0.0):\($0.1)" }
    }

    static func json(_ status: Int, _ object: [String: Any?]) -> AdminResponse {
        let cleaned = object.mapValues { $0 ?? NSNull() }
        let data = (try? JSONSerialization.data(withJSONObject: cleaned, options: [.sortedKeys])) ?? Data("{}".utf8)
        return AdminResponse(status: status, body: Array(data), headers: [("Content-Type", "application/json")])
    }

    static func error(_ status: Int, _ message: String, _ type: String) -> AdminResponse {
        json(status, ["message": message, "error_type": type])
    }

    static let noContent = AdminResponse(status: 204, body: [], headers: [])
}

/// The admin API of INTERFACE §4, independent of the transport: health, readiness and the
/// authenticated `/v1/` revocation endpoints.
public struct AdminAPI: Sendable {
    public var store: RevocationStore
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

    public init(store: RevocationStore, adminToken: String?, currentGate: @escaping @Sendable () -> Gate,
                maxTTLSeconds: Double, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
                metricsText: @escaping @Sendable () -> [UInt8] = { [] }, revocationsWritten: Counter? = nil,
                liveAdminToken: (@Sendable () -> String?)? = nil,
                liveCredentials: (@Sendable () -> [AdminCredential])? = nil,
                keysReady: @escaping @Sendable () -> Bool = { true },
                logger: Logger) {
        self.liveAdminToken = liveAdminToken
        self.liveCredentials = liveCredentials
        self.keysReady = keysReady
        self.metricsText = metricsText
        self.revocationsWritten = revocationsWritten
        self.store = store
        self.adminToken = adminToken
        self.currentGate = currentGate
        self.maxTTLSeconds = maxTTLSeconds
        self.now = now
        self.logger = logger
    }

    public struct Request: Sendable {
        public var method: String
        public var uri: String
        public var authorization: String?
        public var body: [UInt8]
        /// Who is calling, for the audit log.
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
        let segments = target.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        switch (request.method, segments.first ?? "") {
        case ("GET", "healthz") where segments.count == 1:
            return .json(200, ["status": "ok"])
        case ("GET", "metrics") where segments.count == 1:
            return AdminResponse(status: 200, body: metricsText(),
                                 headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")])
        case ("GET", "readyz") where segments.count == 1:
            guard keysReady() else {
                return .json(503, ["status": "unavailable", "message": "signing keys from jwt.jwks_url are not loaded yet"])
            }
            return await store.isReady() ? .json(200, ["status": "ready"])
                : .json(503, ["status": "unavailable", "message": "revocation store is not answering"])
        case (_, "ui"):
            return OperatorsConsole().respond(method: request.method, path: target.path)
        case (_, "v1"):
            guard let credential = authenticate(request.authorization) else {
                var response = AdminResponse.error(401, "Missing or invalid admin token", "Unauthorized")
                response.headers.append(("WWW-Authenticate", "Bearer"))
                return response
            }
            guard credential.permits(method: request.method) else {
                return .error(403, "Forbidden", "Forbidden")
            }
            var request = request
            request.actor = credential.name
            return await handleV1(request, segments: Array(segments.dropFirst()), query: target.query)
        default:
            return .error(404, "Not Found", "NotFound")
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

    private func handleV1(_ request: Request, segments: [String], query: Substring?) async -> AdminResponse {
        do {
            switch (request.method, segments.count, segments.first) {
            case ("POST", 1, "revocations"):
                return try await revoke(request)
            case ("GET", 1, "revocations"):
                return try await list(query)
            case ("GET", 2, "revocations"):
                return try await lookup(try pathParameter(segments[1], name: "jti"))
            case ("DELETE", 2, "revocations"):
                return try await unrevoke(try pathParameter(segments[1], name: "jti"), request)
            case ("POST", 3, "subjects") where segments[2] == "revocations":
                return try await revokeSubject(try pathParameter(segments[1], name: "sub"), request)
            case ("DELETE", 3, "subjects") where segments[2] == "revocations":
                return try await unrevokeSubject(try pathParameter(segments[1], name: "sub"), request)
            case (_, 1, "revocations"), (_, 2, "revocations"), (_, 3, "subjects"):
                return .error(405, "Method Not Allowed", "MethodNotAllowed")
            default:
                return .error(404, "Not Found", "NotFound")
            }
        } catch let error as BadRequest {
            return .error(400, error.message, "BadRequest")
        } catch let error as RevocationStoreError {
            logger.error("revocation store failed", metadata: ["error": "\(error)"])
            if error.code == .badCursor { return .error(400, error.detail, "BadRequest") }
            if error.code == .notReplicated {
                return .error(503, "Revocation not replicated", "RevocationNotReplicatedError")
            }
            return .error(503, "Revocation store unavailable", "RevocationStoreUnavailableError")
        } catch {
            return .error(500, "Internal error", "InternalError")
        }
    }

    // MARK: Endpoints

    private func revoke(_ request: Request) async throws -> AdminResponse {
        let body = try AdminBody(request.body, allowed: ["jti", "expires_at", "token", "reason"])
        let reason = try body.optionalString("reason", maxLength: 1024)
        if let token = try body.optionalString("token", maxLength: 16384) {
            if body.has("jti") || body.has("expires_at") {
                throw BadRequest("send either token or jti (with expires_at), not both")
            }
            return try await revokeToken(token, reason: reason, request)
        }
        guard let jti = try body.optionalString("jti", maxLength: 1024) else {
            throw BadRequest("jti: required (or send token)")
        }
        guard !jti.isEmpty else { throw BadRequest("jti: must not be empty") }
        let expiresAt = try body.optionalTime("expires_at")
        let record = try await store.revoke(jti: jti, expiresAt: expiresAt, reason: reason)
        audit(request, action: "revoke", target: ["jti": jti], reason: reason)
        return .json(201, ["jti": jti, "expires_at": Self.number(expiresAt ?? record.expiresAt.rounded(.up)),
                           "ttl_seconds": record.ttlSeconds])
    }

    private func revokeToken(_ token: String, reason: String?, _ request: Request) async throws -> AdminResponse {
        let gate = currentGate()
        let verified: VerifiedToken
        do {
            verified = try gate.verifier.verifySignature(Substring(token))
        } catch {
            throw BadRequest("token: \(error.detail)")
        }
        let expiresAt = verified.claims.exp
        if let jti = verified.claims.jti {
            let record = try await store.revoke(jti: jti, expiresAt: expiresAt, reason: reason)
            audit(request, action: "revoke", target: ["jti": jti, "by": "token"], reason: reason)
            return .json(201, ["jti": jti, "expires_at": Self.number(expiresAt ?? record.expiresAt.rounded(.up)),
                               "ttl_seconds": record.ttlSeconds])
        }
        guard gate.revokesRawTokens else {
            throw BadRequest("token: has no jti claim, and revocation.token_key is not set")
        }
        let ttl = try await store.revoke(rawToken: token, expiresAt: expiresAt, reason: reason)
        audit(request, action: "revoke", target: ["by": "raw token"], reason: reason)
        return .json(201, ["jti": nil, "expires_at": Self.number(expiresAt ?? (now() + maxTTLSeconds).rounded(.up)),
                           "ttl_seconds": ttl])
    }

    private func lookup(_ jti: String) async throws -> AdminResponse {
        guard let record = try await store.lookup(jti: jti) else {
            return .json(404, ["jti": jti, "revoked": false])
        }
        var answer: [String: Any?] = ["jti": jti, "revoked": true, "ttl_seconds": record.ttlSeconds]
        if let reason = record.reason { answer["reason"] = reason }
        return .json(200, answer)
    }

    private func unrevoke(_ jti: String, _ request: Request) async throws -> AdminResponse {
        let removed = try await store.unrevoke(jti: jti)
        audit(request, action: "unrevoke", target: ["jti": jti], reason: nil, result: removed ? "removed" : "absent")
        return .noContent
    }

    private func list(_ query: Substring?) async throws -> AdminResponse {
        var limit = 100
        var cursor: String?
        for pair in (query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard let value = parts.count == 2 ? String(parts[1]).removingPercentEncoding : "" else {
                throw BadRequest("\(parts[0]): not valid percent-encoding")
            }
            switch parts.first {
            case "limit":
                guard let n = Int(value), (1...1000).contains(n) else {
                    throw BadRequest("limit: must be an integer from 1 to 1000")
                }
                limit = n
            case "cursor":
                cursor = value
            default:
                throw BadRequest("\(parts.first ?? ""): unknown query parameter (limit, cursor)")
            }
        }
        let page = try await store.list(limit: limit, cursor: cursor)
        let items: [[String: Any]] = page.items.map { ["jti": $0.jti, "ttl_seconds": $0.ttlSeconds] }
        return .json(200, ["items": items, "next_cursor": page.nextCursor])
    }

    private func revokeSubject(_ subject: String, _ request: Request) async throws -> AdminResponse {
        // A subject cut-off has no lookup endpoint: its reason goes to the audit log only.
        var reason: String?
        if !request.body.isEmpty {
            let body = try AdminBody(request.body, allowed: ["reason"])
            reason = try body.optionalString("reason", maxLength: 1024)
        }
        let before = now().rounded(.down)
        let cutoff = try await store.revokeSubject(subject, before: before)
        audit(request, action: "revoke_subject", target: ["sub": subject], reason: reason)
        return .json(201, ["sub": subject, "revoked_before": Int64(cutoff.revokedBefore)])
    }

    private func unrevokeSubject(_ subject: String, _ request: Request) async throws -> AdminResponse {
        let removed = try await store.unrevokeSubject(subject)
        audit(request, action: "unrevoke_subject", target: ["sub": subject], reason: nil,
              result: removed ? "removed" : "absent")
        return .noContent
    }

    // MARK: Helpers

    private func pathParameter(_ raw: String, name: String) throws -> String {
        guard let decoded = raw.removingPercentEncoding, !decoded.isEmpty else {
            throw BadRequest("\(name): not a valid path segment")
        }
        return decoded
    }

    /// Integral times as integers, so `expires_at` reads back as it was sent.
    static func number(_ value: Double) -> Any {
        value == value.rounded() && abs(value) < 1e15 ? Int64(value) : value
    }

    private func audit(_ request: Request, action: String, target: [String: String], reason: String?,
                       result: String = "ok") {
        if action.hasPrefix("revoke") { revocationsWritten?.increment() }
        var metadata: Logger.Metadata = ["audit.action": "\(action)", "audit.result": "\(result)",
                                         "audit.actor": "\(request.actor ?? "-")",
                                         "audit.caller": "\(callerFingerprint(request))"]
        for (key, value) in target { metadata["audit.\(key)"] = "\(value)" }
        if let reason { metadata["audit.reason"] = "\(reason)" }
        logger.info("admin change", metadata: metadata)
    }

    private func callerFingerprint(_ request: Request) -> String {
        request.peer ?? "unknown"
    }
}

struct BadRequest: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// A JSON object body with its members checked one by one, each problem naming the field.
struct AdminBody {
    private let object: [String: Any]

    init(_ bytes: [UInt8], allowed: Set<String>) throws {
        guard !bytes.isEmpty else { throw BadRequest("body: a JSON object is required") }
        guard let parsed = try? JSONSerialization.jsonObject(with: Data(bytes)),
              let object = parsed as? [String: Any]
        else { throw BadRequest("body: not a JSON object") }
        for key in object.keys.sorted() where !allowed.contains(key) {
            throw BadRequest("\(key): unknown field (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
        self.object = object
    }

    static func isBoolean(_ value: Any?) -> Bool {
        guard let value else { return false }
        if type(of: value) == Bool.self { return true }
        if let number = value as? NSNumber { return String(cString: number.objCType) == "c" }
        return false
    }

    func has(_ key: String) -> Bool { object[key] != nil && !(object[key] is NSNull) }

    func optionalString(_ key: String, maxLength: Int) throws -> String? {
        guard has(key) else { return nil }
        guard let value = object[key] as? String else { throw BadRequest("\(key): must be a string") }
        guard value.utf8.count <= maxLength else { throw BadRequest("\(key): longer than \(maxLength) bytes") }
        return value
    }

    /// A Unix time in seconds; booleans (which JSONSerialization also reads as numbers) refused.
    func optionalTime(_ key: String) throws -> Double? {
        guard has(key) else { return nil }
        guard !Self.isBoolean(object[key]), let number = object[key] as? NSNumber,
              number.doubleValue.isFinite, number.doubleValue > 0
        else { throw BadRequest("\(key): must be a positive Unix time in seconds") }
        return number.doubleValue
    }
}
