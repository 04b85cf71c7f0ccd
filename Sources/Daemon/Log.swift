import Config
import Logging
import NIOCore
import NIOPosix
import Synchronization

// One concise line per event on stderr. Under systemd (JOURNAL_STREAM set) each line carries a
// syslog-style "<N>" priority prefix, which journald turns into the entry's level; timestamps come from
// journald. Elsewhere the level is written as a word.
//
// Messages often carry outside input (service names from the control socket, a peer's shutdown message,
// configuration text): control characters in message and metadata are escaped, so no input can forge a
// line. Repeated lines are rate-limited (`LogRateLimiter`: 10 per message per 10 s, errors 100, then one
// "N more lines like this suppressed" line); critical lines are always written.
#if canImport(Glibc)
    import Glibc
#endif

/// The limiter all handlers of the process share, and the timer that writes summaries when a window ends.
final class SharedLogLimiter: Sendable {
    private struct State {
        var limiter: LogRateLimiter
        var flushScheduled = false
    }
    private let state: Mutex<State>
    private let write: @Sendable (String) -> Void
    /// Where summaries are scheduled; asked only when a line is first suppressed.
    private let eventLoop: @Sendable () -> any EventLoop

    init(
        limiter: LogRateLimiter,
        eventLoop: @escaping @Sendable () -> any EventLoop = { MultiThreadedEventLoopGroup.singleton.any() },
        write: @escaping @Sendable (String) -> Void
    ) {
        self.state = Mutex(State(limiter: limiter))
        self.eventLoop = eventLoop
        self.write = write
    }

    /// Writes `line` (made by `render` from the message) unless its key is over its rate; writes due summaries first.
    func log(message: String, level: Logger.Level, render: @escaping @Sendable (String) -> String) {
        let now = Int64(NIODeadline.now().uptimeNanoseconds)
        let (summaries, admitted, schedule) = state.withLock { state in
            let summaries = state.limiter.expire(now: now)
            let burst = level >= .error ? state.limiter.burst * 10 : state.limiter.burst
            let admitted = level == .critical || state.limiter.admit(message, now: now, burst: burst)
            var schedule: Int64? = nil
            if !admitted, !state.flushScheduled, let due = state.limiter.nextSummaryDue {
                state.flushScheduled = true
                schedule = due
            }
            return (summaries, admitted, schedule)
        }
        for summary in summaries { write(render(summary.line)) }
        if admitted { write(render(message)) }
        if let schedule { scheduleFlush(at: schedule, render: render) }
    }

    private func scheduleFlush(at due: Int64, render: @escaping @Sendable (String) -> String) {
        eventLoop().scheduleTask(deadline: .uptimeNanoseconds(UInt64(max(due, 0)))) {
            let now = Int64(NIODeadline.now().uptimeNanoseconds)
            let (summaries, next) = self.state.withLock { state in
                let summaries = state.limiter.expire(now: now)
                let next = state.limiter.nextSummaryDue
                state.flushScheduled = next != nil
                return (summaries, next)
            }
            for summary in summaries { self.write(render(summary.line)) }
            if let next { self.scheduleFlush(at: next, render: render) }
        }
    }
}

/// A swift-log handler writing single lines to standard error.
public struct StderrLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let journal: Bool
    private let limiter: SharedLogLimiter?

    /// `label` is the logger's name; one line per event needs no name, so it is not printed.
    public init(label: String, level: Logger.Level = .info) {
        self.init(label: label, level: level, limiter: nil)
    }

    init(label: String, level: Logger.Level, limiter: SharedLogLimiter?) {
        self.logLevel = level
        self.journal = getenv("JOURNAL_STREAM") != nil
        self.limiter = limiter
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let context =
            merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: " ")
        let prefix = journal ? "<\(Self.syslogPriority(event.level))>" : "\(event.level): "
        let render: @Sendable (String) -> String = { message in prefix + "\(message)\(context)".escapedForLog + "\n" }
        if let limiter {
            limiter.log(message: "\(event.message)", level: event.level, render: render)
        } else {
            Self.writeLine(render("\(event.message)"))
        }
    }

    /// One write(2) per line keeps lines from different threads whole.
    static func writeLine(_ line: String) {
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }

    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// Sets this handler up once for the whole process, with one rate limiter shared by every logger.
    public static func bootstrap(level: Logger.Level) {
        let limiter = SharedLogLimiter(limiter: LogRateLimiter()) { writeLine($0) }
        LoggingSystem.bootstrap { StderrLogHandler(label: $0, level: level, limiter: limiter) }
    }
}
