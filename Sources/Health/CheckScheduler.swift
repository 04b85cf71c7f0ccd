// Runs every configured check on its interval with bounded threads and descriptors: one scheduler thread
// keeps each check's due time (first run at once, then a fixed grid of start + k × interval, no drift; faster
// while the check's streak is under way and it has a fastInterval, as CheckPace decides) and
// hands due runs to a small fixed pool of worker threads. A run never overlaps the previous run of the same
// check (ticks missed by a slow run, or while every worker was busy, are skipped). Both are Runtime
// PollThreads: the scheduler sleeps until the next due time or a wake-up; an idle worker sleeps until it is
// handed a run, and a cancelled run is interrupted by its worker's wake.
//
// Every kind of check runs on the workers, not only exec: DNS and TCP checks are written as blocking code
// bounded by their timeout, and a pool of plain threads keeps them simple and the scheduler's own loop free
// of per-check I/O. What the pool bounds is concurrency: 500 checks need 9 threads, not 500, and a run holds
// at most three descriptors (pipe, pidfd; or one socket) while it runs. The price: when the checks' timeouts
// add up to more than the workers can carry, runs start late. `capacityWarning` says so at `anycastd check`.
import Config
import Runtime
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One check as the scheduler runs it: what to run and where its results go.
struct ScheduledCheck: Sendable {
    let id: Int
    let check: HealthCheck
    /// Called on a worker after every completed run; never after `remove` returned for this check. Returns
    /// whether the result left the check's streak under way (`RiseFall.isChanging`): it then runs next at its
    /// fastInterval, if it has one.
    let report: @Sendable (CheckResult) -> Bool
}

final class CheckScheduler: Sendable {
    /// Worker threads at most; started on demand, kept until `stop()`.
    static let defaultWorkerLimit = 8
    /// How soon after an exec run strays are looked for (a sweep reads /proc; this bounds its cost).
    static let sweepDelay: Int64 = 100_000_000

    let workerLimit: Int
    private let state = Mutex(State())
    private let thread: PollThread
    private let processes: CheckProcesses

    private enum Phase {
        /// Waiting for its due time.
        case waiting
        /// Due, in the queue for a worker.
        case queued
        /// Running on a worker; firing the signal interrupts it.
        case running(CancelSignal)
    }

    private struct Entry {
        let check: ScheduledCheck
        var pace: CheckPace
        var due: Int64
        var phase: Phase = .waiting
        /// Set by `remove` while the check runs: the worker drops the result and signals the remover.
        var removal: Removal?
    }

    private struct State {
        var entries: [Int: Entry] = [:]
        /// Due check ids, oldest first.
        var queue: [Int] = []
        var workers: [PollThread] = []
        var idleWorkers: [PollThread] = []
        /// The deadline the scheduler sleeps until; a worker wakes it for an earlier due time.
        var sleepingUntil: Int64?
        /// When the next sweep for stray processes is due; nil when none is needed.
        var sweepAt: Int64?
        var stopped = false
        /// Set by `paceForStop`: checks keep `CheckPace.stopping`, including checks added later.
        var stopping = false
    }

    init(workerLimit: Int = CheckScheduler.defaultWorkerLimit, processes: CheckProcesses = .shared)
        throws(RuntimeError)
    {
        self.workerLimit = max(1, workerLimit)
        self.processes = processes
        let box = WeakScheduler()
        // The loop holds the scheduler only for one step at a time, so dropping the last reference stops it.
        thread = try PollThread(name: "health-scheduler") { thread in
            while true {
                guard let step = box.value?.step() else {
                    guard thread.sleep(until: nil) else { return }
                    continue
                }
                guard thread.sleep(until: step) else { return }
            }
        }
        box.value = self
        thread.wake()
    }

    deinit { stop() }

    /// Starts checks: each runs first at once.
    func add(_ checks: [ScheduledCheck]) {
        guard !checks.isEmpty else { return }
        let now = monotonicNanos()
        state.withLock { state in
            guard !state.stopped else { return }
            for check in checks {
                let config = check.check.config
                let pace = state.stopping ? CheckPace.stopping(config) : CheckPace(config)
                state.entries[check.id] = Entry(check: check, pace: pace, due: now)
            }
        }
        thread.wake()
    }

