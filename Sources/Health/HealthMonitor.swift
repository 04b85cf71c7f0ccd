// Runs every service's checks on their intervals (one CheckScheduler: a scheduler thread and a small pool of
// workers, however many checks), feeds each result to the check's RiseFall, and derives the service state:
// up when all its `withdraw` checks are up (or it has none), degraded while a `degrade` check is down.
// The Daemon actor consumes `events` and re-evaluates the announcement rule on each one.
import Config
import NetAddress
import Runtime
import Synchronization

/// The state of one running check, as shown by `anycastd status`.
public struct CheckStatus: Sendable, Equatable {
    /// What the check does: "dns 192.0.2.53:53 id.lab. TXT", "tcp 127.0.0.1:80", "exec /bin/check".
    public var description: String
    /// The check's RiseFall state.
    public var isUp: Bool
    /// Consecutive successes (0 after a failure).
    public var successesInRow: Int
    /// Consecutive failures (0 after a success).
    public var failuresInRow: Int
    /// The reason text of the last run; nil until the check has run once.
    public var lastResult: String?
    /// How long the last run took; nil until the check has run once.
    public var lastDuration: Duration?
    /// Runs since the check started (or was last changed), and how many of them failed: for metrics.
    public var runs: Int
    /// Failed runs among `runs`.
    public var failures: Int
    /// The reason text of the most recent failed run, kept after later successes (why did it flap?).
    public var lastFailure: String?
    /// Runs that took at most each of `durationBucketBounds`, cumulative (a Prometheus histogram's buckets;
    /// `runs` is the +Inf bucket).
    public var durationCounts: [Int]
    /// The time all `runs` took together.
    public var durationSum: Duration

    /// The upper bounds of the run-time histogram's buckets.
    public static let durationBucketBounds: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
        .seconds(10),
    ]

    /// A status as `snapshot()` and `events` report it; public for tests and renderers.
    public init(
        description: String, isUp: Bool, successesInRow: Int, failuresInRow: Int, lastResult: String?,
        lastDuration: Duration?, runs: Int = 0, failures: Int = 0, lastFailure: String? = nil,
        durationCounts: [Int]? = nil, durationSum: Duration = .zero
    ) {
        self.description = description
        self.isUp = isUp
        self.successesInRow = successesInRow
        self.failuresInRow = failuresInRow
        self.lastResult = lastResult
        self.lastDuration = lastDuration
        self.runs = runs
        self.failures = failures
        self.lastFailure = lastFailure
        self.durationCounts = durationCounts ?? Array(repeating: 0, count: Self.durationBucketBounds.count)
        self.durationSum = durationSum
    }
}

/// The health of one service: up when every one of its `withdraw` checks is up (a service without checks is
/// up), degraded while one of its `degrade` checks is down.
public struct ServiceHealth: Sendable, Equatable {
    /// The service name from the configuration.
    public var name: String
    /// True when all checks with `onFailure: "withdraw"` are up; what the announcement rule reads.
    public var isUp: Bool
    /// The descriptions of the `onFailure: "degrade"` checks that are down, in configuration order; empty for
    /// a service without such checks.
    public var degradedBy: [String]
    /// In configuration order.
    public var checks: [CheckStatus]
    /// True once the checks reached a first verdict: up, or down by `fall` failures in a row of one check
    /// (a service starts down before any result; that is no verdict yet). Graceful Restart waits for it.
    public var verdictKnown: Bool

    /// A service state as `snapshot()` and `events` report it.
    public init(
        name: String, isUp: Bool, degradedBy: [String] = [], checks: [CheckStatus], verdictKnown: Bool? = nil
    ) {
        self.name = name
        self.isUp = isUp
        self.degradedBy = degradedBy
        self.checks = checks
        self.verdictKnown = verdictKnown ?? isUp
    }
}

/// Runs the health checks of all services and reports when a service goes up or down.
///
/// Each check runs first at once, then every `interval` on a fixed grid (no drift); a run never overlaps
/// the previous one (ticks missed by a slow run are skipped). A check with a `fastInterval` runs at that pace
/// while its streak toward `fall` or `rise` is under way (`CheckPace`). Checks start down, so a service with
/// checks is announced only after `rise` successes of each.
///
/// `events` carries one `ServiceHealth` when a service first appears (its initial state: down, or up when
/// it has no checks), one when a service that stays down reaches its first verdict (`verdictKnown`), and
/// then exactly one each time its up/down state or its set of failing degrade checks changes. A consumer that keeps the
/// last event per service therefore always holds the current state. Changes of one check that do not
/// change the service state are visible in `snapshot()` only. Removed services get no event.
public final class HealthMonitor: Sendable {
    /// The stream of service state changes; iterate it from one consumer. Finishes after `stop()`.
    public let events: AsyncStream<ServiceHealth>
    private let continuation: AsyncStream<ServiceHealth>.Continuation
    private let state = Mutex(State())
    private let scheduler: Result<CheckScheduler, RuntimeError>

