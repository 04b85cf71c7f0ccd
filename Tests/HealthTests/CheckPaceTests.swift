// CheckPace on a fake clock: the next-run instant after each result, a settled check's unchanged grid, the
// fast pace while a streak is under way, and the detection bounds for a dead and a hung server, found by
// running RiseFall and CheckPace together through every instant at which the server can fail.
import Config
import Health
import NetAddress
import Testing

private let ms: Int64 = 1_000_000

/// A worst case within its bound and reaching it (the supremum is not attained: the server fails 1 ns after
/// a run started at the latest).
private func reaches(_ worst: Int64, _ bound: Int64) -> Bool { worst <= bound && worst > bound - ms / 10 }

struct CheckPaceTests {
    @Test func duringAStopAChecksPaceIsItsFastIntervalOr10msAndNeverSlowerThanItsInterval() {
        var config = CheckConfig(
            kind: .tcp(address: .v4(IPv4Address("127.0.0.1")!), port: 53), interval: .milliseconds(100))
        #expect(CheckPace.stopping(config) == CheckPace(interval: .milliseconds(10)))
        config.fastInterval = .milliseconds(30)
        #expect(CheckPace.stopping(config) == CheckPace(interval: .milliseconds(30)))
        config.fastInterval = nil
        config.interval = .milliseconds(5)
        #expect(CheckPace.stopping(config) == CheckPace(interval: .milliseconds(5)))
        // Every run is on the fast grid, whatever the streak.
        let pace = CheckPace.stopping(
            CheckConfig(kind: .tcp(address: .v4(IPv4Address("127.0.0.1")!), port: 53), interval: .seconds(5)))
        #expect(pace.next(due: 0, now: 1_000_000, changing: false) == 10_000_000)
    }

    @Test func settledCheckKeepsItsGridWithOrWithoutFastInterval() {
        for pace in [
            CheckPace(interval: .milliseconds(100)),
            CheckPace(interval: .milliseconds(100), fastInterval: .milliseconds(10)),
        ] {
            var due: Int64 = 0
            var dues: [Int64] = []
            for _ in 0..<5 {
                due = pace.next(due: due, now: due + 3 * ms, changing: false)
                dues.append(due)
            }
            #expect(dues == [100, 200, 300, 400, 500].map { $0 * ms }, "\(pace)")
        }
    }

    @Test func slowRunSkipsMissedTicksOnTheGrid() {
        let pace = CheckPace(interval: .milliseconds(100), fastInterval: .milliseconds(10))
        #expect(pace.next(due: 0, now: 250 * ms, changing: false) == 300 * ms)
        #expect(pace.next(due: 0, now: 100 * ms, changing: false) == 200 * ms)
    }

    @Test func streakUnderWayRunsAtTheFastPaceFromWhenTheRunWasDue() {
        let pace = CheckPace(interval: .milliseconds(100), fastInterval: .milliseconds(10))
        #expect(pace.next(due: 1000 * ms, now: 1001 * ms, changing: true) == 1010 * ms)
        // A run longer than the fast interval: the next starts as soon as it ended (runs never overlap).
        #expect(pace.next(due: 1000 * ms, now: 1050 * ms, changing: true) == 1050 * ms)
    }

    @Test func withoutFastIntervalAStreakKeepsTheInterval() {
        let pace = CheckPace(interval: .milliseconds(100))
        #expect(pace.next(due: 0, now: 1 * ms, changing: true) == 100 * ms)
    }

    @Test func tooSmallValuesAreTakenAsOneMillisecond() {
        let pace = CheckPace(interval: .zero, fastInterval: .zero)
        #expect(pace.interval == ms && pace.fastInterval == ms)
    }

    @Test func riseFallSaysWhenAStreakIsUnderWay() {
        var machine = RiseFall(rise: 2, fall: 3)
        var seen: [Bool] = []
        for result in "sssffsfffssfss" {
            machine.record(success: result == "s")
            seen.append(machine.isChanging)
        }
        // Under way: the first success while down, each failure while up short of fall (the third is the
        // fall), the success after that, and the failure after the rise.
        let expected = "+--++-++-+-+--".map { $0 == "+" }
        #expect(seen == expected)
    }

