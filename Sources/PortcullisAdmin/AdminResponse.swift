import Foundation

/// An answer of the admin listener, before it becomes HTTP.
public struct AdminResponse: Sendable, Equatable {
    public var status: Int
    public var body: [UInt8]
    public var headers: [(String, String)]

    public init(status: Int, body: [UInt8], headers: [(String, String)]) {
        self.status = status
        self.body = body
        self.headers = headers
    }

    public static func == (a: AdminResponse, b: AdminResponse) -> Bool {
        a.status == b.status && a.body == b.body && a.headers.map { "\($0.0):\($0.1)" } == b.headers.map { "\($0.0):\($0.1)" }
    }

    /// A success body: members in name order, as the API has always written them.
    static func json(_ status: Int, _ value: some Encodable) -> AdminResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return AdminError.internalError.response }
        return AdminResponse(status: status, body: Array(data), headers: [("Content-Type", "application/json")])
    }

    static let noContent = AdminResponse(status: 204, body: [], headers: [])
}