    private struct RunningCheck {
        let id: Int
        let check: HealthCheck
        var riseFall: RiseFall
        var lastDuration: Duration?
        var runs = 0
        var failures = 0
        var lastFailure: String?
        var durationCounts = Array(repeating: 0, count: CheckStatus.durationBucketBounds.count)
        var durationSum = Duration.zero

        var status: CheckStatus {
            CheckStatus(
                description: check.description, isUp: riseFall.isUp, successesInRow: riseFall.successesInRow,
                failuresInRow: riseFall.failuresInRow, lastResult: riseFall.lastResult, lastDuration: lastDuration,
                runs: runs, failures: failures, lastFailure: lastFailure, durationCounts: durationCounts,
                durationSum: durationSum)
        }
    }

    private struct Service {
        let name: String
        var checks: [RunningCheck]
        /// The state last sent on `events`.
        var reported: Verdict
        /// Whether `events` has carried the first verdict (see `ServiceHealth.verdictKnown`).
        var reportedVerdict = false

        /// Whether the withdraw checks are up, and which degrade checks are down.
        struct Verdict: Equatable {
            var up: Bool
            var degradedBy: [String]
        }

        var verdict: Verdict {
            Verdict(
                up: checks.allSatisfy { $0.check.config.onFailure == .degrade || $0.riseFall.isUp },
                degradedBy: checks.filter { $0.check.config.onFailure == .degrade && !$0.riseFall.isUp }.map(
                    \.check.description))
        }
        /// Up, or down by `fall` failures in a row of one withdraw check (degrade checks never withdraw).
        var verdictKnown: Bool {
            verdict.up
                || checks.contains {
                    $0.check.config.onFailure != .degrade && !$0.riseFall.isUp
                        && $0.riseFall.failuresInRow >= $0.riseFall.fall
                }
        }
        var health: ServiceHealth {
            let verdict = verdict
            return ServiceHealth(
                name: name, isUp: verdict.up, degradedBy: verdict.degradedBy, checks: checks.map(\.status),
                verdictKnown: verdictKnown)
        }
    }

    private struct State {
        var services: [Service] = []
        /// Where each check id is in `services`, so a result finds its check without a scan.
        var index: [Int: (service: Int, check: Int)] = [:]
        var nextID = 0
        var stopped = false
        /// Set by `beginStop`: the first failure takes an up check down.
        var stopping = false
    }

    /// Creates an idle monitor (its scheduler thread waits); checks start with the first `update(services:)`.
    /// `workers` bounds how many checks run at the same time.
    public init(workers: Int = HealthMonitor.defaultWorkers) {
        (events, continuation) = AsyncStream.makeStream(of: ServiceHealth.self, bufferingPolicy: .unbounded)
        do throws(RuntimeError) {
            scheduler = .success(try CheckScheduler(workerLimit: workers))
        } catch {
            scheduler = .failure(error)
        }
    }

    /// How many checks run at the same time at most (the worker threads of the scheduler).
    public static let defaultWorkers = CheckScheduler.defaultWorkerLimit

    /// Makes this process a child subreaper, so that helpers an exec check leaves behind in another process
    /// group or session (setsid, double fork) are re-parented to it and killed and reaped after the check
    /// ends. Call once, early, in the agent: it assumes the process has no children other than checks
    /// (`ownsAllChildren`). Returns the errno text on failure (then only the process group is killed).
    public static func adoptCheckOrphans(ownsAllChildren: Bool = true) -> String? {
        CheckProcesses.shared.adopt(ownsAllChildren: ownsAllChildren).map(errorText)
    }

    /// A sentence for `anycastd check` when the checks cannot all run at their interval with the workers
    /// (the sum over checks of timeout/interval exceeds them); nil when they can.
    public static func capacityWarning(checks: [CheckConfig], workers: Int = defaultWorkers) -> String? {
        CheckScheduler.capacityWarning(checks: checks, workers: workers)
    }

    deinit { stop() }

