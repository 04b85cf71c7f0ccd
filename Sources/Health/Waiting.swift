// Time and waiting for the check runs: a monotonic clock in nanoseconds, and a cancel signal whose wake-up
// (the worker's PollThread wake, or a pipe) every poll(2) of a running check includes, so stopping a check
// interrupts it at once.
import Runtime
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

/// How a wait for one descriptor ended.
enum Readiness {
    case ready
    case cancelled
    case timedOut
}

/// Waits until `fd` reports one of `events`, the deadline (monotonic nanoseconds) passes, or the check is
/// cancelled. Interrupted and early wake-ups wait again for the rest of the time.
func wait(for fd: Int32, events: Int16, until deadline: Int64, cancel: CancelSignal?) -> Readiness {
    while true {
        var entries = [pollfd(fd: fd, events: events, revents: 0)]
        guard waitReady(&entries, until: deadline, cancel: cancel) else { return .cancelled }
        if entries[0].revents != 0 { return .ready }
        if monotonicNanos() >= deadline { return .timedOut }
    }
}

/// One poll(2) of `entries` (their `revents` filled in) that also ends when the check is cancelled.
/// Returns false when cancelled; true when something is ready, the deadline passed, or the wait woke early
/// (EINTR, a stale wake-up): callers loop until their own deadline.
func waitReady(_ entries: inout [pollfd], until deadline: Int64, cancel: CancelSignal?) -> Bool {
    guard let cancel else {
        for index in entries.indices { entries[index].revents = 0 }
        _ = poll(&entries, nfds_t(entries.count), pollTimeout(until: deadline))
        return true
    }
    return cancel.wait(&entries, until: deadline)
}

/// Cancels one check run: a flag, and a wake-up for the thread the run waits on.
///
/// A run on a scheduler worker uses that worker's PollThread: firing sets the flag and wakes the worker,
/// whose waits all include its wake descriptor, so the run ends at once and no descriptor is spent per
/// check. A standalone signal (tools, tests) owns a pipe instead. If no pipe can be had (descriptors
/// exhausted), waits still end at their deadlines; only the early wake-up is lost.
final class CancelSignal: Sendable {
    private let fired = Atomic<Bool>(false)
    private let thread: PollThread?
    private let readFD: Int32
    private let writeFD: Int32

    /// A signal that interrupts waits made on `thread` (a scheduler worker running the check).
    init(thread: PollThread) {
        self.thread = thread
        readFD = -1
        writeFD = -1
    }

    /// A standalone signal with its own pipe.
    init() {
        thread = nil
        let fds = makePipe()
        readFD = fds?.read ?? -1
        writeFD = fds?.write ?? -1
        for fd in [readFD, writeFD] where fd >= 0 { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    }

    deinit {
        if readFD >= 0 { close(readFD) }
        if writeFD >= 0 { close(writeFD) }
    }

    /// Wakes every current and future wait. Safe to call more than once and from any thread.
    func fire() {
        if fired.exchange(true, ordering: .sequentiallyConsistent) { return }
        if let thread {
            thread.wake()
        } else {
            var byte: UInt8 = 1
            _ = write(writeFD, &byte, 1)
        }
    }

    /// True once fired, or once the worker thread the run is on is stopping.
    var isFired: Bool { fired.load(ordering: .sequentiallyConsistent) || thread?.isStopping == true }

    /// Polls `entries` until one is ready, the deadline, or the signal fires; false when fired.
    func wait(_ entries: inout [pollfd], until deadline: Int64) -> Bool {
        if isFired { return false }
        if let thread {
            return thread.wait(&entries, until: deadline) && !isFired
        }
        for index in entries.indices { entries[index].revents = 0 }
        entries.append(pollfd(fd: readFD, events: Int16(POLLIN), revents: 0))
        defer { entries.removeLast() }
        _ = poll(&entries, nfds_t(entries.count), pollTimeout(until: deadline))
        return !isFired
    }

    /// Sleeps until `deadline` (monotonic nanoseconds); returns false if cancelled first.
    func sleep(until deadline: Int64) -> Bool {
        while !isFired {
            if pollTimeout(until: deadline) == 0 { return true }
            var none: [pollfd] = []
            _ = wait(&none, until: deadline)
        }
        return false
    }
}

/// A close-on-exec pipe whose descriptors are both above 2, or nil with errno set.
///
/// pipe2(O_CLOEXEC) closes the window in which a check spawned by another thread could inherit the pipe
/// (Glibc's Swift overlay does not export pipe2, hence the lookup). Descriptors 0-2 are avoided because an
/// exec check's file actions rewrite exactly those in the child (a daemon started with closed stdio would
/// otherwise get them from the kernel).
func makePipe() -> (read: Int32, write: Int32)? {
    typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    var fds: [Int32] = [-1, -1]
    if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pipe2") {
        guard unsafeBitCast(symbol, to: Pipe2.self)(&fds, O_CLOEXEC) == 0 else { return nil }
    } else {
        guard pipe(&fds) == 0 else { return nil }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    }
    for index in 0..<2 where fds[index] <= 2 {
        let moved = fcntl(fds[index], F_DUPFD_CLOEXEC, 3)
        close(fds[index])
        fds[index] = moved
    }
    guard fds[0] >= 0, fds[1] >= 0 else {
        for fd in fds where fd >= 0 { close(fd) }
        return nil
    }
    return (fds[0], fds[1])
}

/// `strerror` as a Swift string.
func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }
