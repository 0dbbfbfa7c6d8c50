import ArgumentParser
import Foundation
import NIOHTTP1
import PortcullisCore

struct Revoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Revoke (or un-revoke) a token or a subject through the admin API.",
        discussion: """
            The admin URL and token come from --admin-url/--admin-token, else PORTCULLIS_ADMIN_TOKEN and the
            configuration's admin.listen and admin.token(_file), else http://127.0.0.1:8081.
            Prints the API's JSON answer; exits 0 on success, 1 on any failure.

            Examples:
              portcullis revoke --jti 3f1c9a --expires-at 1767225600 --reason "laptop stolen"
              portcullis revoke --token "$TOKEN"
              portcullis revoke --subject alice                 # every token of alice issued until now
              portcullis revoke --jti 3f1c9a --unrevoke
              PORTCULLIS_ADMIN_TOKEN=... portcullis revoke --admin-url http://10.0.0.5:8081 --subject alice
            """)

    @OptionGroup var options: ConfigOption

    @Option(help: "The jti to revoke.")
    var jti: String?

    @Option(help: "A whole token to revoke (its signature must verify); its jti and exp are read from it.")
    var token: String?

    @Option(help: "A subject: revokes every token of it issued until now.")
    var subject: String?

    @Option(help: "Unix time the token expires (with --jti); default: revocation.max_ttl from now.")
    var expiresAt: Int?

    @Option(help: "Why, kept with the revocation.")
    var reason: String?

    @Flag(help: "Remove the revocation instead (with --jti or --subject).")
    var unrevoke = false

    @Option(help: "Admin API base URL, e.g. http://127.0.0.1:8081.")
    var adminURL: String?

    @Option(help: "Admin API bearer token (default: $PORTCULLIS_ADMIN_TOKEN, then the configuration).")
    var adminToken: String?

    func validate() throws {
        let targets = [jti, token, subject].compactMap { $0 }
        guard targets.count == 1 else { throw ValidationError("give exactly one of --jti, --token, --subject") }
        if expiresAt != nil && jti == nil { throw ValidationError("--expires-at goes with --jti") }
        if unrevoke && token != nil { throw ValidationError("--unrevoke goes with --jti or --subject") }
        if unrevoke && (expiresAt != nil || reason != nil) { throw ValidationError("--unrevoke takes no --expires-at or --reason") }
    }

    func run() throws {
        let (url, secret) = try endpoint()
        let client: AdminClient
        let response: AdminClient.Response
        do {
            client = try AdminClient(url: url, token: secret)
            response = try send(client)
        } catch {
            printError("revoke: \(error)")
            throw ExitCode(1)
        }
        guard (200..<300).contains(response.status) else {
            let message = (try? JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])?["message"]
            printError("revoke: the admin API answered \(response.status): \(message.map { "\($0)" } ?? response.body)")
            throw ExitCode(1)
        }
        print(response.body.isEmpty ? #"{"status": \#(response.status)}"# : response.body)
    }

    private func send(_ client: AdminClient) throws -> AdminClient.Response {
        if let jti {
            let path = "/v1/revocations/" + Self.escape(jti)
            if unrevoke { return try client.send(method: .DELETE, path: path) }
            var body: [String: Any] = ["jti": jti]
            if let expiresAt { body["expires_at"] = expiresAt }
            if let reason { body["reason"] = reason }
            return try client.send(method: .POST, path: "/v1/revocations", json: body)
        }
        if let token {
            var body: [String: Any] = ["token": token]
            if let reason { body["reason"] = reason }
            return try client.send(method: .POST, path: "/v1/revocations", json: body)
        }
        let path = "/v1/subjects/" + Self.escape(subject ?? "") + "/revocations"
        if unrevoke { return try client.send(method: .DELETE, path: path) }
        return try client.send(method: .POST, path: path, json: reason.map { ["reason": $0] })
    }

    /// The admin URL and token: flags, then environment, then the configuration when it loads.
    private func endpoint() throws -> (String, String) {
        let environment = ProcessInfo.processInfo.environment
        var configured: Configuration?
        if adminURL == nil || (adminToken == nil && environment["PORTCULLIS_ADMIN_TOKEN"] == nil) {
            configured = try? ConfigurationLoader.load(path: options.config, environment: environment)
        }
        let url = adminURL ?? configured.map { c in
            let host = c.admin.listen.host == "0.0.0.0" ? "127.0.0.1" : c.admin.listen.host == "::" ? "[::1]" : c.admin.listen.host
            return "http://\(host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host):\(c.admin.listen.port)"
        } ?? "http://127.0.0.1:8081"
        guard let secret = adminToken ?? environment["PORTCULLIS_ADMIN_TOKEN"] ?? configured?.admin.token else {
            printError("revoke: no admin token: pass --admin-token, set PORTCULLIS_ADMIN_TOKEN, or configure admin.token")
            throw ExitCode(1)
        }
        return (url, secret)
    }

    private static func escape(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? segment
    }
}
