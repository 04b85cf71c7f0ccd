// Rate limiting of repeated log lines, as a value type on a clock given by the caller (so it is tested on a
// fake one): lines with the same key (the message with its numbers masked, so "refused 10.0.0.7:51234"
// and "refused 10.0.0.9:40000" are one key) get at most `burst` lines per `interval`; the rest are
// counted, and when the interval ends one summary line says how many were suppressed. A flood of
// refused connections thus costs a few lines, not one per connection.

/// Decides which log lines are written; pure, no clock or I/O of its own.
public struct LogRateLimiter: Sendable {
    /// Lines suppressed under one key during one interval.
    public struct Summary: Sendable, Equatable {
        /// The last suppressed message (with its numbers).
        public var sample: String
        public var suppressed: Int
        /// The key's interval, in nanoseconds.
        public var interval: Int64

        /// The line that reports them.
        public var line: String {
            let seconds = interval % 1_000_000_000 == 0 ? "\(interval / 1_000_000_000) s" : "\(interval / 1_000_000) ms"
            return "\(suppressed) more line\(suppressed == 1 ? "" : "s") like this suppressed in \(seconds): \(sample)"
        }
    }

    private struct Window: Sendable {
        var ends: Int64
        var written: Int
        var suppressed: Int
        var sample: String
    }

    /// Lines written per key and interval.
    public let burst: Int
    /// Nanoseconds.
    public let interval: Int64
    /// Keys tracked at once; lines with further keys share one window (so distinct messages cannot grow it).
    public let maxKeys: Int
    private var windows: [String: Window] = [:]
    static let overflowKey = "\u{0}other"

    public init(burst: Int = 10, interval: Int64 = 10_000_000_000, maxKeys: Int = 1024) {
        self.burst = burst
        self.interval = interval
        self.maxKeys = maxKeys
    }

    /// The key of a message: digits masked, so lines that differ only in addresses, ports or counts match.
    public static func key(of message: String) -> String {
        var key = ""
        var inNumber = false
        for scalar in message.unicodeScalars {
            if ("0"..."9").contains(scalar) {
                if !inNumber { key.append("#") }
                inNumber = true
            } else {
                key.unicodeScalars.append(scalar)
                inNumber = false
            }
        }
        return key
    }

    /// True when `message` is to be written now; otherwise it is counted for its key's summary. `burst`
    /// overrides the limiter's own for this line (errors get more room: a configuration's diagnostics often
    /// differ only in line numbers). Windows that ended must have been taken with `expire` before.
    public mutating func admit(_ message: String, now: Int64, burst: Int? = nil) -> Bool {
        let burst = burst ?? self.burst
        var key = Self.key(of: message)
        if windows[key] == nil, windows.count >= maxKeys { key = Self.overflowKey }
        if let window = windows[key], window.ends > now {
            if window.written < burst {
                windows[key]!.written += 1
                return true
            }
            windows[key]!.suppressed += 1
            windows[key]!.sample = message
            return false
        }
        windows[key] = Window(
            ends: now + interval, written: burst > 0 ? 1 : 0, suppressed: burst > 0 ? 0 : 1, sample: message)
        return burst > 0
    }

    /// Ends the windows whose interval is over; returns the summaries of those that suppressed lines, oldest first.
    public mutating func expire(now: Int64) -> [Summary] {
        let ended = windows.filter { $0.value.ends <= now }
        guard !ended.isEmpty else { return [] }
        for key in ended.keys { windows[key] = nil }
        return ended.values.filter { $0.suppressed > 0 }.sorted { $0.ends < $1.ends }.map {
            Summary(sample: $0.sample, suppressed: $0.suppressed, interval: interval)
        }
    }

    /// When the next window that suppressed lines ends (nil: no summary pending).
    public var nextSummaryDue: Int64? {
        windows.values.filter { $0.suppressed > 0 }.map(\.ends).min()
    }
}
