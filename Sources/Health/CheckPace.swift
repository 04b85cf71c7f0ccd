// When a check runs next, as a pure value on any clock (monotonic nanoseconds in, an instant out): the one
// decision CheckScheduler takes after every run, kept apart so it can be tested on a fake clock.
//
// A settled check runs on a fixed grid of `interval` (no drift; ticks missed by a slow run are skipped). With
// a `fastInterval`, a check whose streak is under way (a failure while up, a success while down: see
// `RiseFall.isChanging`) runs again `fastInterval` after its last run was due, or at once if that run took
// longer, until the streak reaches `fall` (or `rise`) or breaks; then it is back on its interval. Runs of one
// check never overlap, so a hung server that makes every run wait for its timeout is detected within
// interval + timeout + (fall − 1) × max(fastInterval, timeout); with timeout ≤ fastInterval that is
// fastInterval × (fall − 1) + interval + timeout. Without `fastInterval` nothing changes: interval × fall +
// timeout.
import Config

/// The pace of one check: its interval, and the faster pace it keeps while its streak is under way.
public struct CheckPace: Sendable, Equatable {
    /// Nanoseconds between runs of a settled check (at least 1 ms).
    public let interval: Int64
    /// Nanoseconds between runs while a streak is under way; nil keeps the interval throughout.
    public let fastInterval: Int64?

    /// Values below 1 ms are taken as 1 ms (the config reader rejects them; this keeps the pace total).
    public init(interval: Duration, fastInterval: Duration? = nil) {
        self.interval = max(interval.nanoseconds, 1_000_000)
        self.fastInterval = fastInterval.map { max($0.nanoseconds, 1_000_000) }
    }

    /// The pace a configured check keeps.
    public init(_ config: CheckConfig) {
        self.init(interval: config.interval, fastInterval: config.fastInterval)
    }

    /// The pace of a check while the agent stops with a GRACEFUL_SHUTDOWN phase: its `fastInterval`, or
    /// `stopInterval` when it has none, and never slower than its interval. The phase lasts the drain delay;
    /// a service that goes away during it (stopped with the agent) is withdrawn at its first failed run.
    public static func stopping(_ config: CheckConfig) -> CheckPace {
        let fast = min(config.fastInterval ?? stopInterval, config.interval)
        return CheckPace(interval: fast)
    }

    /// How often a check without a `fastInterval` runs during a stop.
    public static let stopInterval = Duration.milliseconds(10)

    /// When the run after one that was due at `due` and finished at `now` is due; `changing` when the result
    /// left the check's streak under way (`RiseFall.isChanging`). Never earlier than `now`.
    public func next(due: Int64, now: Int64, changing: Bool) -> Int64 {
        if changing, let fastInterval {
            return max(due + fastInterval, now)
        }
        var next = due + interval
        if next <= now { next += ((now - next) / interval + 1) * interval }
        return next
    }
}
