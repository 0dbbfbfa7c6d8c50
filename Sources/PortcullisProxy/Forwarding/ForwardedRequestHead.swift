import NIOCore
import NIOHTTP1
import PortcullisCore

/// Builds the head sent to the upstream from the client's head: hop-by-hop headers out,
/// client-sent copies of our claim headers out, X-Forwarded-* set, claims in, prefix prepended.
struct ForwardedRequestHead {
    /// Lower-cased names of the claim headers, to strip whatever case the client used.
    let claimHeaderNames: [String]
    let pathPrefix: String

    init(claimHeaders: ClaimHeaderPlan, pathPrefix: String) {
        self.claimHeaderNames = claimHeaders.headerNames.map { $0.lowercased() }
        self.pathPrefix = pathPrefix
    }

    private func isClaimHeader(_ name: String) -> Bool {
        for claimName in claimHeaderNames where HeaderName.equals(name, claimName) { return true }
        return false
    }

    func make(from head: HTTPRequestHead, clientAddress: String?, claims: TokenClaims?,
              plan: ClaimHeaderPlan) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 4)
        let named = HopByHop.namedByConnection(head.headers)
        var forwardedFor: String?
        var host: String?
        for (name, value) in head.headers {
            if HopByHop.isHopByHop(name) || HopByHop.isNamed(name, in: named) || isClaimHeader(name) {
                continue
            }
            if HeaderName.hasPrefix(name, "x-forwarded-") {
                if HeaderName.equals(name, "x-forwarded-for") {
                    forwardedFor = forwardedFor.map { $0 + ", " + value } ?? value
                    continue
                }
                if HeaderName.equals(name, "x-forwarded-proto") || HeaderName.equals(name, "x-forwarded-host") {
                    continue
                }
            } else if host == nil, HeaderName.equals(name, "host") {
                host = value
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
        return HTTPRequestHead(version: .http1_1, method: head.method,
                               uri: pathPrefix.isEmpty ? head.uri : pathPrefix + head.uri, headers: headers)
    }
}

enum HopByHop {
    /// Per RFC 9110 §7.6.1 plus the legacy ones. Transfer-Encoding is not here: it frames the
    /// body, and NIO's encoder re-frames what we forward.
    static func isHopByHop(_ name: String) -> Bool {
        switch name.utf8.count {
        case 2: return HeaderName.equals(name, "te")
        case 7: return HeaderName.equals(name, "trailer") || HeaderName.equals(name, "upgrade")
        case 10: return HeaderName.equals(name, "connection") || HeaderName.equals(name, "keep-alive")
                || HeaderName.hasPrefix(name, "proxy-")
        default: return HeaderName.hasPrefix(name, "proxy-")
        }
    }

    /// Header names listed in `Connection`, lower-cased ("close" and "keep-alive" included, harmlessly).
    static func namedByConnection(_ headers: HTTPHeaders) -> [String] {
        var names: [String] = []
        for (name, value) in headers where HeaderName.equals(name, "connection") {
            names += HeaderName.connectionTokens(value)
        }
        return names
    }

    static func isNamed(_ name: String, in named: [String]) -> Bool {
        for candidate in named where HeaderName.equals(name, candidate) { return true }
        return false
    }

    /// The upstream's response with hop-by-hop headers removed; framing headers kept.
    static func filterResponse(_ head: HTTPResponseHead) -> HTTPResponseHead {
        let named = namedByConnection(head.headers)
        var needsFilter = !named.isEmpty
        if !needsFilter {
            for (name, _) in head.headers where isHopByHop(name) {
                needsFilter = true
                break
            }
        }
        guard needsFilter else { return head }
        var filtered = head
        filtered.headers = HTTPHeaders()
        for (name, value) in head.headers where !isHopByHop(name) && !isNamed(name, in: named) {
            filtered.headers.add(name: name, value: value)
        }
        return filtered
    }
}
