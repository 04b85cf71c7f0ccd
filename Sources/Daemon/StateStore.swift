// What anycastd remembers across restarts and reboots, in the state directory: the addresses it added to
// an `existing` interface (so only those are ever removed), which services are drained, and whether the
// last run left its sessions without draining (the restart marker, for Graceful Restart).
// The directory belongs to root, but its files are treated as outside input: reads follow no symbolic link,
// take at most `maxFileSize` bytes and never log a file's content; writes go to a fresh temporary file
// (mkstemp: exclusive, never through a link), which is fsynced, renamed over the old file, and followed by an
// fsync of the directory, so a save that returned has reached the disk.
import FoundationEssentials
import NetAddress

#if canImport(Glibc)
    import Glibc
#endif

/// What the `drained` file says at start.
public enum DrainRestore: Sendable, Equatable {
    /// The drained services; `*` is the whole host. A missing file means none.
    case drains(Set<String>)
    /// The file exists but cannot be trusted (the reason, never its content); the agent stays drained.
    case unreadable(String)
}

/// Small line-oriented files in the state directory, written durably (temporary file, fsync, rename, fsync).
public struct StateStore: Sendable {
    public let directory: String
    /// Files larger than this are unreadable: state files hold a few lines, not megabytes.
    public static let maxFileSize = 64 * 1024

    public init(directory: String) { self.directory = directory }

    public func path(_ name: String) -> String { "\(directory)/\(name)" }

    // MARK: owned addresses

    /// Prefixes anycastd added to an existing interface. Only host prefixes outside the reserved ranges are
    /// kept (see `IPPrefix.isRemovableHostPrefix`); every other line is described in `ignored`, without
    /// quoting what is not a prefix.
    public func loadOwnedAddresses() -> (owned: Set<IPPrefix>, ignored: [String]) {
        let lines: [(number: Int, text: String)]
        switch readLines("owned-addresses") {
        case .missing: return ([], [])
        case .unreadable(let reason): return ([], ["\(path("owned-addresses")): \(reason); no address is removed"])
        case .lines(let read): lines = read
        }
        var owned: Set<IPPrefix> = []
        var ignored: [String] = []
        for line in lines {
            let place = "\(path("owned-addresses")):\(line.number)"
            guard let prefix = IPPrefix(line.text) else {
                ignored.append("\(place): not an address prefix; ignored")
                continue
            }
            if let reason = prefix.removalRefusal {
                ignored.append("\(place): \(prefix) is \(reason), never removed; ignored")
                continue
            }
            owned.insert(prefix)
        }
        return (owned, ignored)
    }

    public func saveOwnedAddresses(_ prefixes: Set<IPPrefix>) throws {
        try writeLines("owned-addresses", prefixes.sorted().map(\.description), what: "owned addresses")
    }

    // MARK: drains

    /// Drained services; `*` stands for the whole host. A missing file is no drain; any file that cannot be
    /// read completely and exactly (a link, not a regular file, too large, not UTF-8, control characters) is
    /// `.unreadable`, which the agent treats as a drained host.
    public func loadDrains() -> DrainRestore {
        switch readLines("drained") {
        case .missing: return .drains([])
        case .unreadable(let reason): return .unreadable("\(path("drained")): \(reason)")
        case .lines(let lines): return .drains(Set(lines.map(\.text)))
        }
    }

    public func saveDrains(_ drains: Set<String>) throws {
        for name in drains where name.isEmpty || name.unicodeScalars.contains(where: Self.isForbidden) {
            throw DaemonError("cannot save drains: a service name with a control character cannot be stored")
        }
        try writeLines("drained", drains.sorted(), what: "drains")
    }

    // MARK: restart marker

    /// Whether the restart marker is there: the last run of the agent left its sessions without draining (a
    /// restart or a crash), so this start is a Graceful Restart (the R bit, RFC 4724). Only its presence
    /// counts: a file that cannot be read (a link, too large) is there too, and it is never followed.
    public func hasRestartMarker() -> Bool {
        if case .missing = readLines("restarting") { return false }
        return true
    }