    /// How long after a server fails the check goes down: the check runs settled on its grid from 0, the
    /// server fails at `failsAt`, every later run fails after `failing` (at once for a dead server, the
    /// timeout for a hung one); runs before that succeed after 1 ms.
    static func detection(pace: CheckPace, fall: Int, failsAt: Int64, failing: Int64) -> Int64 {
        var machine = RiseFall(rise: 1, fall: fall)
        machine.record(success: true)
        var due: Int64 = 0
        while true {
            let start = due
            let success = start < failsAt
            let end = start + (success ? ms : failing)
            if machine.record(success: success) != nil { return end - failsAt }
            due = pace.next(due: due, now: end, changing: machine.isChanging)
            #expect(due >= end, "runs of one check overlap")
        }
    }

    /// The worst detection time over every instant (in 0.1 ms steps from 1 ns after a run started) within
    /// two intervals.
    static func worstDetection(pace: CheckPace, fall: Int, failing: Int64) -> Int64 {
        stride(from: pace.interval + 1, to: 3 * pace.interval, by: Int(ms / 10)).map {
            detection(pace: pace, fall: fall, failsAt: $0, failing: failing)
        }.max()!
    }

    @Test func deadServerIsDetectedWithinIntervalPlusFastRuns() {
        // interval 100 ms, fall 3, a dead server refuses within 0.5 ms.
        let fast = CheckPace(interval: .milliseconds(100), fastInterval: .milliseconds(10))
        let worst = Self.worstDetection(pace: fast, fall: 3, failing: ms / 2)
        #expect(reaches(worst, 100 * ms + 2 * 10 * ms + ms / 2), "\(Double(worst) / 1e6) ms")
        let slow = CheckPace(interval: .milliseconds(100))
        let worstSlow = Self.worstDetection(pace: slow, fall: 3, failing: ms / 2)
        #expect(reaches(worstSlow, 3 * 100 * ms + ms / 2), "\(Double(worstSlow) / 1e6) ms")
    }

    @Test func hungServerStaysWithinTheBound() {
        // fastInterval × (fall − 1) + interval + timeout when the timeout fits in the fast interval.
        for (interval, fast, timeout, fall) in [(100, 20, 15, 3), (100, 10, 10, 3), (1000, 50, 40, 5), (100, 10, 5, 1)]
        {
            let pace = CheckPace(interval: .milliseconds(interval), fastInterval: .milliseconds(fast))
            let worst = Self.worstDetection(pace: pace, fall: fall, failing: Int64(timeout) * ms)
            let bound = Int64(fast * (fall - 1) + interval + timeout) * ms
            #expect(reaches(worst, bound), "\(interval)/\(fast)/\(timeout)/\(fall): \(Double(worst) / 1e6) ms")
        }
        // A timeout longer than the fast interval: runs do not overlap, so each failing run takes the timeout:
        // interval + timeout + (fall − 1) × timeout, still well under interval × fall + timeout.
        let pace = CheckPace(interval: .milliseconds(100), fastInterval: .milliseconds(10))
        let worst = Self.worstDetection(pace: pace, fall: 3, failing: 50 * ms)
        #expect(reaches(worst, (100 + 50 + 2 * 50) * ms), "\(Double(worst) / 1e6) ms")
        let slow = Self.worstDetection(pace: CheckPace(interval: .milliseconds(100)), fall: 3, failing: 50 * ms)
        #expect(reaches(slow, (3 * 100 + 50) * ms), "\(Double(slow) / 1e6) ms")
    }

    @Test func brokenStreakReturnsToTheInterval() {
        let pace = CheckPace(interval: .milliseconds(100), fastInterval: .milliseconds(10))
        var machine = RiseFall(rise: 1, fall: 3)
        machine.record(success: true)
        var due: Int64 = 0
        var dues: [Int64] = []
        for result in "ffsss" {
            machine.record(success: result == "s")
            due = pace.next(due: due, now: due + ms, changing: machine.isChanging)
            dues.append(due / ms)
        }
        #expect(dues == [10, 20, 120, 220, 320])
    }
}
