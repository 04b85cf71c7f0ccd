import Logging

// One concise line per event on stderr. Under systemd (JOURNAL_STREAM set) each line carries a
// syslog-style "<N>" priority prefix, which journald turns into the entry's level; timestamps come from
// journald. Elsewhere the level is written as a word.
#if canImport(Glibc)
    import Glibc
#endif

/// A swift-log handler writing single lines to standard error.
public struct StderrLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let journal: Bool

    /// `label` is the logger's name; one line per event needs no name, so it is not printed.
    public init(label: String, level: Logger.Level = .info) {
        self.logLevel = level
        self.journal = getenv("JOURNAL_STREAM") != nil
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let context =
            merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: " ")
        let prefix = journal ? "<\(Self.syslogPriority(event.level))>" : "\(event.level): "
        let line = prefix + "\(event.message)\(context)\n"
        var bytes = Array(line.utf8)
        // One write(2) per line keeps lines from different threads whole.
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }

    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// Sets this handler up once for the whole process.
    public static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { StderrLogHandler(label: $0, level: level) }
    }
}
