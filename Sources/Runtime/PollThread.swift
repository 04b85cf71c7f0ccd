// The one runtime piece for "a thread that waits on descriptors until told to stop": the netlink monitor,
// the configuration watch, the BFD speaker and the health-check scheduler each run their loop on a
// PollThread instead of their own pthread + poll + stop-descriptor code. A PollThread owns a non-blocking
// pipe (Glibc's Swift overlay does not declare eventfd) that every wait includes, so `wake()` interrupts a wait at once (new work queued) and `stop()` ends the loop
// and joins the thread. Waits take deadlines on CLOCK_MONOTONIC, immune to wall-clock steps.
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Nanoseconds on CLOCK_MONOTONIC.
public func monotonicNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// A failure to set up a PollThread, with the call that failed and errno's text.
public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let code: Int32
    public var description: String { "\(operation): \(String(cString: strerror(code)))" }
    public init(operation: String, code: Int32) {
        self.operation = operation
        self.code = code
    }
}

/// A thread that runs one loop; the loop waits with `wait(_:until:)` and returns when it answers false.
public final class PollThread: Sendable {
    private let wakeDescriptor: Int32
    private let wakeWriter: Int32
    private let stopping = Atomic<Bool>(false)
    private let thread = Mutex<pthread_t?>(nil)

    /// Starts `body` on a new thread (`name` is used in errors). The body must return soon after `wait`
    /// answers false; everything it owns is released when it returns.
    public init(
        name: String, stackBytes: Int = 256 << 10, _ body: @escaping @Sendable (PollThread) -> Void
    ) throws(RuntimeError) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw RuntimeError(operation: "pipe for thread \(name)", code: errno) }
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
        }
        wakeDescriptor = ends[0]
        wakeWriter = ends[1]
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, max(stackBytes, Int(PTHREAD_STACK_MIN)))
        let start = ThreadStart(thread: self, body: body)
        let context = Unmanaged.passRetained(start).toOpaque()
        var handle = pthread_t()
        let status = pthread_create(
            &handle, &attributes,
            { context in
                let start = Unmanaged<ThreadStart>.fromOpaque(context!).takeRetainedValue()
                start.body(start.thread)
                return nil
            }, context)
        guard status == 0 else {
            Unmanaged<ThreadStart>.fromOpaque(context).release()
            close(ends[0])
            close(ends[1])
            throw RuntimeError(operation: "pthread_create for thread \(name)", code: status)
        }
        thread.withLock { $0 = handle }
    }

    deinit {
        stop()
        close(wakeDescriptor)
        close(wakeWriter)
    }

    /// True once `stop()` was called.
    public var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Interrupts the current (or next) wait, which then returns true with no descriptor ready.
    public func wake() {
        // A full pipe (EAGAIN) is already readable: the wake-up is not lost.
        var one: UInt8 = 1
        _ = write(wakeWriter, &one, 1)
    }

    /// Waits until one of `descriptors` is ready (their `revents` are filled in), the deadline in
    /// monotonic nanoseconds passes (nil: no deadline), `wake()` is called or `stop()` is. Returns false
    /// when the loop must end. A poll(2) error other than EINTR is returned as true with no revents, so the
    /// caller's deadlines still run.
    public func wait(_ descriptors: inout [pollfd], until deadline: Int64?) -> Bool {
        if isStopping { return false }
        for index in descriptors.indices { descriptors[index].revents = 0 }
        descriptors.append(pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0))
        defer { descriptors.removeLast() }
        while true {
            let timeout: Int32
            if let deadline {
                let remaining = deadline - monotonicNanoseconds()
                // Rounded up, so a timer never fires early.
                timeout = remaining <= 0 ? 0 : Int32(clamping: (remaining + 999_999) / 1_000_000)
            } else {
                timeout = -1
            }
            let ready = poll(&descriptors, nfds_t(descriptors.count), timeout)
            if ready < 0 && errno == EINTR { continue }
            if descriptors[descriptors.count - 1].revents != 0 {
                var bytes = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
                while read(wakeDescriptor, &bytes, MemoryLayout.size(ofValue: bytes)) > 0 {}
            }
            return !isStopping
        }
    }

    /// Sleeps until the deadline, `wake()` or `stop()`. Returns false when the loop must end.
    public func sleep(until deadline: Int64?) -> Bool {
        var none: [pollfd] = []
        return wait(&none, until: deadline)
    }

    /// Ends the loop: its current or next wait returns false. Returns once the thread has exited, except
    /// when called from the thread itself (then the thread is detached and ends when the body returns).
    public func stop() {
        stopping.store(true, ordering: .releasing)
        wake()
        guard
            let handle = thread.withLock({ thread in
                defer { thread = nil }; return thread
            })
        else { return }
        if pthread_equal(handle, pthread_self()) != 0 {
            pthread_detach(handle)
        } else {
            pthread_join(handle, nil)
        }
    }
}

/// What the new thread needs; it holds the PollThread strongly only while the body runs.
private final class ThreadStart: Sendable {
    let thread: PollThread
    let body: @Sendable (PollThread) -> Void
    init(thread: PollThread, body: @escaping @Sendable (PollThread) -> Void) {
        self.thread = thread
        self.body = body
    }
}
