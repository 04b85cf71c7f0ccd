import FoundationEssentials
import NetAddress

// What anycastd remembers across restarts and reboots, in the state directory: the addresses it added to
// an `existing` interface (so only those are ever removed) and which services are drained.
#if canImport(Glibc)
    import Glibc
#endif

/// Small line-oriented files in the state directory, written atomically (temporary file + rename).
public struct StateStore: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// Prefixes anycastd added to an existing interface.
    public func loadOwnedAddresses() -> Set<IPPrefix> {
        Set(readLines("owned-addresses").compactMap { IPPrefix($0) })
    }

    public func saveOwnedAddresses(_ prefixes: Set<IPPrefix>) throws {
        try writeLines("owned-addresses", prefixes.sorted().map(\.description))
    }

    /// Drained services; `*` stands for the whole host.
    public func loadDrains() -> Set<String> { Set(readLines("drained")) }

    public func saveDrains(_ drains: Set<String>) throws { try writeLines("drained", drains.sorted()) }

    private func readLines(_ name: String) -> [String] {
        guard let text = try? String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map { line in
            String(line.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
        }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    private func writeLines(_ name: String, _ lines: [String]) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let path = "\(directory)/\(name)"
            let temporary = "\(path).tmp"
            let text = lines.map { "\($0)\n" }.joined()
            try text.write(toFile: temporary, atomically: false, encoding: .utf8)
            guard rename(temporary, path) == 0 else { throw DaemonError(String(cString: strerror(errno))) }
        } catch {
            throw DaemonError("\(directory)/\(name): cannot save state: \(error)")
        }
    }
}
