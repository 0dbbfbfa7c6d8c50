import ArgumentParser
import Foundation
import PortcullisCore

/// `--admin-url` and `--admin-token`, shared by the commands that call the admin API
/// (`revoke`, `audit`): flags, then `PORTCULLIS_ADMIN_TOKEN`, then the configuration when it
/// loads (`admin.listen`, `admin.token`, and https when `admin.tls_cert_file` is set), then
/// `http://127.0.0.1:8081`. `--admin-ca-file` verifies an https listener's certificate.
struct AdminEndpointOptions: ParsableArguments {
    @OptionGroup var options: ConfigOption

    @Option(help: "Admin API base URL, e.g. http://127.0.0.1:8081 (https:// when admin.tls_cert_file is set).")
    var adminURL: String?

    @Option(help: "PEM CA bundle that signed an https:// admin listener's certificate (default: the system's roots).")
    var adminCAFile: String?

    @Option(help: "Admin API bearer token (default: $PORTCULLIS_ADMIN_TOKEN, then the configuration).")
    var adminToken: String?

    /// The client, or a message on standard error and exit 1 (`command` prefixes it).
    func client(for command: String) throws -> AdminClient {
        let environment = ProcessInfo.processInfo.environment
        var configured: Configuration?
        if adminURL == nil || (adminToken == nil && environment["PORTCULLIS_ADMIN_TOKEN"] == nil) {
            configured = try? ConfigurationLoader.load(path: options.config, environment: environment)
        }
        let url = adminURL ?? configured.map { c in
            let host = c.admin.listen.host == "0.0.0.0" ? "127.0.0.1" : c.admin.listen.host == "::" ? "[::1]" : c.admin.listen.host
            let scheme = c.admin.tlsCertFile == nil ? "http" : "https"
            return "\(scheme)://\(host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host):\(c.admin.listen.port)"
        } ?? "http://127.0.0.1:8081"
        guard let secret = adminToken ?? environment["PORTCULLIS_ADMIN_TOKEN"] ?? configured?.admin.token else {
            printError("\(command): no admin token: pass --admin-token, set PORTCULLIS_ADMIN_TOKEN, or configure admin.token")
            throw ExitCode(1)
        }
        do {
            return try AdminClient(url: url, token: secret, caFile: adminCAFile)
        } catch {
            printError("\(command): \(error)")
            throw ExitCode(1)
        }
    }
}

extension AdminClient {
    /// The `message` of an error answer, else its body as it came.
    static func refusal(_ response: Response) -> String {
        let message = (try? JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])?["message"]
        return "the admin API answered \(response.status): \(message.map { "\($0)" } ?? response.body)"
    }

    /// The items of a paged listing (`/v1/revocations`, `/v1/audit`), following `next_cursor`
    /// until `limit` items (nil: every page).
    func items(of path: String, limit: Int?) throws -> [[String: Any]] {
        var items: [[String: Any]] = []
        var cursor: String?
        repeat {
            let pageSize = min(1000, limit.map { $0 - items.count } ?? 1000)
            var target = "\(path)?limit=\(pageSize)"
            if let cursor { target += "&cursor=" + Self.escapeQueryValue(cursor) }
            let response = try send(method: .GET, path: target)
            guard response.status == 200 else { throw ClientError(description: Self.refusal(response)) }
            guard let page = try? JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any],
                  let pageItems = page["items"] as? [[String: Any]]
            else { throw ClientError(description: "the admin API answered something else than a page: \(response.body.prefix(200))") }
            items += pageItems
            cursor = page["next_cursor"] as? String
        } while cursor != nil && (limit.map { items.count < $0 } ?? true)
        return limit.map { Array(items.prefix($0)) } ?? items
    }

    static func escapePathSegment(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? segment
    }

    static func escapeQueryValue(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+#"))) ?? value
    }
}
