import Foundation
import Logging
import Testing

@testable import Daemon

@Suite struct LogRateLimiterTests {
    static let second: Int64 = 1_000_000_000

    @Test func aBurstPerKeyThenOneSummaryWhenTheIntervalEnds() {
        var limiter = LogRateLimiter(burst: 3, interval: 10 * Self.second)
        var written = 0
        for index in 0..<1000 {
            // Numbers are masked: these are one key although every address and port differs.
            let now = Int64(index) * 1_000_000
            if limiter.admit("metrics: refused a connection from 10.0.\(index % 250).1:\(40000 + index)", now: now) {
                written += 1
            }
            let expired1 = limiter.expire(now: now)
            #expect(expired1 == [])
        }
        #expect(written == 3)
        #expect(limiter.nextSummaryDue == 10 * Self.second)
        let expired2 = limiter.expire(now: 10 * Self.second - 1)
        #expect(expired2 == [])
        let summaries = limiter.expire(now: 10 * Self.second)
        #expect(
            summaries == [
                LogRateLimiter.Summary(
                    sample: "metrics: refused a connection from 10.0.249.1:40999", suppressed: 997,
                    interval: 10 * Self.second)
            ])
        #expect(
            summaries.first?.line.hasPrefix("997 more lines like this suppressed in 10 s: metrics: refused") == true)
        #expect(limiter.nextSummaryDue == nil)
        // A new interval starts with a new burst.
        let admitted1 = limiter.admit("metrics: refused a connection from 10.0.0.1:1", now: 11 * Self.second)
        #expect(admitted1)
    }

    @Test func differentMessagesHaveTheirOwnBurst() {
        var limiter = LogRateLimiter(burst: 1, interval: Self.second)
        let admitted2 = limiter.admit("dns: unhealthy", now: 0)
        #expect(admitted2)
        let admitted3 = limiter.admit("dns: unhealthy", now: 1)
        #expect(!admitted3)
        let admitted4 = limiter.admit("web: unhealthy", now: 2)
        #expect(admitted4)
        let admitted5 = limiter.admit("peer r1: Established", now: 3)
        #expect(admitted5)
        let expired3 = limiter.expire(now: Self.second)
        #expect(expired3.map(\.suppressed) == [1])
    }

    @Test func aQuietKeyLeavesNoSummary() {
        var limiter = LogRateLimiter(burst: 2, interval: Self.second)
        let admitted6 = limiter.admit("a", now: 0)
        #expect(admitted6)
        let admitted7 = limiter.admit("a", now: 1)
        #expect(admitted7)
        #expect(limiter.nextSummaryDue == nil)
        let expired4 = limiter.expire(now: 5 * Self.second)
        #expect(expired4 == [])
    }

    @Test func distinctMessagesCannotGrowTheTableBeyondItsBound() {
        var limiter = LogRateLimiter(burst: 1, interval: Self.second, maxKeys: 4)
        var written = 0
        for index in 0..<100
        where limiter.admit("unknown service: name-\(String(UnicodeScalar(65 + index % 26)!))\(index / 26)x", now: 0) {
            written += 1
        }
        // Four keys of their own, then all others share one window.
        #expect(written == 5)
        let expired5 = limiter.expire(now: Self.second)
        #expect(expired5.count == 5)
        #expect(expired5.map(\.suppressed).reduce(0, +) == 95)
    }

    @Test func aLineMayHaveABurstOfItsOwn() {
        var limiter = LogRateLimiter(burst: 1, interval: Self.second)
        var written = 0
        for line in 1...30
        where limiter.admit("a.json:\(line):5: services[\(line)].name: expected a string", now: 0, burst: 20) {
            written += 1
        }
        #expect(written == 20)
    }

    @Test func keysMaskNumbers() {
        #expect(LogRateLimiter.key(of: "peer 10.0.0.1:179 refused after 12 ms") == "peer #.#.#.#:# refused after # ms")
    }

    @Test func controlCharactersAreEscaped() {
        #expect("dns\nerror: forged line".escapedForLog == "dns\\nerror: forged line")
        #expect("a\r\tb\u{1B}[31m\u{7F}".escapedForLog == "a\\r\\tb\\u{1B}[31m\\u{7F}")
        #expect("plain name: ünïcode ok".escapedForLog == "plain name: ünïcode ok")
    }
}

/// The handler as the daemon sets it up: lines rendered, escaped, limited, and the summary written by a
/// timer when the interval ends, with no further logging.
@Suite struct StderrLogHandlerTests {
    @Test func linesAreEscapedLimitedAndSummarised() async throws {
        let (lines, sink) = AsyncStream.makeStream(of: String.self)
        let limiter = SharedLogLimiter(limiter: LogRateLimiter(burst: 3, interval: 50_000_000)) { sink.yield($0) }
        let logger = Logger(label: "test") { StderrLogHandler(label: $0, level: .info, limiter: limiter) }
        logger.notice("dns\nerror: forged")
        for port in 0..<20 { logger.warning("refused a connection from 10.0.0.1 port \(port)") }
        // Errors get ten times the burst: all 30 of these are written.
        for line in 1...30 { logger.error("a.json:\(line):1: services[\(line)]: bad") }
        let received = try await withThrowingTaskGroup(of: [String].self) { group in
            group.addTask {
                var received: [String] = []
                // 1 + 3 warnings + 30 errors + the summary, which may come before the last errors on a slow machine.
                for await line in lines {
                    received.append(line)
                    if received.count == 35 { break }
                }
                return received
            }
            group.addTask {
                try await Task.sleep(for: .seconds(10))
                throw DaemonError("no summary line within 10 s")
            }
            defer { group.cancelAll() }
            return try await group.next() ?? []
        }
        let journal = getenv("JOURNAL_STREAM") != nil
        let notice = journal ? "<5>" : "notice: "
        let warning = journal ? "<4>" : "warning: "
        let error = journal ? "<3>" : "error: "
        #expect(received.count == 35)
        #expect(
            Set(received)
                == Set(
                    [
                        "\(notice)dns\\nerror: forged\n",
                        "\(warning)refused a connection from 10.0.0.1 port 0\n",
                        "\(warning)refused a connection from 10.0.0.1 port 1\n",
                        "\(warning)refused a connection from 10.0.0.1 port 2\n",
                    ] + (1...30).map { "\(error)a.json:\($0):1: services[\($0)]: bad\n" } + [
                        "\(warning)17 more lines like this suppressed in 50 ms: refused a connection from 10.0.0.1 port 19\n"
                    ]))
    }
}
