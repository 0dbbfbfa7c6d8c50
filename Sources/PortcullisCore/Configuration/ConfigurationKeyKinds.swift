/// The shapes of key the table is built from: each knows its reader, its checks and its rendering.
extension ConfigurationKey {
    static func scalar<T>(_ path: String, _ field: WritableKeyPath<Configuration, T>, expected: String,
                          redact: @escaping (String) -> String = { $0 },
                          parse: @escaping (String) throws(InvalidConfigValue) -> T,
                          render: @escaping (T) -> RenderedConfigValue) -> ConfigurationKey {
        ConfigurationKey(path, redact: redact, apply: { key, setting, session in
            if let value = session.scalar(key, setting, expected: expected, parse) {
                session.configuration[keyPath: field] = value
            }
        }, render: { render($0[keyPath: field]) })
    }

    static func string(_ path: String, _ field: WritableKeyPath<Configuration, String>,
                       check: @escaping (String) throws(InvalidConfigValue) -> String = { $0 }) -> ConfigurationKey {
        scalar(path, field, expected: "a string", parse: check, render: { .string($0) })
    }

    /// An empty value means "not set", which also lets an environment variable clear a YAML value.
    static func optionalString(_ path: String, _ field: WritableKeyPath<Configuration, String?>,
                               check: @escaping (String) throws(InvalidConfigValue) -> String = { $0 }) -> ConfigurationKey {
        scalar(path, field, expected: "a string", parse: { text throws(InvalidConfigValue) in
            text.isEmpty ? nil : try check(text)
        }, render: { $0.map { .string($0) } ?? .null })
    }

    /// An inline secret: never shown, in problems or in rendering.
    static func secret(_ path: String, _ field: WritableKeyPath<Configuration, String?>,
                       fileField: WritableKeyPath<Configuration, String?>, fileKey: String) -> ConfigurationKey {
        ConfigurationKey(path, redact: { _ in redactedText }, apply: { key, setting, session in
            if let value = session.scalar(key, setting, expected: "a string", { $0 }) {
                session.configuration[keyPath: field] = value.isEmpty ? nil : value
            }
        }, render: { configuration in
            // A secret read from its file is the file's business; rendering `null` here keeps the
            // output loadable, where showing both keys would be refused as "both set".
            if configuration[keyPath: fileField] != nil { return .annotated(.null, comment: "read from \(fileKey)") }
            return configuration[keyPath: field] == nil ? .null : .string(redactedText)
        })
    }

    /// A file the proxy needs at run time: read now, so a wrong path or permission fails
    /// `check-config` rather than the first request.
    static func file(_ path: String, _ field: WritableKeyPath<Configuration, String?>,
                     keepsContents: Bool = false) -> ConfigurationKey {
        ConfigurationKey(path, apply: { key, setting, session in
            guard let filePath = session.scalar(key, setting, expected: "a file path", { $0 }) else { return }
            guard !filePath.isEmpty else {
                session.configuration[keyPath: field] = nil
                return
            }
            session.configuration[keyPath: field] = filePath
            do {
                // A secret is bytes (an HMAC key need not be text); other files are read as text.
                if keepsContents {
                    session.fileContents[key.path] = try session.readBytes(filePath)
                } else {
                    _ = try session.readFile(filePath)
                }
            } catch {
                session.report(key, setting, value: filePath, reason: "cannot read the file: \(ConfigurationFiles.describe(error))")
            }
        }, render: { $0[keyPath: field].map { .string($0) } ?? .null })
    }

    enum DurationFloor {
        case zero, positive, oneSecond
    }

    static func duration(_ path: String, _ field: WritableKeyPath<Configuration, Duration>,
                         floor: DurationFloor) -> ConfigurationKey {
        scalar(path, field, expected: "a duration", parse: { text throws(InvalidConfigValue) in
            let value = try ConfigValueParsers.duration(text)
            switch floor {
            case .zero: break
            case .positive: if value <= .zero { throw InvalidConfigValue("must be greater than 0") }
            case .oneSecond: if value < .seconds(1) { throw InvalidConfigValue("must be at least 1s") }
            }
            return value
        }, render: { .plain(ConfigYAMLWriter.durationText($0)) })
    }

    static func integer(_ path: String, _ field: WritableKeyPath<Configuration, Int>,
                        range: ClosedRange<Int>) -> ConfigurationKey {
        scalar(path, field, expected: "an integer", parse: { text throws(InvalidConfigValue) in
            try ConfigValueParsers.integer(text, in: range)
        }, render: { .plain(String($0)) })
    }

    static func boolean(_ path: String, _ field: WritableKeyPath<Configuration, Bool>) -> ConfigurationKey {
        scalar(path, field, expected: "a boolean", parse: ConfigValueParsers.boolean, render: { .plain($0 ? "true" : "false") })
    }

    static func choice<T: CaseIterable & RawRepresentable>(_ path: String, _ field: WritableKeyPath<Configuration, T>)
        -> ConfigurationKey where T.RawValue == String {
        let names = T.allCases.map(\.rawValue).joined(separator: ", ")
        return scalar(path, field, expected: "one of \(names)", parse: { text throws(InvalidConfigValue) in
            try ConfigValueParsers.choice(text, of: T.self)
        }, render: { .plain($0.rawValue) })
    }

    static func choice(_ path: String, _ field: WritableKeyPath<Configuration, String>, among names: [String]) -> ConfigurationKey {
        scalar(path, field, expected: "one of \(names.joined(separator: ", "))", parse: { text throws(InvalidConfigValue) in
            try ConfigValueParsers.choice(text, among: names)
        }, render: { .plain($0) })
    }

    /// A list whose items are checked one by one, every bad item reported.
    static func list<T: Equatable>(_ path: String, _ field: WritableKeyPath<Configuration, [T]>, expected: String,
                                   requiresItems: Bool = false, rejectsDuplicates: Bool = false,
                                   parseItem: @escaping (String) throws(InvalidConfigValue) -> T,
                                   renderItem: @escaping (T) -> RenderedConfigValue) -> ConfigurationKey {
        ConfigurationKey(path, apply: { key, setting, session in
            guard let texts = session.listItems(key, setting, expected: expected) else { return }
            var values: [T] = []
            var isValid = true
            for text in texts {
                do throws(InvalidConfigValue) {
                    let value = try parseItem(text)
                    if rejectsDuplicates && values.contains(value) {
                        session.report(key, setting, value: text, reason: "is listed more than once")
                        isValid = false
                    }
                    values.append(value)
                } catch {
                    session.report(key, setting, value: text, reason: error.reason)
                    isValid = false
                }
            }
            if requiresItems && texts.isEmpty {
                session.report(key, setting, reason: "must list at least one item")
                isValid = false
            }
            if isValid { session.configuration[keyPath: field] = values }
        }, render: { .list($0[keyPath: field].map(renderItem)) })
    }
}
