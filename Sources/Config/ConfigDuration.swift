// Durations as the desired-state file writes them: "500ms", "2s", "1.5s", "10m", "1h". Used for hold
// times, check intervals and the drain delay; the canonical renderer prints them back the same way.

/// Parses `<number><unit>` with unit `ms`, `s`, `m` or `h`, such as `"90s"` or `"1.5s"`.
///
/// The number is decimal digits with an optional fraction; the result must be a whole number of
/// milliseconds (`"1.5s"` is fine, `"0.5ms"` is not). A unit is always required, even for zero (`"0s"`).
/// No sign, no spaces, no compound forms (`"1m30s"`). Returns nil otherwise or when the value exceeds
/// about 292 million years.
public func parseDuration(_ text: String) -> Duration? {
    guard let milliseconds = parseDurationMilliseconds(text) else { return nil }
    return .milliseconds(milliseconds)
}

/// Renders a duration in the largest unit that shows it exactly: `"250ms"`, `"2s"`, `"90s"`, `"5m"`, `"1h"`.
/// Whole milliseconds always round-trip through `parseDuration`; a finer duration is shown as a fraction
/// of a millisecond (`"0.25ms"`) for display only.
public func formatDuration(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    let nanoseconds = attoseconds / 1_000_000_000
    if nanoseconds % 1_000_000 != 0 || attoseconds % 1_000_000_000 != 0 {
        let totalNanoseconds = Double(seconds) * 1e9 + Double(nanoseconds)
        return "\(totalNanoseconds / 1e6)ms"
    }
    let milliseconds = seconds * 1000 + nanoseconds / 1_000_000
    if milliseconds != 0, milliseconds % 3_600_000 == 0 { return "\(milliseconds / 3_600_000)h" }
    if milliseconds != 0, milliseconds % 60_000 == 0 { return "\(milliseconds / 60_000)m" }
    if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
    return "\(milliseconds)ms"
}

/// The whole number of milliseconds in a duration, or nil when it has a finer part.
func wholeMilliseconds(_ duration: Duration) -> Int64? {
    let (seconds, attoseconds) = duration.components
    guard attoseconds % 1_000_000_000_000_000 == 0 else { return nil }
    let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1000)
    guard !overflow else { return nil }
    return scaled + attoseconds / 1_000_000_000_000_000
}

func parseDurationMilliseconds(_ text: String) -> Int64? {
    let units: [(suffix: String, milliseconds: Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
    // "ms" is tried before "s" and "m" so that "500ms" is not read as "500m" + "s".
    guard let unit = units.first(where: { text.hasSuffix($0.suffix) }) else { return nil }
    let number = text.dropLast(unit.suffix.count)
    let parts = number.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    let digits: (Substring) -> Bool = { !$0.isEmpty && $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }
    guard digits(parts[0]), parts.count == 1 || digits(parts[1]) else { return nil }
    // Work in units of 10^-fractionDigits of the unit, then scale to milliseconds exactly.
    let fraction = parts.count == 2 ? parts[1] : ""
    guard parts[0].count + fraction.count <= 18 else { return nil }
    guard let mantissa = Int64(parts[0] + fraction) else { return nil }
    var divisor: Int64 = 1
    for _ in 0..<fraction.count { divisor *= 10 }
    let (product, overflow) = mantissa.multipliedReportingOverflow(by: unit.milliseconds)
    guard !overflow, product % divisor == 0 else { return nil }
    let milliseconds = product / divisor
    guard milliseconds <= Int64.max / 1_000_000 else { return nil }
    return milliseconds
}