    /// Stops checks: running ones are interrupted (an exec check's process group is killed and reaped).
    /// Returns once none of them runs any more and none will report again.
    func remove(ids: [Int]) {
        var waits: [Removal] = []
        state.withLock { state in
            let removed = Set(ids)
            for id in ids {
                guard let entry = state.entries[id] else { continue }
                if case .running(let cancel) = entry.phase {
                    let removal = Removal()
                    state.entries[id]?.removal = removal
                    waits.append(removal)
                    cancel.fire()
                } else {
                    state.entries[id] = nil
                }
            }
            state.queue.removeAll { removed.contains($0) }
        }
        for removal in waits { removal.wait() }
    }

    /// Runs these checks now (`anycastd recheck`): a waiting check is due at once and its grid restarts from
    /// now; a check that is queued or running already is left alone (its result is as fresh). Results count
    /// toward rise/fall like any other.
    func runNow(ids: [Int]) {
        let now = monotonicNanos()
        state.withLock { state in
            guard !state.stopped else { return }
            for id in ids {
                guard let entry = state.entries[id], case .waiting = entry.phase else { continue }
                state.entries[id]?.due = now
            }
        }
        thread.wake()
    }

    /// The agent is stopping with a GRACEFUL_SHUTDOWN phase: every check runs now (unless it is queued or
    /// running already) and from then on at `CheckPace.stopping`. There is no way back: the process exits.
    func paceForStop() {
        let now = monotonicNanos()
        state.withLock { state in
            guard !state.stopped else { return }
            state.stopping = true
            for (id, entry) in state.entries {
                state.entries[id]?.pace = CheckPace.stopping(entry.check.check.config)
                if case .waiting = entry.phase { state.entries[id]?.due = now }
            }
        }
        thread.wake()
    }

    /// Interrupts every running check and joins all threads. Idempotent; no report after it returns.
    func stop() {
        let workers = state.withLock { state -> [PollThread] in
            state.stopped = true
            for entry in state.entries.values {
                if case .running(let cancel) = entry.phase { cancel.fire() }
            }
            state.queue = []
            defer { state.workers = [] }
            state.idleWorkers = []
            return state.workers
        }
        thread.stop()
        for worker in workers { worker.stop() }
        state.withLock { $0.entries = [:] }
        // The interrupted runs' helpers outside their groups are strays now; a killed helper's own children
        // reach this process only once it is dead, hence a few rounds (at most about 200 ms).
        let giveUp = monotonicNanos() + 200_000_000
        while processes.sweep() && monotonicNanos() < giveUp {
            var none = pollfd()
            _ = poll(&none, 0, 5)
        }
    }

    /// Threads in use now (the scheduler and its workers), for tests and status.
    var threadCount: Int { state.withLock { $0.workers.count } + 1 }

    /// One turn of the scheduler's loop: queues what is due, hands it to workers (starting them on demand),
    /// sweeps strays when due, and returns when to look again (nil: only when woken).
    private func step() -> Int64? {
        while true {
            let now = monotonicNanos()
            var sweep = false
            let (deadline, toWake, toStart) = state.withLock { state -> (Int64?, [PollThread], Int) in
                var next: Int64? = nil
                for (id, entry) in state.entries {
                    guard case .waiting = entry.phase else { continue }
                    if entry.due <= now {
                        state.entries[id]?.phase = .queued
                        state.queue.append(id)
                    } else {
                        next = min(next ?? entry.due, entry.due)
                    }
                }
                if let sweepAt = state.sweepAt {
                    if sweepAt <= now {
                        state.sweepAt = nil
                        sweep = true
                    } else {
                        next = min(next ?? sweepAt, sweepAt)
                    }
                }
                state.sleepingUntil = next
                let wake = min(state.queue.count, state.idleWorkers.count)
                let toWake = Array(state.idleWorkers.suffix(wake))
                state.idleWorkers.removeLast(wake)
                let start = min(state.queue.count - wake, workerLimit - state.workers.count)
                return (next, toWake, max(0, start))
            }
            for worker in toWake { worker.wake() }
            for _ in 0..<toStart { startWorker() }
            guard sweep, processes.sweep() else { return deadline }
            // Strays were killed: reap them on a later turn.
            state.withLock { state in
                let at = monotonicNanos() + Self.sweepDelay
                state.sweepAt = min(state.sweepAt ?? at, at)
            }
        }
    }

