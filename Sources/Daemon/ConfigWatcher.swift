// Watches the configuration file with inotify on a Runtime.PollThread. The file's directory is watched,
// not the file, so saves by editors and configuration management (write a temporary file, rename it over
// the old one) are seen as well as in-place writes. The watch must not go deaf, so it also covers:
// - the directory's parent, so a directory deleted and created again is watched again when it returns;
// - each target of a symbolic link chain (and the target's directory and its parent), so editing the file
//   a link points to is seen, and so is re-pointing the link;
// - the directory's own removal (IN_DELETE_SELF, IN_MOVE_SELF, IN_IGNORED) and a queue overflow.
// Every such event re-arms the watches, then reports a change (so an edit made while re-arming is read).
// `rearm()` (SIGHUP) does the same on request. The agent's resync also compares `FileFingerprint`s, a last
// resort for anything inotify cannot see (network file systems, a parent directory that was missing).
import FoundationEssentials
import Runtime
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Yields once for every change to one file, seen through its directory (and a link's targets).
public final class ConfigWatcher: Sendable {
    private let stream: AsyncStream<Void>
    private let thread: PollThread
    private let rearmRequested: Flag

    /// Starts watching; fails when inotify is unavailable or not even the file's directory can be watched.
    public init(path: String) throws {
        let absolute = path.hasPrefix("/") ? path : Self.currentDirectory() + "/" + path
        let descriptor = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard descriptor >= 0 else { throw DaemonError("inotify: \(String(cString: strerror(errno)))") }
        let initial = WatchTable.arm(WatchTable(), descriptor: descriptor, for: absolute)
        guard initial.watches.values.contains(where: { $0.contains(WatchTable.baseName(absolute)) }) else {
            let message = String(cString: strerror(errno))
            close(descriptor)
            throw DaemonError(
                "\(WatchTable.directoryName(absolute)): cannot watch for configuration changes: \(message)")
        }
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let flag = Flag()
        self.stream = stream
        self.rearmRequested = flag
        do {
            thread = try PollThread(name: "config-watch") { thread in
                defer {
                    close(descriptor)
                    continuation.finish()
                }
                var table = initial
                var buffer = [UInt8](repeating: 0, count: 64 * 1024)
                var descriptors = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)]
                while thread.wait(&descriptors, until: nil) {
                    var verdict = WatchTable.Verdict()
                    if descriptors[0].revents != 0 {
                        while true {
                            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                            if count < 0 && errno == EINTR { continue }
                            guard count > 0 else { break }
                            verdict.merge(table.classify(InotifyEvent.parse(buffer[0..<count])))
                        }
                    }
                    if flag.value.exchange(false, ordering: .acquiringAndReleasing) { verdict.rearm = true }
                    if verdict.rearm {
                        let before = table
                        table = WatchTable.arm(table, descriptor: descriptor, for: absolute)
                        if table != before { verdict.changed = true }
                    }
                    if verdict.changed { continuation.yield() }
                }
            }
        } catch {
            close(descriptor)
            continuation.finish()
            throw DaemonError("\(error)")
        }
    }

    /// Changes to the watched file, as they happen, until `stop()`. A single consumer: every call returns
    /// the same stream.
    public func changes() -> AsyncStream<Void> { stream }

    /// Resolves the links and watches the directories again (SIGHUP); reports a change if the watch moved.
    public func rearm() {
        rearmRequested.value.store(true, ordering: .releasing)
        thread.wake()
    }

    /// Ends the watch and its stream; returns once the thread has exited.
    public func stop() { thread.stop() }

    private static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "." }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A flag shared with the thread's closure (Atomic is not copyable, so it is shared by reference).
private final class Flag: Sendable {
    let value = Atomic<Bool>(false)
}

/// One inotify_event record.
struct InotifyEvent: Equatable {
    var watch: Int32
    var mask: UInt32
    var name: String

