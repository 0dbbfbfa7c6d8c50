/// What the gate reads of a request. The NIO data plane conforms its header type to this,
/// so the decision core never imports NIO.
public protocol RequestHeaders {
    /// The first value of the header, name compared case-insensitively.
    func firstValue(_ name: String) -> String?
    /// Every value of the header, in arrival order.
    func allValues(_ name: String) -> [String]
}

public enum RequestMethodClass: Sendable {
    /// GET, HEAD, OPTIONS, TRACE: no CSRF check.
    case safe
    /// POST, PUT, PATCH, DELETE and anything else.
    case stateChanging

    public init(method: String) {
        switch method {
        case "GET", "HEAD", "OPTIONS", "TRACE": self = .safe
        default: self = .stateChanging
        }
    }
}

/// The request target split once into path and query.
public struct RequestTarget: Sendable {
    public var path: Substring
    public var query: Substring?

    public init(_ uri: String) {
        if let mark = uri.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = uri[..<mark]
            query = uri[uri.utf8.index(after: mark)...]
        } else {
            path = uri[...]
            query = nil
        }
    }
}