    /// Adds a worker; if none can be had and there is no other, the queued runs fail with the reason (so it
    /// shows in status) and are scheduled again.
    private func startWorker() {
        let box = WeakScheduler()
        box.value = self
        do {
            let worker = try PollThread(name: "health-worker", stackBytes: 512 << 10) { thread in
                while true {
                    // Held strongly only while a run is taken, run and finished.
                    if box.value?.work(on: thread) != true {
                        guard thread.sleep(until: nil) else { return }
                    }
                    if thread.isStopping { return }
                }
            }
            let keep = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.workers.append(worker)
                return true
            }
            if !keep { worker.stop() }
        } catch {
            let failed = state.withLock { state -> [ScheduledCheck] in
                guard state.workers.isEmpty else { return [] }
                defer { state.queue = [] }
                return state.queue.compactMap { state.entries[$0]?.check }
            }
            for check in failed {
                finish(
                    check, CheckResult(success: false, detail: "cannot start check worker: \(error)", duration: .zero))
            }
        }
    }

    /// One turn of a worker: takes the oldest due run, runs it and reports. Returns false when there was
    /// none (the worker is then idle and sleeps until handed one).
    private func work(on thread: PollThread) -> Bool {
        let job = state.withLock { state -> (ScheduledCheck, CancelSignal)? in
            guard !state.stopped else { return nil }
            while !state.queue.isEmpty {
                let id = state.queue.removeFirst()
                guard let entry = state.entries[id], case .queued = entry.phase else { continue }
                let cancel = CancelSignal(thread: thread)
                state.entries[id]?.phase = .running(cancel)
                state.idleWorkers.removeAll { $0 === thread }
                return (entry.check, cancel)
            }
            if !state.idleWorkers.contains(where: { $0 === thread }) { state.idleWorkers.append(thread) }
            return nil
        }
        guard let (check, cancel) = job else { return false }
        let result = check.check.run(cancel: cancel)
        finish(check, cancel.isFired ? nil : result)
        return true
    }

    /// Ends a run: reports the result (unless cancelled or removed), sets the next due time (on the grid, or at
    /// the fast pace while the streak is under way), and wakes the scheduler if that is earlier than it sleeps.
    private func finish(_ check: ScheduledCheck, _ result: CheckResult?) {
        let reporting = state.withLock { state -> Bool in
            guard let entry = state.entries[check.id] else { return false }
            return entry.removal == nil && !state.stopped
        }
        var changing = false
        if reporting, let result { changing = check.report(result) }
        let wakeScheduler = state.withLock { state -> Bool in
            guard var entry = state.entries[check.id] else { return false }
            if let removal = entry.removal {
                state.entries[check.id] = nil
                removal.signal()
                return false
            }
            let now = monotonicNanos()
            entry.due = entry.pace.next(due: entry.due, now: now, changing: changing)
            entry.phase = .waiting
            state.entries[check.id] = entry
            var earlier = state.sleepingUntil.map { entry.due < $0 } ?? true
            if case .exec = check.check.config.kind, processes.isAdopting, state.sweepAt == nil {
                state.sweepAt = now + Self.sweepDelay
                earlier = true
            }
            if earlier { state.sleepingUntil = min(state.sleepingUntil ?? entry.due, entry.due) }
            return earlier
        }
        if wakeScheduler { thread.wake() }
    }

    /// Whether the configured checks can all run at their interval with `workers` workers: each check keeps
    /// a worker busy for up to timeout/interval of the time, so the sum of those fractions is the number of
    /// workers it may need. Returns a sentence for `anycastd check` when that exceeds the pool, else nil.
    static func capacityWarning(checks: [CheckConfig], workers: Int = defaultWorkerLimit) -> String? {
        let load = checks.reduce(0.0) { sum, check in
            let interval = Double(max(check.interval.nanoseconds, 1_000_000))
            return sum + Double(max(check.timeout.nanoseconds, 0)) / interval
        }
        guard load > Double(workers) else { return nil }
        let needed = Int(load.rounded(.up))
        return
            "\(checks.count) checks may need up to \(needed) runs at once (sum of timeout/interval) but the agent "
            + "runs at most \(workers): checks that hang until their timeout will start late and be skipped; "
            + "use longer intervals or shorter timeouts"
    }
}

/// A remover's wait for a running check to end: a standalone cancel signal (a pipe) used as a one-shot
/// event; if no pipe could be had it is polled every 100 ms.
private final class Removal: Sendable {
    private let event = CancelSignal()

    func signal() { event.fire() }

    func wait() {
        while !event.isFired { _ = event.sleep(until: monotonicNanos() + 100_000_000) }
    }
}

/// Lets a thread's body reach the scheduler without keeping it alive.
private final class WeakScheduler: Sendable {
    private struct Reference { weak var value: CheckScheduler? }
    private let reference = Mutex(Reference())
    var value: CheckScheduler? {
        get { reference.withLock { $0.value } }
        set { reference.withLock { $0.value = newValue } }
    }
}
