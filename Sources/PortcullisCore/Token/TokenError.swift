/// Why a token was refused.
///
/// One stable `code` per denial drives the HTTP answer, logs and metrics;
/// `detail` is for the log line and is written so that it never contains
/// the token or any other secret (at most a short, sanitised `kid`/`alg`).
public struct TokenError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        case malformed
        case algorithmNotAllowed
        case unknownKey
        case badSignature
        case expired
        case notYetValid
        case issuedInFuture
        case wrongIssuer
        case wrongAudience
        case accessTokenRequired
        case refreshTokenRequired
    }

    public var code: Code
    public var detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code.rawValue): \(detail)" }

    static func malformed(_ detail: String) -> TokenError { TokenError(.malformed, detail) }

    static func malformed(_ part: String, _ error: JSONSyntaxError) -> TokenError {
        TokenError(.malformed, "\(part) JSON: \(error.reason) at byte \(error.offset)")
    }
}
