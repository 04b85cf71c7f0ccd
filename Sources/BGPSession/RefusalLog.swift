// Decides which refused connections get a log line: at most one per source address per interval, with
// the number refused since the last line, so a flood of connections from anywhere costs an accept and a
// close each, not a log line each. Remembers a bounded number of addresses; beyond that all others share
// one line per interval. A value type on an injected clock; SpeakerCore owns one.
import NetAddress

struct RefusalLog {
    /// What to log for one refused connection.
    enum Verdict: Equatable {
        /// Log it; `suppressed` more from this source were refused since the last line.
        case log(suppressed: Int)
        /// Stay quiet (counted for the next line).
        case quiet
    }

    let interval: Duration
    let capacity: Int
    private var sources: [IPAddress: (last: Duration, suppressed: Int)] = [:]
    /// For sources beyond `capacity`: one shared entry.
    private var overflow: (last: Duration, suppressed: Int)?

    init(interval: Duration = .seconds(10), capacity: Int = 1024) {
        self.interval = interval
        self.capacity = capacity
    }

    /// The addresses remembered now (at most `capacity`).
    var count: Int { sources.count }

    mutating func refused(_ source: IPAddress, now: Duration) -> Verdict {
        if var entry = sources[source] {
            if now - entry.last < interval {
                entry.suppressed += 1
                sources[source] = entry
                return .quiet
            }
            sources[source] = (now, 0)
            return .log(suppressed: entry.suppressed)
        }
        if sources.count >= capacity { sources = sources.filter { now - $0.value.last < interval } }
        if sources.count < capacity {
            sources[source] = (now, 0)
            return .log(suppressed: 0)
        }
        if let shared = overflow, now - shared.last < interval {
            overflow = (shared.last, shared.suppressed + 1)
            return .quiet
        }
        let suppressed = overflow?.suppressed ?? 0
        overflow = (now, 0)
        return .log(suppressed: suppressed)
    }
}
