// Config errors with a position: every problem the reader finds in the desired-state file becomes one
// `ConfigDiagnostic` (`FILE:LINE:COL: json.path: message`); `ConfigError` carries all of them, sorted.

/// A place in the file: 1-based line and column; the column counts Unicode characters (scalars), so a
/// tab or an `é` is one column. Line 0 means the problem concerns the whole file (it could not be read).
public struct SourcePosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column)" }

    public static func < (lhs: SourcePosition, rhs: SourcePosition) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }
}

/// One problem in a desired-state file.
public struct ConfigDiagnostic: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file name as given to the loader.
    public var file: String
    public var line: Int
    public var column: Int
    /// Where in the JSON document, such as `bgp.peers[0].asn`; empty for the document as a whole.
    public var path: String
    public var message: String

    public init(file: String, line: Int, column: Int, path: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    /// `FILE:LINE:COL: path: message`, the form compilers use so editors can jump to it. The path is left
    /// out when empty, and `LINE:COL` when the problem concerns the whole file (line 0).
    public var description: String {
        let location = line > 0 ? "\(file):\(line):\(column)" : file
        return path.isEmpty ? "\(location): \(message)" : "\(location): \(path): \(message)"
    }

    /// `FILE:LINE:COL: path: warning: message`, for a problem that does not make the file invalid.
    public var warningDescription: String {
        let location = line > 0 ? "\(file):\(line):\(column)" : file
        return path.isEmpty ? "\(location): warning: \(message)" : "\(location): \(path): warning: \(message)"
    }

    var position: SourcePosition { SourcePosition(line: line, column: column) }
}

/// Everything wrong with a desired-state file, sorted by position.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [ConfigDiagnostic]

    public init(diagnostics: [ConfigDiagnostic]) {
        self.diagnostics = diagnostics
    }

    /// One line per diagnostic.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// A location inside the JSON document, printed as `services[1].checks[0].timeout`.
struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    var components: [Component] = []

    static let root = JSONPath()

    func appending(_ key: String) -> JSONPath { JSONPath(components: components + [.key(key)]) }
    func appending(_ index: Int) -> JSONPath { JSONPath(components: components + [.index(index)]) }

    var description: String {
        var text = ""
        for component in components {
            switch component {
            case .index(let index):
                text += "[\(index)]"
            case .key(let key) where key.utf8.count <= 64 && JSONPath.isIdentifier(key):
                text += text.isEmpty ? key : ".\(key)"
            case .key(let key):
                text += "[\(quoteExcerpt(key))]"
            }
        }
        return text
    }

    /// Keys that read well after a dot; anything else is shown as `["odd key"]`.
    private static func isIdentifier(_ key: String) -> Bool {
        guard let first = key.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return key.unicodeScalars.allSatisfy { scalar in
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || scalar == "_" || scalar == "$"
        }
    }
}

/// Collects diagnostics while the reader walks the file; one per load, never shared across threads.
final class DiagnosticSink {
    let file: String
    private(set) var diagnostics: [ConfigDiagnostic] = []
    /// Problems that do not make the file invalid (`anycastd check` prints them and exits 0).
    private(set) var warnings: [ConfigDiagnostic] = []

    init(file: String) { self.file = file }

    func warn(_ position: SourcePosition, _ path: JSONPath, _ message: String) {
        warnings.append(
            ConfigDiagnostic(
                file: file, line: position.line, column: position.column, path: path.description, message: message
            )
        )
    }

    /// The warnings sorted by position, as `sorted` does for errors.
    var sortedWarnings: [ConfigDiagnostic] {
        warnings.enumerated().sorted { a, b in
            a.element.position != b.element.position ? a.element.position < b.element.position : a.offset < b.offset
        }.map(\.element)
    }

    func report(_ position: SourcePosition, _ path: JSONPath, _ message: String) {
        diagnostics.append(
            ConfigDiagnostic(
                file: file, line: position.line, column: position.column, path: path.description, message: message
            )
        )
    }

    /// Sorted by position; problems at the same position keep the order they were found in.
    var sorted: [ConfigDiagnostic] {
        diagnostics.enumerated().sorted { a, b in
            a.element.position != b.element.position ? a.element.position < b.element.position : a.offset < b.offset
        }.map(\.element)
    }
}

/// Text from the file quoted for a diagnostic, cut to `limit` characters (a DNS name fits whole) (Unicode scalars) with the full
/// length said, so a 10 MB key or value is not echoed whole into every log line and terminal.
func quoteExcerpt(_ text: String, limit: Int = 256) -> String {
    var scalars = text.unicodeScalars.makeIterator()
    var head = String.UnicodeScalarView()
    while head.count < limit, let scalar = scalars.next() { head.append(scalar) }
    guard scalars.next() != nil else { return quoteJSONString(text) }
    return quoteJSONString(String(head)) + "… (\(text.utf8.count) bytes)"
}

/// A JSON string literal: quotes, backslashes and control characters escaped, everything else as is.
func quoteJSONString(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        case "\u{08}": result += "\\b"
        case "\u{0C}": result += "\\f"
        case "\u{00}"..."\u{1F}", "\u{7F}":
            let hex = String(scalar.value, radix: 16, uppercase: true)
            result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}
