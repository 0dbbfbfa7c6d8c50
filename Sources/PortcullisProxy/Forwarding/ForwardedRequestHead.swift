import NIOCore
import NIOHTTP1
import PortcullisCore

/// Builds the head sent to the upstream from the client's head: hop-by-hop headers out,
/// client-sent copies of our claim headers out, X-Forwarded-* set, claims in, prefix prepended.
struct ForwardedRequestHead {
    /// Lower-cased names of the claim headers, to strip whatever case the client used.
    let claimHeaderNames: Set<String>
    let pathPrefix: String

    init(claimHeaders: ClaimHeaderPlan, pathPrefix: String) {
        self.claimHeaderNames = Set(claimHeaders.headerNames.map { $0.lowercased() })
        self.pathPrefix = pathPrefix
    }

    func make(from head: HTTPRequestHead, clientAddress: String?, claims: TokenClaims?,
              plan: ClaimHeaderPlan) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 4)
        let named = HopByHop.namedByConnection(head.headers)
        var forwardedFor: String?
        var host: String?
        for (name, value) in head.headers {
            let lower = name.lowercased()
            if HopByHop.isHopByHop(lower) || named.contains(lower) || claimHeaderNames.contains(lower) {
                continue
            }
            switch lower {
            case "x-forwarded-for":
                forwardedFor = forwardedFor.map { $0 + ", " + value } ?? value
                continue
            case "x-forwarded-proto", "x-forwarded-host":
                continue
            case "host":
                host = value
            default:
                break
            }
            headers.add(name: name, value: value)
        }
        if let clientAddress {
            headers.add(name: "X-Forwarded-For", value: forwardedFor.map { $0 + ", " + clientAddress } ?? clientAddress)
        } else if let forwardedFor {
            headers.add(name: "X-Forwarded-For", value: forwardedFor)
        }
        headers.add(name: "X-Forwarded-Proto", value: "http")
        if let host { headers.add(name: "X-Forwarded-Host", value: host) }
        if let claims {
            plan.forEachHeader(of: claims) { name, value in headers.add(name: name, value: value) }
        }
        var forwarded = HTTPRequestHead(version: .http1_1, method: head.method,
                                        uri: pathPrefix.isEmpty ? head.uri : pathPrefix + head.uri,
                                        headers: headers)
        forwarded.version = .http1_1
        return forwarded
    }
}

enum HopByHop {
    /// Per RFC 9110 §7.6.1 plus the legacy ones. Transfer-Encoding is not here: it frames the
    /// body, and NIO's encoder re-frames what we forward.
    static func isHopByHop(_ lowerName: String) -> Bool {
        switch lowerName {
        case "connection", "keep-alive", "te", "trailer", "upgrade": true
        default: lowerName.hasPrefix("proxy-")
        }
    }

    /// Header names listed in `Connection`, lower-cased ("close" and "keep-alive" included, harmlessly).
    static func namedByConnection(_ headers: HTTPHeaders) -> Set<String> {
        var names = Set<String>()
        for value in headers["connection"] {
            for token in value.split(separator: ",") {
                let name = token.trimmingCharacters(in: .whitespaces).lowercased()
                if !name.isEmpty { names.insert(name) }
            }
        }
        return names
    }

    /// The upstream's response with hop-by-hop headers removed; framing headers kept.
    static func filterResponse(_ head: HTTPResponseHead) -> HTTPResponseHead {
        let named = namedByConnection(head.headers)
        var needsFilter = !named.isEmpty
        if !needsFilter {
            for (name, _) in head.headers where isHopByHop(name.lowercased()) {
                needsFilter = true
                break
            }
        }
        guard needsFilter else { return head }
        var filtered = head
        filtered.headers = HTTPHeaders()
        for (name, value) in head.headers {
            let lower = name.lowercased()
            if isHopByHop(lower) || named.contains(lower) { continue }
            filtered.headers.add(name: name, value: value)
        }
        return filtered
    }
}
