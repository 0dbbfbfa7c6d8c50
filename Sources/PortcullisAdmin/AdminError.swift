import PortcullisCore

/// Every way an admin call fails. Rendered into HTTP in `response` only, with the same body
/// as the proxy's denials (`ErrorBody`).
enum AdminError: Error, Equatable {
    /// The message names the field or parameter first: `jti: must be a string`.
    case badRequest(String)
    case unauthorized
    case forbidden
    case notFound
    case methodNotAllowed
    case bodyTooLarge(limit: Int)
    case storeUnavailable
    /// `revocation.write_replicas` replicas did not confirm in time (INTERFACE §4).
    case notReplicated
    case internalError

    /// A store failure as the caller sees it: a bad cursor is the caller's, the rest are 503.
    init(_ error: RevocationStoreError) {
        switch error.code {
        case .badCursor: self = .badRequest(error.detail)
        case .notReplicated: self = .notReplicated
        case .unavailable, .durability: self = .storeUnavailable
        }
    }

    var status: Int {
        switch self {
        case .badRequest: 400
        case .unauthorized: 401
        case .forbidden: 403
        case .notFound: 404
        case .methodNotAllowed: 405
        case .bodyTooLarge: 413
        case .storeUnavailable, .notReplicated: 503
        case .internalError: 500
        }
    }

    var body: ErrorBody {
        switch self {
        case .badRequest(let message): ErrorBody(message: message, errorType: "BadRequest")
        case .unauthorized: ErrorBody(message: "Missing or invalid admin token", errorType: "Unauthorized")
        case .forbidden: ErrorBody(message: "Forbidden", errorType: "Forbidden")
        case .notFound: ErrorBody(message: "Not Found", errorType: "NotFound")
        case .methodNotAllowed: ErrorBody(message: "Method Not Allowed", errorType: "MethodNotAllowed")
        case .bodyTooLarge(let limit): ErrorBody(message: "Request body larger than \(limit) bytes", errorType: "BadRequest")
        case .storeUnavailable:
            ErrorBody(message: "Revocation store unavailable", errorType: "RevocationStoreUnavailableError")
        case .notReplicated: ErrorBody(message: "Revocation not replicated", errorType: "RevocationNotReplicatedError")
        case .internalError: ErrorBody(message: "Internal error", errorType: "InternalError")
        }
    }

    /// The one place an admin error becomes an answer.
    var response: AdminResponse {
        var headers = [("Content-Type", "application/json")]
        if self == .unauthorized { headers.append(("WWW-Authenticate", "Bearer")) }
        return AdminResponse(status: status, body: body.bytes, headers: headers)
    }
}
