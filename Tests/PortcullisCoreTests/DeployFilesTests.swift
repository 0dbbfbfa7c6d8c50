import Foundation
import XCTest
import Yams
@testable import PortcullisCore

/// The files under deploy/ are what users copy. Each configuration in them loads through the
/// real loader with the environment it is deployed with, and the Kubernetes manifest, the
/// systemd unit and the Containerfile agree with the configuration they run.
final class DeployFilesTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    private func text(_ path: String) throws -> String {
        try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
    }

    // MARK: - Every YAML file

    func testEveryYAMLFileUnderDeployParses() throws {
        let deploy = Self.root.appendingPathComponent("deploy").path
        guard let walker = FileManager.default.enumerator(atPath: deploy) else {
            return XCTFail("cannot list \(deploy)")
        }
        var checked = 0
        while let relative = walker.nextObject() as? String {
            guard relative.hasSuffix(".yaml") || relative.hasSuffix(".yml") else { continue }
            let documents = try yamlDocuments(text("deploy/" + relative), name: relative)
            XCTAssertFalse(documents.isEmpty, "deploy/\(relative) holds no YAML document")
            checked += 1
        }
        // portcullis.example.yaml, examples/authx-fastapi.yaml, kubernetes/sidecar.yaml at least.
        XCTAssertGreaterThanOrEqual(checked, 3)
    }

    // MARK: - Kubernetes sidecar

    func testSidecarConfigMapLoadsWithTheDeploymentsEnvironment() throws {
        let sidecar = try Sidecar(documents: yamlDocuments(text("deploy/kubernetes/sidecar.yaml"), name: "sidecar.yaml"))
        let configuration = try sidecar.loadConfiguration()
        XCTAssertEqual(configuration.revocation.store, .redis, "the shared store: replicas must see each other's revocations")
        XCTAssertNotNil(configuration.jwt.secret, "PORTCULLIS_JWT_SECRET reaches jwt.secret")
        XCTAssertNotNil(configuration.admin.token, "PORTCULLIS_ADMIN_TOKEN reaches admin.token")
        XCTAssertEqual(configuration.revocation.redisURL.host, "redis.example.svc.cluster.local",
                       "PORTCULLIS_REVOCATION_REDIS_URL reaches revocation.redis_url")
        // The app shares the pod's network namespace; only loopback keeps it behind the gate.
        XCTAssertEqual(configuration.proxy.upstream?.host, "127.0.0.1")
        // The kubelet probes the pod IP, which a loopback admin listener would not answer on.
        XCTAssertTrue(["0.0.0.0", "::"].contains(configuration.admin.listen.host),
                      "admin.listen \(configuration.admin.listen) is unreachable for the probes")
    }

    func testSidecarSecretHoldsOnlyMarkedPlaceholders() throws {
        let sidecar = try Sidecar(documents: yamlDocuments(text("deploy/kubernetes/sidecar.yaml"), name: "sidecar.yaml"))
        let values = try sidecar.secretValues()
        XCTAssertFalse(values.isEmpty)
        for (key, value) in values {
            XCTAssertTrue(value.contains("change-me"), "Secret \(key) must be an obvious placeholder")
        }
    }

    func testSidecarPortsProbesAndServiceMatchTheConfiguration() throws {
        let sidecar = try Sidecar(documents: yamlDocuments(text("deploy/kubernetes/sidecar.yaml"), name: "sidecar.yaml"))
        let configuration = try sidecar.loadConfiguration()
        let proxyPort = configuration.proxy.listen.port
        let adminPort = configuration.admin.listen.port
        let container = try sidecar.portcullisContainer()

        let declared = try sidecar.containerPorts(container)
        XCTAssertEqual(Set(declared.values), [proxyPort, adminPort], "containerPorts are proxy.listen's and admin.listen's")

        for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
            let get = dictionary(dictionary(container[probe])?["httpGet"])
            XCTAssertNotNil(get, "\(probe) is an httpGet probe")
            XCTAssertEqual(get?["path"] as? String, path, "\(probe) path")
            XCTAssertEqual(try sidecar.resolvePort(get?["port"], in: container), adminPort, "\(probe) asks the admin listener")
        }

        let servicePorts = try XCTUnwrap(array(dictionary(sidecar.document(kind: "Service")["spec"])?["ports"]))
        XCTAssertFalse(servicePorts.isEmpty)
        for entry in servicePorts {
            let target = try sidecar.resolvePort(dictionary(entry)?["targetPort"], in: container)
            XCTAssertEqual(target, proxyPort, "the Service reaches the proxy port, never the admin port")
        }
        let selector = try XCTUnwrap(dictionary(dictionary(sidecar.document(kind: "Service")["spec"])?["selector"]))
        let podLabels = try XCTUnwrap(dictionary(dictionary(sidecar.podTemplate()["metadata"])?["labels"]))
        for (key, value) in selector {
            XCTAssertEqual(podLabels[key] as? String, value as? String, "Service selector \(key) matches the pods")
        }
    }

    func testSidecarGracePeriodOutlastsTheDrain() throws {
        let sidecar = try Sidecar(documents: yamlDocuments(text("deploy/kubernetes/sidecar.yaml"), name: "sidecar.yaml"))
        let pod = try XCTUnwrap(dictionary(sidecar.podTemplate()["spec"]))
        let grace = try XCTUnwrap(pod["terminationGracePeriodSeconds"] as? Int, "terminationGracePeriodSeconds is set")
        // The drain is bounded by proxy.drain_timeout; a preStop pause comes on top of it.
        let drain = Int(try sidecar.loadConfiguration().proxy.drainTimeout.seconds.rounded(.up))
        var preStopSeconds = 0
        let preStop = dictionary(dictionary(dictionary(try sidecar.portcullisContainer()["lifecycle"])?["preStop"])?["exec"])
        if let command = array(preStop?["command"])?.compactMap({ $0 as? String }), command.first == "sleep",
           command.count == 2, let seconds = Int(command[1]) {
            preStopSeconds = seconds
        }
        XCTAssertGreaterThan(grace, drain + preStopSeconds)
    }

    func testSidecarContainerIsLockedDown() throws {
        let sidecar = try Sidecar(documents: yamlDocuments(text("deploy/kubernetes/sidecar.yaml"), name: "sidecar.yaml"))
        let container = try sidecar.portcullisContainer()
        let security = try XCTUnwrap(dictionary(container["securityContext"]))
        XCTAssertEqual(security["runAsNonRoot"] as? Bool, true)
        XCTAssertEqual(security["readOnlyRootFilesystem"] as? Bool, true)
        XCTAssertEqual(security["allowPrivilegeEscalation"] as? Bool, false)
        let dropped = array(dictionary(security["capabilities"])?["drop"])?.compactMap { $0 as? String } ?? []
        XCTAssertTrue(dropped.contains("ALL"), "every capability dropped")
        XCTAssertNotNil(dictionary(container["resources"])?["requests"], "resource requests set")
        XCTAssertNotNil(dictionary(dictionary(container["resources"])?["limits"])?["memory"], "memory limit set")

        // The configuration file the container is told to read is the ConfigMap key it mounts.
        let arguments = (array(container["args"]) ?? []).compactMap { $0 as? String }
        let flag = try XCTUnwrap(arguments.firstIndex(of: "--config"), "args name --config")
        XCTAssertLessThan(flag + 1, arguments.count)
        let configPath = arguments[flag + 1]
        let mounts = array(container["volumeMounts"])?.compactMap { dictionary($0) } ?? []
        let mount = try XCTUnwrap(mounts.first { configPath.hasPrefix(($0["mountPath"] as? String ?? "\u{0}") + "/") },
                                  "\(configPath) lies in a mounted volume")
        let volumes = array(dictionary(try sidecar.podTemplate()["spec"])?["volumes"])?.compactMap { dictionary($0) } ?? []
        let volume = try XCTUnwrap(volumes.first { $0["name"] as? String == mount["name"] as? String })
        XCTAssertEqual(dictionary(volume["configMap"])?["name"] as? String, try sidecar.name(of: "ConfigMap"))
        let fileName = String(configPath.dropFirst((mount["mountPath"] as? String ?? "").count + 1))
        XCTAssertNotNil(dictionary(try sidecar.document(kind: "ConfigMap")["data"])?[fileName] as? String,
                        "the ConfigMap has a \(fileName) key")
    }

    func testSidecarNetworkPolicyOpensTheAdminPortOnlyToNamedClients() throws {
        let sidecar = try Sidecar(documents: yamlDocuments(text("deploy/kubernetes/sidecar.yaml"), name: "sidecar.yaml"))
        guard let policy = sidecar.documents.first(where: { $0["kind"] as? String == "NetworkPolicy" }) else {
            return // optional; when present it must not open the admin port to everyone
        }
        let adminPort = try sidecar.loadConfiguration().admin.listen.port
        let rules = array(dictionary(policy["spec"])?["ingress"])?.compactMap { dictionary($0) } ?? []
        XCTAssertFalse(rules.isEmpty)
        for rule in rules {
            let ports = array(rule["ports"])?.compactMap { dictionary($0)?["port"] as? Int } ?? []
            let opensAdmin = ports.isEmpty || ports.contains(adminPort)
            if opensAdmin {
                XCTAssertFalse((array(rule["from"]) ?? []).isEmpty, "a rule opens the admin port \(adminPort) to every source")
            }
        }
    }

    // MARK: - Example configurations

    func testAuthXExampleLoadsAndMatchesAuthXDefaults() throws {
        let environment = [
            "PORTCULLIS_JWT_SECRET": "an-hs256-secret-of-at-least-32-bytes!",
            "PORTCULLIS_ADMIN_TOKEN": "an-admin-token-for-tests",
            "PORTCULLIS_REVOCATION_REDIS_URL": "redis://:secret@127.0.0.1:6379/0",
        ]
        let configuration = try loadChecked(text("deploy/examples/authx-fastapi.yaml"), environment: environment,
                                            name: "examples/authx-fastapi.yaml")
        XCTAssertEqual(configuration.revocation.store, .redis)
        XCTAssertEqual(configuration.revocation.jtiKey, "blocklist:{jti}")
        XCTAssertEqual(configuration.jwt.algorithms, [.HS256])
        XCTAssertEqual(configuration.jwt.tokenType, .access)
        XCTAssertEqual(configuration.jwt.headerName, "Authorization")
        XCTAssertEqual(configuration.jwt.headerType, "Bearer")
        XCTAssertEqual(configuration.jwt.cookieName, "access_token_cookie")
        XCTAssertEqual(configuration.jwt.queryParam, "token")
        XCTAssertTrue(configuration.jwt.csrf)
        XCTAssertEqual(configuration.errors.format, .authx)
        // AuthX's refresh route takes a refresh token: a route, checked against the blocklist like
        // every token, and not a public path that would let a revoked refresh token through.
        XCTAssertFalse(configuration.proxy.publicPaths.contains("/refresh"))
        XCTAssertEqual(configuration.routes.first, .init(path: "/refresh", methods: ["POST"], tokenType: .refresh))
        XCTAssertEqual(RouteTable(configuration.routes, defaultType: .access).match(method: "POST", path: "/refresh")?.requiredType,
                       .refresh)
        XCTAssertEqual(configuration.proxy.corsPreflight, .forward)
        // Without the environment the file alone must not carry the secret.
        XCTAssertThrowsError(try ConfigurationLoader.load(yaml: text("deploy/examples/authx-fastapi.yaml"), environment: [:]))
    }

    func testSystemdExampleConfigurationLoadsWithTheEnvironmentFile() throws {
        let files = [
            "/etc/portcullis/jwt-secret": "an-hs256-secret-of-at-least-32-bytes!\n",
            "/etc/portcullis/admin-token": "an-admin-token-for-tests\n",
        ]
        let environment = try environmentFile(text("deploy/systemd/portcullis.env.example"))
        XCTAssertFalse(environment.isEmpty)
        let configuration = try loadChecked(text("deploy/portcullis.example.yaml"), environment: environment,
                                            files: files, name: "portcullis.example.yaml")
        // The unit's StateDirectory is the one writable place.
        XCTAssertTrue(configuration.revocation.file.hasPrefix("/var/lib/portcullis/"), configuration.revocation.file)
        XCTAssertEqual(configuration.jwt.secret, "an-hs256-secret-of-at-least-32-bytes!")

        // The commented-out lines of the environment file name real keys too.
        let known = Set(ConfigurationKey.all.map(\.environmentName))
        for line in try text("deploy/systemd/portcullis.env.example").split(separator: "\n") {
            let body = line.trimmingCharacters(in: .whitespaces)
            guard body.hasPrefix("# PORTCULLIS_"), let equals = body.firstIndex(of: "=") else { continue }
            let name = String(body[body.index(body.startIndex, offsetBy: 2)..<equals])
            XCTAssertTrue(known.contains(name), "portcullis.env.example mentions \(name), which is not a key")
        }
    }

    // MARK: - systemd unit

    func testSystemdUnitReloadsAndIsSandboxed() throws {
        let unit = try systemdDirectives(text("deploy/systemd/portcullis.service"))
        func values(_ key: String) -> [String] { unit.filter { $0.key == key }.map { $0.value } }

        XCTAssertTrue(values("ExecReload").contains { $0.contains("kill") && ($0.contains("-HUP") || $0.contains("-s HUP")) && $0.contains("$MAINPID") },
                      "ExecReload sends SIGHUP to the main process: \(values("ExecReload"))")
        XCTAssertTrue(values("ExecStart").contains { $0.contains(" serve") && $0.contains("--config") })
        XCTAssertEqual(values("KillSignal"), ["SIGTERM"])
        let stop = try XCTUnwrap(values("TimeoutStopSec").last)
        XCTAssertGreaterThan(Int(stop.hasSuffix("s") ? String(stop.dropLast()) : stop) ?? 0,
                             Int(Configuration().proxy.drainTimeout.seconds), "TimeoutStopSec outlasts the default drain")
        XCTAssertEqual(values("DynamicUser"), ["yes"])
        XCTAssertEqual(values("ProtectSystem"), ["strict"])
        XCTAssertEqual(values("NoNewPrivileges"), ["yes"])
        XCTAssertEqual(values("CapabilityBoundingSet"), [""], "an empty bounding set: no capabilities at all")
        XCTAssertTrue(values("ReadWritePaths").contains { $0.split(separator: " ").contains("/var/lib/portcullis") })
        XCTAssertEqual(values("StateDirectory"), ["portcullis"])
    }

    // MARK: - Container image

    func testContainerfileBuildsStaticallyAndRunsUnprivileged() throws {
        let lines = try containerfileInstructions(text("deploy/container/Containerfile"))
        func arguments(_ instruction: String) -> [String] {
            lines.filter { $0.instruction == instruction }.map { $0.arguments }
        }

        XCTAssertGreaterThanOrEqual(arguments("FROM").count, 2, "a build stage and a runtime stage")
        let user = try XCTUnwrap(arguments("USER").last, "the image sets a USER")
        let name = user.split(separator: ":").first.map(String.init) ?? user
        XCTAssertFalse(["root", "0", ""].contains(name), "USER \(user) is root")
        XCTAssertNotNil(Int(name), "USER \(user) is numeric, so runAsNonRoot can check it")
        XCTAssertTrue(arguments("RUN").contains { $0.contains("--static-swift-stdlib") && $0.contains("--product portcullis") })
        XCTAssertEqual(arguments("STOPSIGNAL"), ["SIGTERM"])
        XCTAssertEqual(try jsonStrings(XCTUnwrap(arguments("ENTRYPOINT").last)), ["portcullis"])

        // The image's defaults agree with the Kubernetes manifest that runs it.
        let sidecar = try Sidecar(documents: yamlDocuments(text("deploy/kubernetes/sidecar.yaml"), name: "sidecar.yaml"))
        let configuration = try sidecar.loadConfiguration()
        let exposed = Set(arguments("EXPOSE").flatMap { $0.split(separator: " ") }.compactMap { Int($0.split(separator: "/")[0]) })
        XCTAssertTrue(exposed.isSuperset(of: [configuration.proxy.listen.port, configuration.admin.listen.port]),
                      "EXPOSE \(exposed.sorted()) covers the proxy and admin ports")
        let command = try jsonStrings(XCTUnwrap(arguments("CMD").last))
        let deploymentArguments = (array(try sidecar.portcullisContainer()["args"]) ?? []).compactMap { $0 as? String }
        XCTAssertEqual(command, deploymentArguments, "CMD and the Deployment's args run the same command")

        let ignored = try text(".dockerignore").split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        XCTAssertTrue(ignored.contains(".build") || ignored.contains(".build/") || ignored.contains("/.build"),
                      ".dockerignore keeps .build out of the build context")
    }

    // MARK: - Loading

    /// Loads as `check-config` does: the loader, then the gate (key material).
    private func loadChecked(_ yaml: String, environment: [String: String], files: [String: String] = [:],
                             name: String, line: UInt = #line) throws -> Configuration {
        let read: (String) throws -> String = { path in
            guard let contents = files[path] else { throw POSIXError(.ENOENT) }
            return contents
        }
        do {
            let configuration = try ConfigurationLoader.load(yaml: yaml, environment: environment, readFile: read)
            _ = try Gate(configuration: configuration, readFile: read)
            return configuration
        } catch {
            XCTFail("\(name) does not load:\n\(error)", line: line)
            throw error
        }
    }

    // MARK: - Parsing helpers

    private func yamlDocuments(_ text: String, name: String) throws -> [Any] {
        var sequence = try Yams.load_all(yaml: text)
        var documents: [Any] = []
        while let document = sequence.next() {
            documents.append(document)
        }
        if let error = sequence.error {
            XCTFail("\(name) is not valid YAML: \(error)")
            throw error
        }
        return documents
    }

    /// `KEY=VALUE` lines; comments and blank lines skipped.
    private func environmentFile(_ text: String) -> [String: String] {
        var environment: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let body = line.trimmingCharacters(in: .whitespaces)
            guard !body.isEmpty, !body.hasPrefix("#"), let equals = body.firstIndex(of: "=") else { continue }
            environment[String(body[..<equals])] = String(body[body.index(after: equals)...])
        }
        return environment
    }

    /// Every `Key=Value` of a unit file in order, section headers and comments dropped.
    private func systemdDirectives(_ text: String) -> [(key: String, value: String)] {
        var directives: [(key: String, value: String)] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let body = line.trimmingCharacters(in: .whitespaces)
            guard !body.hasPrefix("#"), !body.hasPrefix(";"), !body.hasPrefix("["), let equals = body.firstIndex(of: "=") else { continue }
            directives.append((String(body[..<equals]).trimmingCharacters(in: .whitespaces),
                               String(body[body.index(after: equals)...]).trimmingCharacters(in: .whitespaces)))
        }
        return directives
    }

    /// Instructions with their arguments, continuation lines joined and comments dropped.
    private func containerfileInstructions(_ text: String) -> [(instruction: String, arguments: String)] {
        var instructions: [(instruction: String, arguments: String)] = []
        var pending = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let body = line.trimmingCharacters(in: .whitespaces)
            if body.hasPrefix("#") { continue }
            if body.hasSuffix("\\") {
                pending += String(body.dropLast()) + " "
                continue
            }
            let whole = (pending + body).trimmingCharacters(in: .whitespaces)
            pending = ""
            guard !whole.isEmpty else { continue }
            let parts = whole.split(separator: " ", maxSplits: 1)
            instructions.append((parts[0].uppercased(), parts.count > 1 ? String(parts[1]).trimmingCharacters(in: .whitespaces) : ""))
        }
        return instructions
    }

    /// The exec form of ENTRYPOINT/CMD: a JSON array of strings.
    private func jsonStrings(_ text: String) throws -> [String] {
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try XCTUnwrap(parsed as? [String], "\(text) is not the exec form")
    }
}

