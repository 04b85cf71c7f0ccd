import Synchronization
import Testing

@testable import Runtime

#if canImport(Glibc)
    import Glibc
#endif

/// A value shared between the test and the loop's thread.
private final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    var current: Value { value.withLock { $0 } }
    func update(_ change: (inout Value) -> Void) { value.withLock { change(&$0) } }
}

/// Waits (without sleeping as synchronisation) until `condition` holds or 5 s pass.
private func eventually(_ condition: () -> Bool) -> Bool {
    let deadline = monotonicNanoseconds() + 5_000_000_000
    while monotonicNanoseconds() < deadline {
        if condition() { return true }
        sched_yield()
    }
    return condition()
}

@Suite struct PollThreadTests {
    @Test func readyDescriptorIsReportedAndStopJoins() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let reads = Shared(0)
        let finished = Shared(false)
        let readEnd = fds[0]
        let thread = try PollThread(name: "test-ready") { loop in
            var entries = [pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)]
            while loop.wait(&entries, until: nil) {
                if entries[0].revents & Int16(POLLIN) != 0 {
                    var byte: UInt8 = 0
                    if read(readEnd, &byte, 1) == 1 { reads.update { $0 += 1 } }
                }
            }
            finished.update { $0 = true }
        }
        var byte: UInt8 = 7
        #expect(write(fds[1], &byte, 1) == 1)
        #expect(eventually { reads.current == 1 })
        let finishedEarly = finished.current
        #expect(!finishedEarly)
        thread.stop()
        // stop() returns only after the body returned.
        let finishedAfterStop = finished.current
        #expect(finishedAfterStop)
        #expect(thread.isStopping)
    }

    @Test func deadlineEndsAWaitNotEarlier() throws {
        let waited = Shared<Int64>(-1)
        let thread = try PollThread(name: "test-deadline") { loop in
            let start = monotonicNanoseconds()
            _ = loop.sleep(until: start + 30_000_000)
            waited.update { $0 = monotonicNanoseconds() - start }
            while loop.sleep(until: nil) {}
        }
        #expect(eventually { waited.current >= 0 })
        let nanos = waited.current
        #expect(nanos >= 30_000_000)
        thread.stop()
    }

    @Test func wakeInterruptsAWaitWithoutADeadline() throws {
        let wakeUps = Shared(0)
        let thread = try PollThread(name: "test-wake") { loop in
            while loop.sleep(until: nil) { wakeUps.update { $0 += 1 } }
        }
        thread.wake()
        #expect(eventually { wakeUps.current >= 1 })
        thread.stop()
        let after = wakeUps.current
        thread.wake()
        let later = wakeUps.current
        #expect(later == after)
    }

    @Test func stopFromTheThreadItselfDoesNotDeadlock() throws {
        let done = Shared(false)
        let thread = try PollThread(name: "test-self") { loop in
            loop.stop()
            #expect(!loop.sleep(until: nil))
            done.update { $0 = true }
        }
        #expect(eventually { done.current })
        thread.stop()
    }
}
