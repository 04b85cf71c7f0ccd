// Runs one check on its interval on a dedicated thread: first run at once, then on a fixed grid of
// start + k × interval (no drift), never overlapping itself (a run that overstays skips the missed ticks).
// A thread per check keeps blocking syscalls (poll, waitpid) off the daemon's event loops and async pool,
// and costs nothing between runs.
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

final class CheckRunner: Sendable {
    let check: HealthCheck
    private let cancel = CancelSignal()
    private let report: @Sendable (CheckResult) -> Void
    private let thread = Mutex<pthread_t?>(nil)

    /// `report` is called on the check's thread after every completed run, never after `stop()`.
    init(check: HealthCheck, report: @escaping @Sendable (CheckResult) -> Void) {
        self.check = check
        self.report = report
    }

    /// Starts the thread, unless `stop()` came first. If no thread can be had, reports one failure so the
    /// reason shows in status (the check then stays down).
    func start() {
        let failure: Int32? = thread.withLock { thread in
            guard thread == nil, !cancel.isFired else { return nil }
            var attributes = pthread_attr_t()
            pthread_attr_init(&attributes)
            defer { pthread_attr_destroy(&attributes) }
            pthread_attr_setstacksize(&attributes, 512 * 1024)
            let context = Unmanaged.passRetained(self).toOpaque()
            var handle = pthread_t()
            let result = pthread_create(
                &handle, &attributes,
                { context in
                    let runner = Unmanaged<CheckRunner>.fromOpaque(context!).takeRetainedValue()
                    runner.loop()
                    return nil
                }, context)
            if result != 0 {
                Unmanaged<CheckRunner>.fromOpaque(context).release()
                return result
            }
            thread = handle
            return nil
        }
        if let failure {
            report(
                CheckResult(success: false, detail: "cannot start check thread: \(errorText(failure))", duration: .zero)
            )
        }
    }

    /// Interrupts a running check (an exec check's process group is killed) and ends the thread soon.
    func stop() { cancel.fire() }

    /// Waits for the thread to end; call after `stop()`, never from the check's own thread.
    func join() {
        let handle = thread.withLock { thread -> pthread_t? in
            defer { thread = nil }
            return thread
        }
        guard let handle else { return }
        // The monitor's deinit may run on a check thread (it held the last reference for a moment).
        if pthread_equal(handle, pthread_self()) != 0 {
            pthread_detach(handle)
        } else {
            pthread_join(handle, nil)
        }
    }

    private func loop() {
        let interval = max(check.config.interval.nanoseconds, 1_000_000)
        var next = monotonicNanos()
        while cancel.sleep(until: next) {
            let result = check.run(cancel: cancel)
            if cancel.isFired { return }
            report(result)
            next += interval
            let now = monotonicNanos()
            if next <= now { next += ((now - next) / interval + 1) * interval }
        }
    }
}