    /// The records in a buffer read from an inotify descriptor.
    static func parse(_ bytes: ArraySlice<UInt8>) -> [InotifyEvent] {
        let header = MemoryLayout<inotify_event>.size
        var events: [InotifyEvent] = []
        var offset = bytes.startIndex
        while offset + header <= bytes.endIndex {
            func word(_ at: Int) -> UInt32 {
                bytes[(offset + at)..<(offset + at + 4)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            }
            let length = Int(word(12))
            let nameBytes = bytes[(offset + header)..<min(offset + header + length, bytes.endIndex)].prefix { $0 != 0 }
            events.append(
                InotifyEvent(
                    watch: Int32(bitPattern: word(0)), mask: word(4), name: String(decoding: nameBytes, as: UTF8.self)))
            offset += header + length
        }
        return events
    }
}

/// Which directories are watched, and which names in each matter. Pure, apart from `arm`.
struct WatchTable: Equatable {
    /// Watch descriptor → the entry names in that directory that concern the configuration.
    var watches: [Int32: Set<String>] = [:]

    struct Verdict: Equatable {
        /// The configuration may have changed: read it again.
        var changed = false
        /// The watched directories or links may have changed: resolve and watch again.
        var rearm = false

        mutating func merge(_ other: Verdict) {
            changed = changed || other.changed
            rearm = rearm || other.rearm
        }
    }

    static let directoryMask = UInt32(
        IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_ATTRIB | IN_DELETE_SELF
            | IN_MOVE_SELF | IN_ONLYDIR)

    /// What a batch of events means. Events of watches no longer in the table are stale and ignored.
    func classify(_ events: [InotifyEvent]) -> Verdict {
        var verdict = Verdict()
        for event in events {
            if event.mask & UInt32(IN_Q_OVERFLOW) != 0 {
                return Verdict(changed: true, rearm: true)
            }
            guard let names = watches[event.watch] else { continue }
            if event.mask & UInt32(IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF) != 0 {
                verdict = Verdict(changed: true, rearm: true)
            } else if names.contains(event.name) {
                // The file, a link in its chain or a watched directory changed: the chain may point elsewhere.
                verdict = Verdict(changed: true, rearm: true)
            }
        }
        return verdict
    }

    /// The directories to watch for `path` and the names that matter in each: the file's directory and
    /// that directory's parent, for the path and for every target of its link chain (at most 8 links).
    static func directories(for path: String, readLink: (String) -> String?) -> [String: Set<String>] {
        var wanted: [String: Set<String>] = [:]
        var current = path
        for _ in 0...8 {
            let directory = directoryName(current)
            wanted[directory, default: []].insert(baseName(current))
            if directory != "/" { wanted[directoryName(directory), default: []].insert(baseName(directory)) }
            guard let target = readLink(current) else { break }
            current = target.hasPrefix("/") ? target : (directory == "/" ? "" : directory) + "/" + target
        }
        return wanted
    }

    /// Adds watches for what `path` needs now and removes those no longer needed.
    static func arm(_ old: WatchTable, descriptor: Int32, for path: String) -> WatchTable {
        var table = WatchTable()
        for (directory, names) in directories(for: path, readLink: readLink) {
            let watch = inotify_add_watch(descriptor, directory, directoryMask)
            if watch >= 0 { table.watches[watch, default: []].formUnion(names) }
        }
        for watch in old.watches.keys where table.watches[watch] == nil { inotify_rm_watch(descriptor, watch) }
        return table
    }

    static func directoryName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func baseName(_ path: String) -> String {
        path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
    }

    /// The target of a symbolic link, or nil when `path` is not one.
    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// What identifies one version of the configuration file: if any of it differs, the file was replaced or
/// written. Taken through links (stat, not lstat).
public struct FileFingerprint: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Int64
    var changed: Int64

    /// The file's fingerprint now; nil when it cannot be stat'ed (then any later fingerprint differs).
    public static func of(_ path: String) -> FileFingerprint? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileFingerprint(
            device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
            modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
            changed: Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec))
    }
}

/// A daemon failure with a message meant for the operator.
public struct DaemonError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
