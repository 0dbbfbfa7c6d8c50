import Foundation

/// The Python packages the cross-checks run against, pinned, in a venv under `.build/` that is
/// created (or brought to these pins) the first time a test needs it. `swift test` therefore
/// needs only `python3` with venv and PyPI; without them the tests fail, they never skip.
enum PythonVenv {
    static let pinnedPackages = [
        "pyjwt[crypto]==2.15.1", "authx==1.7.1", "fastapi==0.165.0", "uvicorn==0.54.0",
    ]

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private static let lock = NSLock()
    nonisolated(unsafe) private static var prepared: Result<String, any Error>?

    /// The venv's interpreter, with every pin installed.
    static func python() throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let prepared { return try prepared.get() }
        let result = Result { try prepare() }
        prepared = result
        return try result.get()
    }

    private static func prepare() throws -> String {
        let venv = repositoryRoot.appendingPathComponent(".build/crosscheck-venv")
        let python = venv.appendingPathComponent("bin/python").path
        // Every pin checked by version, so a venv made for an older pin list is brought up to date.
        let pins = pinnedPackages.map { pin -> String in
            let parts = pin.split(separator: "=", maxSplits: 1)
            let name = parts[0].split(separator: "[")[0]
            return "(\"\(name)\", \"\(pin.split(separator: "=").last!)\")"
        }.joined(separator: ", ")
        let check = "import importlib.metadata as m, sys; sys.exit(any(m.version(n) != v for n, v in [\(pins)]))"
        if FileManager.default.isExecutableFile(atPath: python), (try? run(python, ["-c", check])) != nil {
            return python
        }
        if !FileManager.default.isExecutableFile(atPath: python) {
            try run("/usr/bin/env", ["python3", "-m", "venv", venv.path], what: "creating the venv (is python3 with venv installed?)")
        }
        try run(python, ["-m", "pip", "install", "-q"] + pinnedPackages,
                what: "pip install \(pinnedPackages.joined(separator: " ")) (is PyPI reachable?)")
        return python
    }

    struct CommandFailed: Error, CustomStringConvertible {
        var description: String
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String], what: String? = nil) throws -> String {
        // Output goes to files, not pipes: a chatty child can never block on a full pipe.
        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-python-\(UUID().uuidString)")
        let stdoutURL = logs.appendingPathExtension("out")
        let stderrURL = logs.appendingPathExtension("err")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: stdoutURL)
            try? FileManager.default.removeItem(at: stderrURL)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        do {
            try process.run()
        } catch {
            throw CommandFailed(description: "\(what ?? executable): cannot start \(executable): \(error)")
        }
        process.waitUntilExit()
        let output = (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            let errors = (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? ""
            throw CommandFailed(
                description: "\(what ?? executable) failed with status \(process.terminationStatus): \(output.suffix(2000))\(errors.suffix(4000))"
            )
        }
        return output
    }
}
