import NIOCore
import PortcullisCore

/// The forward-auth endpoint's answers. Denials come from the `DenialRenderer` (built for
/// `authz.deny_status`); a pass is 200 with an empty body and the claim headers, for the
/// ingress to copy upstream. The fixed parts are rendered once per snapshot; per request only
/// the claim values are copied in.
struct ForwardAuthAnswers: Sendable {
    let denials: DenialRenderer
    private let plan: ClaimHeaderPlan
    private let passHead: ByteBuffer
    private let keepOpenEnd: ByteBuffer
    private let closeEnd: ByteBuffer
    /// A pass without claims (a public path), whole.
    let publicPass: ByteBuffer
    let publicPassClose: ByteBuffer

    init(format: ErrorFormat, denyStatus: ForwardAuthDenyStatus, claimHeaders: ClaimHeaderPlan) {
        denials = DenialRenderer(format: format, denyStatus: denyStatus)
        plan = claimHeaders
        passHead = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n")
        keepOpenEnd = ByteBuffer(string: "\r\n")
        closeEnd = ByteBuffer(string: "Connection: close\r\n\r\n")
        var open = passHead
        var end = keepOpenEnd
        open.writeBuffer(&end)
        publicPass = open
        var closing = passHead
        end = closeEnd
        closing.writeBuffer(&end)
        publicPassClose = closing
    }

    func pass(claims: TokenClaims?, closing: Bool, allocator: ByteBufferAllocator) -> ByteBuffer {
        guard let claims, !plan.isEmpty else { return closing ? publicPassClose : publicPass }
        var buffer = allocator.buffer(capacity: 256)
        buffer.writeImmutableBuffer(passHead)
        // Values the plan hands out are checked for control bytes there.
        plan.forEachHeader(of: claims) { name, value in
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeImmutableBuffer(closing ? closeEnd : keepOpenEnd)
        return buffer
    }

    func denial(_ denial: Denial, closing: Bool) -> ByteBuffer {
        let rendered = denials.rendering(denial)
        return closing ? rendered.close : rendered.keepAlive
    }

    /// A route's scope refusal (403, naming the scopes; never turned into 401).
    func denial(_ refusal: ScopeRefusal, closing: Bool) -> ByteBuffer {
        let rendered = denials.rendering(refusal)
        return closing ? rendered.close : rendered.keepAlive
    }
}