    /// Sets the services to check (at start and on every reload); names must be unique (the config reader
    /// ensures it). A check that is unchanged (same config, same effective DNS server) keeps running with its
    /// state and counters; changed and new checks start down and run at once; checks and services no longer
    /// listed are stopped (an exec check's process group is killed). Returns after removed checks stopped.
    public func update(services: [(name: String, checks: [CheckConfig], defaultDNSServer: IPAddress?)]) {
        var toStart: [ScheduledCheck] = []
        var toStop: [Int] = []
        state.withLock { state in
            guard !state.stopped else { return }
            var previous: [String: Service] = [:]
            for service in state.services { previous[service.name] = service }
            var updated: [Service] = []
            for spec in services {
                let old = previous.removeValue(forKey: spec.name)
                var pool = old?.checks ?? []
                var checks: [RunningCheck] = []
                for config in spec.checks {
                    let check = HealthCheck(config: config, defaultDNSServer: spec.defaultDNSServer)
                    if let index = pool.firstIndex(where: {
                        $0.check.config == config && $0.check.dnsServer == check.dnsServer
                    }) {
                        checks.append(pool.remove(at: index))
                        continue
                    }
                    let id = state.nextID
                    state.nextID += 1
                    toStart.append(
                        ScheduledCheck(id: id, check: check) { [weak self] result in
                            self?.record(id: id, result: result) ?? false
                        })
                    checks.append(
                        RunningCheck(id: id, check: check, riseFall: RiseFall(rise: config.rise, fall: config.fall)))
                }
                toStop += pool.map(\.id)
                var service = Service(name: spec.name, checks: checks, reported: .init(up: false, degradedBy: []))
                service.reported = service.verdict
                // A first verdict is once per service: a reload that restarts its checks does not take it back.
                service.reportedVerdict = (old?.reportedVerdict ?? false) || service.verdictKnown
                if old == nil || old?.reported != service.reported { continuation.yield(service.health) }
                updated.append(service)
            }
            toStop += previous.values.flatMap { $0.checks.map(\.id) }
            state.services = updated
            state.index = [:]
            for (serviceIndex, service) in updated.enumerated() {
                for (checkIndex, check) in service.checks.enumerated() {
                    state.index[check.id] = (serviceIndex, checkIndex)
                }
            }
        }
        switch scheduler {
        case .success(let scheduler):
            scheduler.remove(ids: toStop)
            scheduler.add(toStart)
        case .failure(let error):
            // No thread for checks: each reports the reason once, so it shows in status, and stays down.
            for check in toStart {
                record(
                    id: check.id,
                    result: CheckResult(success: false, detail: "cannot run checks: \(error)", duration: .zero))
            }
        }
    }

    /// Runs the checks of these services now (`anycastd recheck`); their results count toward rise/fall as
    /// usual. Returns how many checks were asked to run.
    @discardableResult
    public func recheck(services names: Set<String>) -> Int {
        let ids = state.withLock { state in
            state.services.filter { names.contains($0.name) }.flatMap { $0.checks.map(\.id) }
        }
        if case .success(let scheduler) = scheduler { scheduler.runNow(ids: ids) }
        return ids.count
    }

    /// The agent is stopping with a GRACEFUL_SHUTDOWN phase (the service may be going down with it): every
    /// check runs now and then at `CheckPace.stopping` (its fastInterval, or 10 ms), and its first failure
    /// takes it down (no `fall` streak), so the service's prefixes are withdrawn at once. Returns how many
    /// checks there are.
    @discardableResult
    public func beginStop() -> Int {
        let count = state.withLock { state -> Int in
            state.stopping = true
            return state.services.reduce(0) { $0 + $1.checks.count }
        }
        if case .success(let scheduler) = scheduler { scheduler.paceForStop() }
        return count
    }

    /// The current state of every service, in the order last given to `update`.
    public func snapshot() -> [ServiceHealth] {
        state.withLock { $0.services.map(\.health) }
    }

    /// Stops every check (killing running exec checks), waits for the scheduler's threads and finishes
    /// `events`. The last states stay readable through `snapshot()`. Idempotent.
    public func stop() {
        let first = state.withLock { state -> Bool in
            defer { state.stopped = true }
            return !state.stopped
        }
        guard first else { return }
        if case .success(let scheduler) = scheduler { scheduler.stop() }
        continuation.finish()
    }

    /// Records one result; returns whether the check's streak is under way (it then runs at its fastInterval).
    @discardableResult
    private func record(id: Int, result: CheckResult) -> Bool {
        state.withLock { state in
            guard !state.stopped, let (serviceIndex, checkIndex) = state.index[id] else { return false }
            state.services[serviceIndex].checks[checkIndex].riseFall.record(
                success: result.success, detail: result.detail, fallAtOnce: state.stopping)
            state.services[serviceIndex].checks[checkIndex].lastDuration = result.duration
            state.services[serviceIndex].checks[checkIndex].runs += 1
            state.services[serviceIndex].checks[checkIndex].durationSum += result.duration
            for (bucket, bound) in CheckStatus.durationBucketBounds.enumerated() where result.duration <= bound {
                state.services[serviceIndex].checks[checkIndex].durationCounts[bucket] += 1
            }
            if !result.success {
                state.services[serviceIndex].checks[checkIndex].failures += 1
                state.services[serviceIndex].checks[checkIndex].lastFailure = result.detail
            }
            let service = state.services[serviceIndex]
            // The first verdict is reported once even when it does not change the state (down stays down); any
            // change of state is a verdict too.
            let verdict = service.verdict
            if verdict != service.reported || (service.verdictKnown && !service.reportedVerdict) {
                state.services[serviceIndex].reported = verdict
                state.services[serviceIndex].reportedVerdict = true
                continuation.yield(service.health)
            }
            return service.checks[checkIndex].riseFall.isChanging
        }
    }
}
