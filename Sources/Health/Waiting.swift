// Time and waiting for the check threads: a monotonic clock in nanoseconds, and a cancel signal (a pipe)
// that every poll(2) of a running check includes, so stopping a check interrupts it at once.
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Nanoseconds on CLOCK_MONOTONIC: immune to wall-clock steps, which must not trigger or skip checks.
func monotonicNanos() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

extension Duration {
    /// Whole nanoseconds, saturating (a configured interval is far below 292 years).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? (seconds < 0 ? .min : .max) : product &+ attoseconds / 1_000_000_000
    }

    /// "250 ms", "1.5 s", "80 µs": how durations appear in check results.
    var humanText: String {
        let nanos = nanoseconds
        if nanos >= 1_000_000_000 { return Self.trimmed(Double(nanos) / 1e9) + " s" }
        if nanos >= 1_000_000 { return Self.trimmed(Double(nanos) / 1e6) + " ms" }
        return Self.trimmed(Double(nanos) / 1e3) + " µs"
    }

    private static func trimmed(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }
}

/// The poll(2) timeout for a deadline: milliseconds rounded up, so a wait never ends early.
func pollTimeout(until deadline: Int64) -> Int32 {
    let remaining = deadline - monotonicNanos()
    if remaining <= 0 { return 0 }
    return Int32(clamping: (remaining + 999_999) / 1_000_000)
}

/// A one-shot cancel flag that a poll(2) can wait on: once fired, its read end stays readable.
/// If no pipe can be had (descriptors exhausted), waits still end at their deadlines; only the early
/// wake-up is lost.
final class CancelSignal: Sendable {
    private let readFD: Int32
    private let writeFD: Int32
    private let fired = Atomic<Bool>(false)

    init() {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            }
        }
        readFD = fds[0]
        writeFD = fds[1]
    }

    deinit {
        if readFD >= 0 { close(readFD) }
        if writeFD >= 0 { close(writeFD) }
    }

    /// Wakes every current and future wait. Safe to call more than once and from any thread.
    func fire() {
        if fired.exchange(true, ordering: .sequentiallyConsistent) { return }
        var byte: UInt8 = 1
        _ = write(writeFD, &byte, 1)
    }

    var isFired: Bool { fired.load(ordering: .sequentiallyConsistent) }

    /// The pollfd to add to a wait set; readable once fired (poll ignores it if the pipe is missing).
    var pollEntry: pollfd { pollfd(fd: readFD, events: Int16(POLLIN), revents: 0) }

    /// Sleeps until `deadline` (monotonic nanoseconds); returns false if cancelled first.
    func sleep(until deadline: Int64) -> Bool {
        while !isFired {
            let timeout = pollTimeout(until: deadline)
            if timeout == 0 { return true }
            var entry = pollEntry
            _ = poll(&entry, 1, timeout)
        }
        return false
    }
}

/// `strerror` as a Swift string.
func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }
