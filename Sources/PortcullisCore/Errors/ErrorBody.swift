/// The JSON body of every refusal Portcullis answers, the proxy's denials and the admin API's
/// errors alike: `{"message": "...", "error_type": "..."}`, members in this order and spaced
/// as AuthX writes them, so a client that compares bytes sees one shape everywhere.
public struct ErrorBody: Sendable, Equatable {
    public var message: String
    public var errorType: String

    public init(message: String, errorType: String) {
        self.message = message
        self.errorType = errorType
    }

    public var json: String {
        #"{"message": "\#(JSONStringEncoding.escaped(message))", "error_type": "\#(JSONStringEncoding.escaped(errorType))"}"#
    }

    public var bytes: [UInt8] { Array(json.utf8) }
}