    /// Writes the restart marker (at start); a stop that drains removes it again.
    public func saveRestartMarker() throws {
        try writeLines(
            "restarting", ["# anycastd is running or left its sessions to the routers; removed by a stop that drains"],
            what: "the restart marker")
    }

    /// Removes the restart marker (a link is removed, not followed); a missing marker is fine.
    public func removeRestartMarker() throws {
        guard unlink(path("restarting")) == 0 || errno == ENOENT else {
            throw DaemonError("cannot remove the restart marker \(path("restarting")): \(strerrorText(errno))")
        }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryFD >= 0 else { return }
        defer { close(directoryFD) }
        _ = fsync(directoryFD)
    }

    // MARK: reading

    enum ReadResult {
        case missing
        case unreadable(String)
        case lines([(number: Int, text: String)])
    }

    /// Tabs are allowed inside lines (trimmed at the ends); other control characters make a file unreadable.
    static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        (scalar.value < 0x20 && scalar != "\t") || scalar.value == 0x7F
    }

    /// Non-empty lines that are not `#` comments, trimmed, with their line numbers.
    func readLines(_ name: String) -> ReadResult {
        let bytes: [UInt8]
        switch readFile(path(name)) {
        case .failure(let error):
            if error.code == ENOENT { return .missing }
            return .unreadable(error.reason)
        case .success(let read): bytes = read
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { return .unreadable("not valid UTF-8") }
        var lines: [(number: Int, text: String)] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.unicodeScalars.contains(where: Self.isForbidden) {
                return .unreadable("line \(index + 1) holds a control character")
            }
            let trimmed = line.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed()
            let text = String(trimmed)
            if text.isEmpty || text.hasPrefix("#") { continue }
            lines.append((index + 1, text))
        }
        return .lines(lines)
    }

    struct ReadError: Error {
        var code: Int32
        var reason: String
    }

    /// The whole file, opened without following a link; at most `maxFileSize` bytes.
    private func readFile(_ path: String) -> Result<[UInt8], ReadError> {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else {
            let code = errno
            if code == ELOOP { return .failure(ReadError(code: code, reason: "is a symbolic link (not followed)")) }
            return .failure(ReadError(code: code, reason: "cannot open: \(strerrorText(code))"))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            return .failure(ReadError(code: errno, reason: "cannot stat: \(strerrorText(errno))"))
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            return .failure(ReadError(code: EINVAL, reason: "is not a regular file"))
        }
        guard info.st_size <= Self.maxFileSize else {
            return .failure(
                ReadError(code: EFBIG, reason: "is larger than \(Self.maxFileSize) bytes (\(info.st_size) bytes)"))
        }
        var bytes = [UInt8](repeating: 0, count: Self.maxFileSize + 1)
        var total = 0
        while total < bytes.count {
            let count = bytes.withUnsafeMutableBytes { buffer in
                read(fd, buffer.baseAddress! + total, buffer.count - total)
            }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else {
                return .failure(ReadError(code: errno, reason: "cannot read: \(strerrorText(errno))"))
            }
            if count == 0 { break }
            total += count
        }
        // The file may have grown since fstat.
        guard total <= Self.maxFileSize else {
            return .failure(ReadError(code: EFBIG, reason: "is larger than \(Self.maxFileSize) bytes"))
        }
        return .success(Array(bytes[..<total]))
    }

    // MARK: writing

    /// Replaces a file durably: mkstemp in the directory (exclusive, follows no link), write, fsync, rename over
    /// the old file (which replaces a link rather than writing through it), fsync the directory.
    private func writeLines(_ name: String, _ lines: [String], what: String) throws {
        let target = path(name)
        func failure(_ operation: String, _ path: String, _ code: Int32) -> DaemonError {
            DaemonError("cannot save \(what): \(operation) \(path): \(strerrorText(code))")
        }
        if let (operation, code) = makeDirectory(directory) { throw failure(operation, directory, code) }
        var template = Array("\(target).tmp.XXXXXX".utf8CString)
        // mkstemp opens with O_CREAT | O_EXCL, mode 0600: a link or file already at that name is never used.
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw failure("create a temporary file in", directory, errno) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        // Messages name the template, not the random name, so a save that keeps failing logs one line, not one a try.
        let shown = "\(target).tmp.XXXXXX"
        var closed = false
        var renamed = false
        defer {
            if !closed { close(fd) }
            if !renamed { unlink(temporary) }
        }
        guard fchmod(fd, 0o644) == 0 else { throw failure("chmod", shown, errno) }
        let bytes = Array(lines.map { "\($0)\n" }.joined().utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { buffer in
                write(fd, buffer.baseAddress! + written, buffer.count - written)
            }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { throw failure("write", shown, count < 0 ? errno : ENOSPC) }
            written += count
        }
        guard fsync(fd) == 0 else { throw failure("fsync", shown, errno) }
        closed = true
        guard close(fd) == 0 else { throw failure("close", shown, errno) }
        guard rename(temporary, target) == 0 else { throw failure("rename \(shown) to", target, errno) }
        renamed = true
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryFD >= 0 else { throw failure("open", directory, errno) }
        defer { close(directoryFD) }
        guard fsync(directoryFD) == 0 else { throw failure("fsync", directory, errno) }
    }

    /// `mkdir -p` with mode 0755; the failed operation and errno, or nil.
    private func makeDirectory(_ path: String) -> (String, Int32)? {
        var info = stat()
        if stat(path, &info) == 0 {
            return info.st_mode & S_IFMT == S_IFDIR ? nil : ("use (not a directory)", ENOTDIR)
        }
        let parent = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !parent.isEmpty, let failure = makeDirectory(parent) { return failure }
        if mkdir(path, 0o755) != 0, errno != EEXIST { return ("mkdir", errno) }
        return nil
    }

    // MARK: lock

    /// Takes the state directory's lock for the life of the process, so two agents never manage the same
    /// host at once. Fails, naming the other process when it wrote its pid, if another agent holds it.
    public func lock() throws -> StateLock {
        let lockPath = path("lock")
        if let (operation, code) = makeDirectory(directory) {
            throw DaemonError("cannot take the lock: \(operation) \(directory): \(strerrorText(code))")
        }
        var writable = true
        var fd = open(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0o644)
        if fd < 0, errno == EROFS || errno == EACCES {
            // A read-only state directory still allows locking a lock file that is already there.
            writable = false
            fd = open(lockPath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)
        }
        guard fd >= 0 else { throw DaemonError("cannot take the lock: open \(lockPath): \(strerrorText(errno))") }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            let holder = Self.readPid(fd).map { "pid \($0)" } ?? "pid unknown"
            close(fd)
            if code == EWOULDBLOCK {
                throw DaemonError(
                    "another anycastd (\(holder)) is running with state directory \(directory) (\(lockPath) is locked); stop it first"
                )
            }
            throw DaemonError("cannot take the lock: flock \(lockPath): \(strerrorText(code))")
        }
        if writable {
            let text = Array("\(getpid())\n".utf8)
            if ftruncate(fd, 0) == 0 {
                _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            }
        }
        return StateLock(fd: fd, path: lockPath)
    }

    private static func readPid(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[..<count], as: UTF8.self).split(separator: "\n").first ?? ""
        return Int32(text.filter { $0 != " " })
    }
}

/// The held state-directory lock; the descriptor (close-on-exec) stays open for the process's life.
public final class StateLock: Sendable {
    public let path: String
    private let fd: Int32

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }
}

/// `strerror` text for an errno value.
func strerrorText(_ code: Int32) -> String { String(cString: strerror(code)) }
