// The entry point for reading the desired-state file: bytes → strict JSON tree → DesiredState with
// defaults, or every problem found as `FILE:LINE:COL: path: message`. The daemon, `anycastd check` and
// the reload path all go through here.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads and validates desired-state files.
public enum ConfigLoader {
    /// Files larger than this are refused rather than read into memory; real configs are a few KiB.
    public static let maximumFileSize = 16 << 20

    /// Parses and validates `bytes` (the content of `file`, which names it in diagnostics).
    ///
    /// A syntax error stops at that error; otherwise every problem in the file is reported, sorted by position.
    public static func parse(_ bytes: [UInt8], file: String) -> Result<DesiredState, ConfigError> {
        parseWithWarnings(bytes, file: file).result
    }

    /// Like `parse`, and also the warnings: what is valid but will not do what the file asks (such as a
    /// peer profile's router ignoring an attribute), sorted by position. `anycastd check` prints them.
    public static func parseWithWarnings(
        _ bytes: [UInt8], file: String
    ) -> (result: Result<DesiredState, ConfigError>, warnings: [ConfigDiagnostic]) {
        let sink = DiagnosticSink(file: file)
        let result = parse(bytes, sink: sink)
        return (result, sink.sortedWarnings)
    }

    private static func parse(_ bytes: [UInt8], sink: DiagnosticSink) -> Result<DesiredState, ConfigError> {
        var parser = JSONParser(bytes)
        let root: JSONNode
        do {
            root = try parser.parseDocument()
        } catch {
            sink.report(error.position, error.path, error.message)
            return .failure(ConfigError(diagnostics: sink.sorted))
        }
        for warning in parser.nonFatal { sink.report(warning.position, warning.path, warning.message) }
        let state = ConfigDecoder(sink: sink).decodeDesiredState(root)
        guard sink.diagnostics.isEmpty, let state else {
            return .failure(ConfigError(diagnostics: sink.sorted))
        }
        return .success(state)
    }

    /// Reads the file at `path` and parses it; a file that cannot be read gives one diagnostic naming
    /// the file and the system's reason, such as `/etc/anycastd/anycastd.json: cannot read: No such file
    /// or directory`.
    public static func load(path: String) -> Result<DesiredState, ConfigError> {
        loadWithWarnings(path: path).result
    }

    /// Like `load`, and also the warnings (see `parseWithWarnings`).
    public static func loadWithWarnings(
        path: String
    ) -> (result: Result<DesiredState, ConfigError>, warnings: [ConfigDiagnostic]) {
        switch readFile(path) {
        case .success(let bytes): parseWithWarnings(bytes, file: path)
        case .failure(let reason):
            (
                .failure(
                    ConfigError(diagnostics: [
                        ConfigDiagnostic(file: path, line: 0, column: 0, path: "", message: "cannot read: \(reason)")
                    ])), []
            )
        }
    }

    /// Opens with O_NONBLOCK, so a FIFO or device at the path cannot block the caller (the agent's actor);
    /// symbolic links are followed (a linked configuration is legitimate). Anything but a regular file is
    /// refused, and the read is bounded by `maximumFileSize`, whatever the file's size says.
    private static func readFile(_ path: String) -> Result<[UInt8], ReadFailureText> {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard descriptor >= 0 else { return .failure(ReadFailureText(errno)) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return .failure(ReadFailureText(errno)) }
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG else {
            return .failure(
                ReadFailureText(
                    text: type == S_IFDIR
                        ? "is a directory"
                        : "is \(fileTypeName(type)), not a regular file; the configuration must be a regular file (or a symbolic link to one)"
                ))
        }
        guard info.st_size <= maximumFileSize else { return .failure(tooLarge) }
        var contents: [UInt8] = []
        contents.reserveCapacity(Int(info.st_size))
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(ReadFailureText(errno))
            }
            if count == 0 { return .success(contents) }
            contents += chunk[0..<count]
            // The file grew while being read.
            if contents.count > maximumFileSize { return .failure(tooLarge) }
        }
    }

    private static var tooLarge: ReadFailureText {
        ReadFailureText(text: "file is larger than \(maximumFileSize >> 20) MiB")
    }

    private static func fileTypeName(_ type: mode_t) -> String {
        switch type {
        case S_IFIFO: "a FIFO (named pipe)"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        default: "a special file"
        }
    }
}

/// The reason a read failed, as text (strerror), so it can travel in a diagnostic.
private struct ReadFailureText: Error, CustomStringConvertible {
    var description: String

    init(_ code: Int32) {
        if code == EISDIR {
            description = "is a directory"
        } else {
            description = String(cString: strerror(code))
        }
    }

    init(text: String) { description = text }
}
