import Foundation

/// One admin request's method and path, parsed once into what it asks for. Everything under
/// `/v1/` needs a credential, a call the API does not know included (so the listing of what
/// exists is itself behind the token).
enum AdminRoute: Equatable {
    case health
    case ready
    case metrics
    /// `GET /ui/` and `GET /ui/*`: the operators' console; the path below `/ui/` ("" for the page).
    case console(String)
    /// `GET /ui`: sent on to `/ui/`, where the console's relative links resolve.
    case consoleRedirect
    case revoke
    case list
    case lookup(jti: String)
    case unrevoke(jti: String)
    case revokeSubject(String)
    case unrevokeSubject(String)
    case audit
    /// A `/v1/` request that cannot be served: unknown path, wrong method, undecodable segment.
    /// Answered only once the caller has shown a credential.
    case v1Refused(AdminError)
    case notFound

    init(method: String, path: Substring) {
        if path == "/ui" {
            self = method == "GET" ? .consoleRedirect : .notFound
            return
        }
        if path.hasPrefix("/ui/") {
            self = method == "GET" ? .console(String(path.dropFirst(4))) : .notFound
            return
        }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        switch (method, segments.first ?? "", segments.count) {
        case ("GET", "healthz", 1): self = .health
        case ("GET", "readyz", 1): self = .ready
        case ("GET", "metrics", 1): self = .metrics
        case (_, "v1", _): self = Self.v1(method: method, Array(segments.dropFirst()))
        default: self = .notFound
        }
    }

    private static func v1(method: String, _ segments: [String]) -> AdminRoute {
        do throws(AdminError) {
            switch (method, segments.count, segments.first ?? "") {
            case ("POST", 1, "revocations"): return .revoke
            case ("GET", 1, "revocations"): return .list
            case ("GET", 2, "revocations"): return .lookup(jti: try parameter(segments[1], name: "jti"))
            case ("DELETE", 2, "revocations"): return .unrevoke(jti: try parameter(segments[1], name: "jti"))
            case ("POST", 3, "subjects") where segments[2] == "revocations":
                return .revokeSubject(try parameter(segments[1], name: "sub"))
            case ("DELETE", 3, "subjects") where segments[2] == "revocations":
                return .unrevokeSubject(try parameter(segments[1], name: "sub"))
            case ("GET", 1, "audit"): return .audit
            case (_, 1, "revocations"), (_, 2, "revocations"), (_, 3, "subjects"), (_, 1, "audit"):
                return .v1Refused(.methodNotAllowed)
            default:
                return .v1Refused(.notFound)
            }
        } catch {
            return .v1Refused(error)
        }
    }

    private static func parameter(_ raw: String, name: String) throws(AdminError) -> String {
        guard let decoded = raw.removingPercentEncoding, !decoded.isEmpty else {
            throw .badRequest("\(name): not a valid path segment")
        }
        return decoded
    }

    var requiresCredential: Bool {
        switch self {
        case .health, .ready, .metrics, .console, .consoleRedirect, .notFound: false
        case .revoke, .list, .lookup, .unrevoke, .revokeSubject, .unrevokeSubject, .audit, .v1Refused: true
        }
    }
}

/// `?limit=N&cursor=C` of the paged listings (revocations, audit); anything else is refused.
struct PageQuery: Equatable {
    static let limits = 1...1000

    var limit = 100
    var cursor: String?

    init(_ query: Substring?) throws(AdminError) {
        for pair in (query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let name = String(parts.first ?? "")
            guard let value = parts.count == 2 ? String(parts[1]).removingPercentEncoding : "" else {
                throw .badRequest("\(name): not valid percent-encoding")
            }
            switch name {
            case "limit":
                guard let n = Int(value), Self.limits.contains(n) else {
                    throw .badRequest("limit: must be an integer from \(Self.limits.lowerBound) to \(Self.limits.upperBound)")
                }
                limit = n
            case "cursor":
                cursor = value
            default:
                throw .badRequest("\(name): unknown query parameter (limit, cursor)")
            }
        }
    }
}
