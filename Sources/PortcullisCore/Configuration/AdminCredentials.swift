/// Named admin credentials with roles (`admin.token` and `admin.tokens_file`), and what each
/// role may call. Pure: the admin listener asks it who a bearer token is and whether that
/// credential may make a call.
public struct AdminCredential: Sendable, Equatable {
    public enum Role: String, Sendable, CaseIterable {
        /// Every `GET /v1/`.
        case read
        /// `read`, plus creating revocations (`POST /v1/revocations`, `POST /v1/subjects/…`).
        case revoke
        /// Everything, un-revoking included.
        case admin
    }

    public var name: String
    public var role: Role
    public var token: String

    public init(name: String, role: Role, token: String) {
        self.name = name
        self.role = role
        self.token = token
    }

    /// Whether this credential's role allows a call with `method` under `/v1/`.
    public func permits(method: String) -> Bool {
        switch (role, method) {
        case (.admin, _): true
        case (_, "GET"), (_, "HEAD"): true
        case (.revoke, "POST"): true
        default: false
        }
    }
}

public enum AdminCredentials {
    /// The credential whose token equals `presented`. Every credential is compared, each in
    /// constant time, so the time taken tells nothing about which token came close.
    public static func authenticate(_ presented: String, among credentials: [AdminCredential]) -> AdminCredential? {
        var found: AdminCredential?
        for credential in credentials where ConstantTime.equal(presented, credential.token) && found == nil {
            found = credential
        }
        return found
    }

    /// Parses `NAME ROLE TOKEN` lines; blank lines and `#` comments are ignored. Returns the
    /// credentials, or every problem found as "line N: …".
    public static func parse(_ text: String) -> Result<[AdminCredential], ParseProblems> {
        var credentials: [AdminCredential] = []
        var problems: [String] = []
        var names: Set<String> = []
        var tokens: Set<String> = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingSpaces().hasSuffix("\r") ? String(rawLine.dropLast()) : String(rawLine)
            let trimmed = line.trimmingSpaces()
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" })
            let number = index + 1
            guard fields.count == 3 else {
                problems.append("line \(number): expected NAME ROLE TOKEN, found \(fields.count) field(s)")
                continue
            }
            let name = String(fields[0])
            guard let role = AdminCredential.Role(rawValue: String(fields[1])) else {
                problems.append("line \(number): unknown role \"\(fields[1])\" (read, revoke or admin)")
                continue
            }
            let token = String(fields[2])
            if token.count < 16 {
                problems.append("line \(number): the token of \(name) must be at least 16 characters")
                continue
            }
            if !names.insert(name).inserted { problems.append("line \(number): the name \(name) is used twice") }
            if !tokens.insert(token).inserted { problems.append("line \(number): the token of \(name) is used twice") }
            credentials.append(AdminCredential(name: name, role: role, token: token))
        }
        return problems.isEmpty ? .success(credentials) : .failure(ParseProblems(lines: problems))
    }

    public struct ParseProblems: Error, Sendable {
        public var lines: [String]
    }
}
