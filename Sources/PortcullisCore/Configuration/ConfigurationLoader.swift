import Foundation

/// Builds a `Configuration` from defaults, the YAML file, then the environment, and refuses it with
/// every problem at once (oauth2-proxy's `validation.Validate` habit): one `check-config` run shows
/// the operator the whole list.
public enum ConfigurationLoader {
    /// The environment variable naming the configuration file; not a key, so never reported unknown.
    public static let configPathVariable = "PORTCULLIS_CONFIG"
    public static let defaultConfigPath = "./portcullis.yaml"

    /// Which file to read: explicit path, else environment["PORTCULLIS_CONFIG"], else
    /// "./portcullis.yaml" if it exists, else nil (defaults + environment).
    public static func resolveConfigPath(explicit: String?, environment: [String: String],
                                         fileExists: (String) -> Bool) -> String? {
        if let explicit, !explicit.isEmpty { return explicit }
        if let fromEnvironment = environment[configPathVariable], !fromEnvironment.isEmpty { return fromEnvironment }
        return fileExists(defaultConfigPath) ? defaultConfigPath : nil
    }

    /// Loads YAML text (may be nil), applies environment, resolves *_file secrets, validates.
    /// Throws ConfigurationError listing every problem: file shape first (in document order), then
    /// unknown environment variables (by name), then each key in table order, then cross-key checks.
    ///
    /// `readFile` and `readBytes` stand in for the file system (tests); without them files are
    /// read from disk. Given only `readFile`, bytes are its text's UTF-8.
    public static func load(yaml: String?, environment: [String: String],
                            readFile: ((String) throws -> String)? = nil,
                            readBytes: ((String) throws -> [UInt8])? = nil)
        throws(ConfigurationError) -> Configuration {
        let text: (String) throws -> String = readFile ?? { try String(contentsOfFile: $0, encoding: .utf8) }
        let bytes: (String) throws -> [UInt8] = readBytes
            ?? readFile.map { read in { Array(try read($0).utf8) } }
            ?? { [UInt8](try Data(contentsOf: URL(fileURLWithPath: $0))) }
        let keys = ConfigurationKey.all
        var sources = ConfigurationSources(keys: keys)
        if let yaml { sources.readYAML(yaml) }
        sources.readEnvironment(environment)

        var session = ConfigurationLoadSession(readFile: text, readBytes: bytes)
        for key in keys {
            if let setting = sources.settings[key.path] { key.apply(key, setting, &session) }
        }
        session.resolveSecretFiles()
        session.checkAcrossKeys()
        let (configuration, keyProblems) = (session.configuration, session.problems)
        let problems = sources.problems + keyProblems
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        return configuration
    }

    /// Convenience: resolve path, read it (unreadable file → a problem with key "config"), load.
    public static func load(path explicit: String?, environment: [String: String]) throws(ConfigurationError) -> Configuration {
        let path = resolveConfigPath(explicit: explicit, environment: environment,
                                     fileExists: { FileManager.default.fileExists(atPath: $0) })
        guard let path else { return try load(yaml: nil, environment: environment) }
        let yaml: String
        do {
            yaml = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            // Nothing else is checked: without the file, every later complaint would be noise.
            throw ConfigurationError(problems: [
                ConfigurationProblem(key: "config", value: path, reason: "cannot read the configuration file: \(ConfigurationFiles.describe(error))"),
            ])
        }
        return try load(yaml: yaml, environment: environment)
    }
}
