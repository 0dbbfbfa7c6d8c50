import ArgumentParser
import Foundation
import NIOHTTP1
import PortcullisCore

struct Revoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Revoke (or un-revoke) a token or a subject through the admin API; look one up, or list them.",
        discussion: """
            The admin URL and token come from --admin-url/--admin-token, else PORTCULLIS_ADMIN_TOKEN and the
            configuration's admin.listen and admin.token(_file), else http://127.0.0.1:8081.
            Prints the API's JSON answer; exits 0 on success, 1 on any failure.
            --lookup prints the revocation and exits 0 when the jti is revoked, 1 when it is not, 2 when the
            admin API could not tell (unreachable, token refused). --list prints every revoked jti, one a line,
            following the pages.

            Examples:
              portcullis revoke --jti 3f1c9a --expires-at 1767225600 --reason "laptop stolen"
              portcullis revoke --token "$TOKEN"
              portcullis revoke --subject alice                 # every token of alice issued until now
              portcullis revoke --jti 3f1c9a --unrevoke
              portcullis revoke --lookup 3f1c9a
              portcullis revoke --list
              PORTCULLIS_ADMIN_TOKEN=... portcullis revoke --admin-url http://10.0.0.5:8081 --subject alice
            """)

    @OptionGroup var endpoint: AdminEndpointOptions

    @Option(help: "The jti to revoke.")
    var jti: String?

    @Option(help: "A whole token to revoke (its signature must verify); its jti and exp are read from it.")
    var token: String?

    @Option(help: "A subject: revokes every token of it issued until now.")
    var subject: String?

    @Option(name: .customLong("lookup"), help: ArgumentHelp("Show the revocation of this jti.", valueName: "jti"))
    var lookupJTI: String?

    @Flag(help: "Print every revoked jti.")
    var list = false

    @Option(help: "Unix time the token expires (with --jti); default: revocation.max_ttl from now.")
    var expiresAt: Int?

    @Option(help: "Why, kept with the revocation.")
    var reason: String?

    @Flag(help: "Remove the revocation instead (with --jti or --subject).")
    var unrevoke = false

    func validate() throws {
        let targets = [jti, token, subject, lookupJTI].compactMap { $0 }.count + (list ? 1 : 0)
        guard targets == 1 else { throw ValidationError("give exactly one of --jti, --token, --subject, --lookup, --list") }
        if expiresAt != nil && jti == nil { throw ValidationError("--expires-at goes with --jti") }
        if unrevoke && (token != nil || lookupJTI != nil || list) { throw ValidationError("--unrevoke goes with --jti or --subject") }
        if unrevoke && (expiresAt != nil || reason != nil) { throw ValidationError("--unrevoke takes no --expires-at or --reason") }
        if reason != nil && (lookupJTI != nil || list) { throw ValidationError("--reason goes with --jti, --token or --subject") }
    }

    func run() throws {
        if let lookupJTI { return try lookup(lookupJTI) }
        let client = try endpoint.client(for: "revoke")
        if list { return try listAll(client) }
        let response: AdminClient.Response
        do {
            response = try send(client)
        } catch {
            printError("revoke: \(error)")
            throw ExitCode(1)
        }
        guard (200..<300).contains(response.status) else {
            printError("revoke: \(AdminClient.refusal(response))")
            throw ExitCode(1)
        }
        print(response.body.isEmpty ? #"{"status": \#(response.status)}"# : response.body)
    }

    /// 0: revoked (the revocation printed); 1: not revoked; 2: no answer.
    private func lookup(_ jti: String) throws {
        let client: AdminClient
        do {
            client = try endpoint.client(for: "revoke")
        } catch {
            throw ExitCode(2)
        }
        let response: AdminClient.Response
        do {
            response = try client.send(method: .GET, path: "/v1/revocations/" + AdminClient.escapePathSegment(jti))
        } catch {
            printError("revoke: \(error)")
            throw ExitCode(2)
        }
        switch response.status {
        case 200:
            print(response.body)
        case 404 where response.body.contains("\"revoked\""):
            print(response.body)
            throw ExitCode(1)
        default:
            printError("revoke: \(AdminClient.refusal(response))")
            throw ExitCode(2)
        }
    }

    private func listAll(_ client: AdminClient) throws {
        do {
            for item in try client.items(of: "/v1/revocations", limit: nil) {
                if let jti = item["jti"] as? String { print(jti) }
            }
        } catch {
            printError("revoke: \(error)")
            throw ExitCode(1)
        }
    }

    private func send(_ client: AdminClient) throws -> AdminClient.Response {
        if let jti {
            let path = "/v1/revocations/" + AdminClient.escapePathSegment(jti)
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
        let path = "/v1/subjects/" + AdminClient.escapePathSegment(subject ?? "") + "/revocations"
        if unrevoke { return try client.send(method: .DELETE, path: path) }
        return try client.send(method: .POST, path: path, json: reason.map { ["reason": $0] })
    }
}
