// The last guard of a graceful stop. Once routers were told (withdraw, Cease), nothing the agent still has
// to do may keep the process alive: if tearing down the rest (joining threads, closing servers, leaving
// the async pool) takes longer than the deadline, a dedicated Runtime.PollThread logs what every thread is
// doing (from /proc, so the next report has evidence) and ends the process with _exit(2).
//
// Why it is kept (issue 8): a stop once hung after "stopped" in the kernel lab, and neither exited nor ran
// the old fallback. That fallback was a Dispatch timer calling exit(): it needed a free thread of the same
// pool Swift concurrency runs on (a starved pool never runs it), and exit() runs atexit handlers while
// other threads still run (which can deadlock). This guard needs neither: its own thread, and _exit, which
// runs no handlers. The hang did not reproduce on the host: 0 in 160 stops of the old build next to BIRD
// (some with a DNS check, GRACEFUL_SHUTDOWN and the agent pinned to one CPU), 0 in 80 of this one. The
// teardown it guards is now ordered and joins every thread the agent owns.
import Runtime

#if canImport(Glibc)
    import Glibc
#endif

/// Ends the process with `status` when it is still alive `seconds` after being armed.
final class StopDeadline: Sendable {
    private let thread: PollThread?

    init(seconds: Int, status: Int32) {
        let deadline = monotonicNanoseconds() + Int64(seconds) * 1_000_000_000
        thread = try? PollThread(name: "stop-deadline") { thread in
            // Returns false only when stopped; on time, the process is still here after the deadline.
            guard thread.sleep(until: deadline) else { return }
            Self.write("warning: cleanup after stop took over \(seconds) s; exiting (threads: \(Self.threads()))\n")
            _exit(status)
        }
    }

    /// What each thread is doing: name, state and kernel wait channel, from /proc/self/task.
    static func threads() -> String {
        guard let directory = opendir("/proc/self/task") else { return "unknown" }
        defer { closedir(directory) }
        var parts: [String] = []
        while let entry = readdir(directory) {
            let tid = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard tid.first?.isNumber == true else { continue }
            let comm = read("/proc/self/task/\(tid)/comm").trimmingSuffix()
            let stat = read("/proc/self/task/\(tid)/stat")
            let state = stat.split(separator: ")").last?.split(separator: " ").first.map(String.init) ?? "?"
            let wchan = read("/proc/self/task/\(tid)/wchan")
            parts.append("\(tid) \(comm) \(state) \(wchan.isEmpty ? "-" : wchan)")
        }
        return parts.joined(separator: "; ")
    }

    private static func read(_ path: String) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return "" }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
        return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : ""
    }

    private static func write(_ line: String) {
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

extension String {
    fileprivate func trimmingSuffix() -> String {
        var text = self
        while text.last == "\n" { text.removeLast() }
        return text
    }
}
