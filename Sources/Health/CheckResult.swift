// The outcome of one run of one check, as every check kind reports it to HealthMonitor and RiseFall.

/// One check run: whether it passed, a one-line reason for the log and status, and how long it took.
public struct CheckResult: Sendable, Equatable, CustomStringConvertible {
    /// True when the check passed (answer accepted, connected, exit 0).
    public var success: Bool
    /// "NOERROR, 1 answer", "connection refused", "exit 1: disk full", "no answer within 500 ms".
    public var detail: String
    /// Wall time of the run, from start to verdict (a timeout shows as about the timeout).
    public var duration: Duration

    /// A result as a check reports it.
    public init(success: Bool, detail: String, duration: Duration) {
        self.success = success
        self.detail = detail
        self.duration = duration
    }

    /// "ok: NOERROR, 1 answer (0.3 ms)", for logs.
    public var description: String { "\(success ? "ok" : "failed"): \(detail) (\(duration.humanText))" }
}
