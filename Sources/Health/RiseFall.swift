// The rise/fall state machine of one health check: a pure value type fed one result at a time.
// HealthMonitor keeps one per running check; it turns flapping results into clean up/down transitions.

/// Whether a check (or a service) is currently considered healthy.
public enum HealthState: String, Sendable, Equatable {
    /// Enough successes in a row were seen; the prefix may be announced.
    case up
    /// The initial state, and the state after enough failures in a row.
    case down
}

/// A change of state caused by one recorded result.
public struct Transition: Sendable, Equatable, CustomStringConvertible {
    /// The state before the result.
    public var from: HealthState
    /// The state after it.
    public var to: HealthState

    /// A transition between two states.
    public init(from: HealthState, to: HealthState) {
        self.from = from
        self.to = to
    }

    /// "down -> up".
    public var description: String { "\(from) -> \(to)" }
}

/// Debounces check results: a down check goes up only after `rise` successes in a row, an up check goes
/// down only after `fall` failures in a row. Starts down, so nothing is announced before the service has
/// proven itself healthy.
public struct RiseFall: Sendable, Equatable {
    /// Successes in a row needed to go from down to up (at least 1).
    public let rise: Int
    /// Failures in a row needed to go from up to down (at least 1).
    public let fall: Int
    /// The debounced state; `.down` until `rise` successes in a row.
    public private(set) var state: HealthState = .down
    /// Successes since the last failure; keeps counting while up.
    public private(set) var successesInRow = 0
    /// Failures since the last success; keeps counting while down.
    public private(set) var failuresInRow = 0
    /// The text of the last result ("NOERROR, 1 answer", "exit 1: no such file"); nil before the first.
    public private(set) var lastResult: String?

    /// Values below 1 are treated as 1 (the config reader rejects them; this keeps the machine total).
    public init(rise: Int, fall: Int) {
        self.rise = max(1, rise)
        self.fall = max(1, fall)
    }

    /// `state == .up`.
    public var isUp: Bool { state == .up }

    /// True while a streak toward the other state is under way: the last result was a failure while up (on
    /// the way to `fall`) or a success while down (on the way to `rise`). A check with a `fastInterval` runs
    /// at that pace while this holds (`CheckPace`).
    public var isChanging: Bool { state == .up ? failuresInRow > 0 : successesInRow > 0 }

    /// Records one check result and returns the transition it caused, if any. `fallAtOnce` takes an up check
    /// down at its first failure (the agent is stopping: there is nothing left to debounce).
    @discardableResult
    public mutating func record(success: Bool, detail: String? = nil, fallAtOnce: Bool = false) -> Transition? {
        lastResult = detail
        if success {
            successesInRow += 1
            failuresInRow = 0
            if state == .down && successesInRow >= rise {
                state = .up
                return Transition(from: .down, to: .up)
            }
        } else {
            failuresInRow += 1
            successesInRow = 0
            if state == .up && (failuresInRow >= fall || fallAtOnce) {
                state = .down
                return Transition(from: .up, to: .down)
            }
        }
        return nil
    }
}
