/// Duration text as the configuration accepts it, for command-line options such as `--ttl`.
public enum DurationText {
    public static func parse(_ text: String) -> Duration? {
        try? ConfigValueParsers.duration(text)
    }
}
