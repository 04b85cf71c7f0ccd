import FoundationEssentials

// Watches the configuration file's directory with inotify, so that saves by editors and configuration
// management (write a temporary file, rename it over the old one) are seen as well as in-place writes.
#if canImport(Glibc)
    import Glibc
#endif

/// Yields once for every change to one file, seen through its directory.
public final class ConfigWatcher: Sendable {
    private let directory: String
    private let fileName: String
    private let descriptor: Int32
    private let stopPipe: (read: Int32, write: Int32)

    /// Starts watching; fails when the directory cannot be watched.
    public init(path: String) throws {
        let slash = path.lastIndex(of: "/")
        directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        fileName = slash.map { String(path[path.index(after: $0)...]) } ?? path
        descriptor = inotify_init1(Int32(IN_CLOEXEC))
        guard descriptor >= 0 else { throw DaemonError("inotify: \(String(cString: strerror(errno)))") }
        let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_ATTRIB)
        guard inotify_add_watch(descriptor, directory, mask) >= 0 else {
            let message = String(cString: strerror(errno))
            close(descriptor)
            throw DaemonError("\(directory): cannot watch for configuration changes: \(message)")
        }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw DaemonError("pipe: \(String(cString: strerror(errno)))") }
        stopPipe = (fds[0], fds[1])
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
    }

    /// Changes to the watched file, as they happen, until `stop()`.
    public func changes() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let body = ThreadBody { [self] in
            readLoop(continuation)
            continuation.finish()
        }
        var handle = pthread_t()
        let context = Unmanaged.passRetained(body).toOpaque()
        let status = pthread_create(
            &handle, nil,
            { context in
                Unmanaged<ThreadBody>.fromOpaque(context!).takeRetainedValue().run()
                return nil
            }, context)
        if status == 0 {
            pthread_detach(handle)
        } else {
            Unmanaged<ThreadBody>.fromOpaque(context).release()
            continuation.finish()
        }
        return stream
    }

    public func stop() {
        var byte: UInt8 = 1
        _ = write(stopPipe.write, &byte, 1)
    }

    private func readLoop(_ continuation: AsyncStream<Void>.Continuation) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            var fds = [
                pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stopPipe.read, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, 2, -1)
            if ready < 0 && errno == EINTR { continue }
            if ready < 0 || fds[1].revents != 0 { return }
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 {
                if count < 0 && errno == EINTR { continue }
                return
            }
            if Self.mentions(fileName, in: buffer[0..<count]) { continuation.yield() }
        }
    }

    /// True when any inotify_event record in the buffer names the file (or the queue overflowed).
    static func mentions(_ fileName: String, in bytes: ArraySlice<UInt8>) -> Bool {
        let header = MemoryLayout<inotify_event>.size
        var offset = bytes.startIndex
        while offset + header <= bytes.endIndex {
            let mask = bytes[(offset + 4)..<(offset + 8)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            let length = Int(bytes[(offset + 12)..<(offset + 16)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
            if mask & UInt32(IN_Q_OVERFLOW) != 0 { return true }
            let nameBytes = bytes[(offset + header)..<min(offset + header + length, bytes.endIndex)].prefix { $0 != 0 }
            if String(decoding: nameBytes, as: UTF8.self) == fileName { return true }
            offset += header + length
        }
        return false
    }
}

/// A daemon failure with a message meant for the operator.
public struct DaemonError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A closure handed to a new pthread.
private final class ThreadBody: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}
