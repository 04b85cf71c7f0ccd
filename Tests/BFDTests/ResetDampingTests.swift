// Damping of BFD-driven BGP resets (RFC 5882 §3.2) on a fake clock: the fourth Down in a minute is held
// off, hold times double up to the maximum, and a quiet period forgets the history.
import BFD
import Testing

@Suite struct ResetDampingTests {
    /// Issue 14: five spoofed AdminDowns a second kept BGP down. Only the first three Downs in a minute
    /// reset BGP; the fourth starts a 30 s hold, and Downs meanwhile reset nothing.
    @Test func moreThanThreeDownsInAMinuteHoldResetsOff() {
        var damping = BFDResetDamping()
        #expect(damping.bfdDown(at: .seconds(0)) == .reset)
        #expect(damping.bfdDown(at: .seconds(10)) == .reset)
        #expect(damping.bfdDown(at: .seconds(20)) == .reset)
        #expect(damping.bfdDown(at: .seconds(30)) == .held(until: .seconds(60), started: true))
        #expect(damping.isHeld(at: .seconds(59)) && !damping.isHeld(at: .seconds(60)))
        for tenth in 301..<600 {
            #expect(damping.bfdDown(at: .milliseconds(tenth * 100)) == .held(until: .seconds(60), started: false))
        }
        // After the hold, resets are allowed again, and a new burst holds for twice as long.
        #expect(damping.bfdDown(at: .seconds(61)) == .reset)
        #expect(damping.bfdDown(at: .seconds(62)) == .reset)
        #expect(damping.bfdDown(at: .seconds(63)) == .reset)
        #expect(damping.bfdDown(at: .seconds(64)) == .held(until: .seconds(124), started: true))
        #expect(damping.level == 2)
    }

    @Test func downsSpreadOverMoreThanTheWindowAreNotDamped() {
        var damping = BFDResetDamping()
        for minute in 0..<20 {
            #expect(damping.bfdDown(at: .seconds(minute * 21)) == .reset)
        }
        #expect(damping.heldUntil == nil)
    }

    @Test func holdTimesDoubleUpToTheMaximumAndQuietForgets() {
        var damping = BFDResetDamping(settings: .init(threshold: 1, window: .seconds(10), initialHold: .seconds(30)))
        var now = Duration.zero
        var holds: [Duration] = []
        for _ in 0..<7 {
            #expect(damping.bfdDown(at: now) == .reset)
            now += .seconds(1)
            guard case .held(let until, true) = damping.bfdDown(at: now) else {
                Issue.record("not held at \(now)")
                return
            }
            holds.append(until - now)
            now = until
        }
        #expect(holds == [30, 60, 120, 240, 480, 600, 600].map { Duration.seconds($0) })
        // Ten quiet minutes: the next burst starts again at 30 s.
        now += .seconds(600)
        #expect(damping.bfdDown(at: now) == .reset)
        #expect(damping.bfdDown(at: now + .seconds(1)) == .held(until: now + .seconds(31), started: true))
    }
}