// MARK: - The Kubernetes manifest

/// The documents of deploy/kubernetes/sidecar.yaml and the questions the tests ask of them.
private struct Sidecar {
    let documents: [[String: Any]]

    init(documents: [Any]) {
        self.documents = documents.compactMap { dictionary($0) }
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    func document(kind: String) throws -> [String: Any] {
        let matching = documents.filter { $0["kind"] as? String == kind }
        guard matching.count == 1 else { throw Missing(description: "expected one \(kind), found \(matching.count)") }
        return matching[0]
    }

    func name(of kind: String) throws -> String {
        guard let name = dictionary(try document(kind: kind)["metadata"])?["name"] as? String else {
            throw Missing(description: "\(kind) has no metadata.name")
        }
        return name
    }

    func podTemplate() throws -> [String: Any] {
        guard let template = dictionary(dictionary(try document(kind: "Deployment")["spec"])?["template"]) else {
            throw Missing(description: "Deployment has no spec.template")
        }
        return template
    }

    func portcullisContainer() throws -> [String: Any] {
        let containers = array(dictionary(try podTemplate()["spec"])?["containers"])?.compactMap { dictionary($0) } ?? []
        guard let container = containers.first(where: { $0["name"] as? String == "portcullis" }) else {
            throw Missing(description: "no container named portcullis")
        }
        return container
    }

    func secretValues() throws -> [String: String] {
        let secret = try document(kind: "Secret")
        guard let data = dictionary(secret["stringData"]) else { throw Missing(description: "Secret has no stringData") }
        var values: [String: String] = [:]
        for (key, value) in data {
            guard let string = value as? String else { throw Missing(description: "Secret \(key) is not a string") }
            values[key] = string
        }
        return values
    }

    /// The container's environment with `secretKeyRef`s replaced by the Secret's values.
    func environment() throws -> [String: String] {
        let secretName = try name(of: "Secret")
        let secret = try secretValues()
        var environment: [String: String] = [:]
        for entry in array(try portcullisContainer()["env"])?.compactMap({ dictionary($0) }) ?? [] {
            guard let name = entry["name"] as? String else { throw Missing(description: "an env entry has no name") }
            if let value = entry["value"] as? String {
                environment[name] = value
            } else if let reference = dictionary(dictionary(entry["valueFrom"])?["secretKeyRef"]) {
                guard reference["name"] as? String == secretName, let key = reference["key"] as? String,
                      let value = secret[key]
                else { throw Missing(description: "env \(name) refers to a key the Secret \(secretName) lacks") }
                environment[name] = value
            } else {
                throw Missing(description: "env \(name) has neither value nor secretKeyRef")
            }
        }
        return environment
    }

    /// The ConfigMap's portcullis.yaml through the real loader and the gate, as `serve` would.
    func loadConfiguration() throws -> Configuration {
        guard let yaml = dictionary(try document(kind: "ConfigMap")["data"])?["portcullis.yaml"] as? String else {
            throw Missing(description: "ConfigMap has no portcullis.yaml")
        }
        let noFiles: (String) throws -> String = { _ in throw POSIXError(.ENOENT) }
        do {
            let configuration = try ConfigurationLoader.load(yaml: yaml, environment: try environment(), readFile: noFiles)
            _ = try Gate(configuration: configuration, readFile: noFiles)
            return configuration
        } catch let error as ConfigurationError {
            throw Missing(description: "the ConfigMap's portcullis.yaml does not load:\n\(error)")
        }
    }

    /// Port name → number, from the container's `ports`.
    func containerPorts(_ container: [String: Any]) throws -> [String: Int] {
        var ports: [String: Int] = [:]
        for entry in array(container["ports"])?.compactMap({ dictionary($0) }) ?? [] {
            guard let number = entry["containerPort"] as? Int else { throw Missing(description: "a containerPort is not a number") }
            ports[entry["name"] as? String ?? "#\(number)"] = number
        }
        return ports
    }

    /// A probe's or Service's port: a number, or the name of one of the container's ports.
    func resolvePort(_ value: Any?, in container: [String: Any]) throws -> Int? {
        if let number = value as? Int { return number }
        guard let name = value as? String else { return nil }
        if let number = Int(name) { return number }
        return try containerPorts(container)[name]
    }
}

// MARK: - Yams values

/// Yams builds mappings as `[AnyHashable: Any]`; manifests only use string keys.
private func dictionary(_ value: Any?) -> [String: Any]? {
    if let strings = value as? [String: Any] { return strings }
    guard let mapping = value as? [AnyHashable: Any] else { return nil }
    var strings: [String: Any] = [:]
    for (key, element) in mapping {
        guard let name = key.base as? String else { return nil }
        strings[name] = element
    }
    return strings
}

private func array(_ value: Any?) -> [Any]? {
    value as? [Any]
}
