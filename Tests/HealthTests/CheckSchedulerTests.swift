// The check scheduler: many checks on a fixed pool of workers (threads bounded however many checks there
// are), every check keeps running, removal waits for a running check, and the capacity warning's sum.
import Config
import Foundation
import Synchronization
import Testing

@testable import Health

#if canImport(Glibc)
    import Glibc
#endif

struct CheckSchedulerTests {
    @Test func manyChecksShareAFixedPoolOfWorkers() async throws {
        let scheduler = try CheckScheduler(workerLimit: 4)
        defer { scheduler.stop() }
        let runs = Mutex([Int: Int]())
        let concurrent = Atomic<Int>(0)
        let mostConcurrent = Atomic<Int>(0)
        let checks = (0..<200).map { id in
            ScheduledCheck(
                id: id,
                check: HealthCheck(
                    config: CheckConfig(
                        kind: .exec(command: ["/bin/true"]), interval: .milliseconds(100), timeout: .milliseconds(50)),
                    defaultDNSServer: nil)
            ) { _ in
                let now = concurrent.add(1, ordering: .sequentiallyConsistent).newValue
                _ = mostConcurrent.max(now, ordering: .sequentiallyConsistent)
                runs.withLock { $0[id, default: 0] += 1 }
                concurrent.subtract(1, ordering: .sequentiallyConsistent)
                return false
            }
        }
        scheduler.add(checks)
        let everyCheckRanTwice = await waitUntil(seconds: 30) {
            runs.withLock { runs in runs.count == 200 && runs.values.allSatisfy { $0 >= 2 } }
        }
        #expect(everyCheckRanTwice, "\(runs.withLock { $0.count }) of 200 checks ran")
        #expect(scheduler.threadCount <= 5, "threads: \(scheduler.threadCount)")
        #expect(mostConcurrent.load(ordering: .sequentiallyConsistent) <= 4)
    }

    @Test func removeInterruptsARunningCheckAndWaitsForIt() async throws {
        let scheduler = try CheckScheduler(workerLimit: 2)
        defer { scheduler.stop() }
        let reports = Atomic<Int>(0)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "acd-health-remove-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: file) }
        let hang = HealthCheck(
            config: CheckConfig(
                kind: .exec(command: ["/bin/sh", "-c", "echo $$ > \(file.path); exec /bin/sleep 30"]),
                interval: .seconds(60), timeout: .seconds(30)),
            defaultDNSServer: nil)
        scheduler.add([
            ScheduledCheck(id: 1, check: hang) { _ in
                reports.add(1, ordering: .relaxed)
                return false
            }
        ])
        let started = await waitUntil(seconds: 5) {
            ((try? String(contentsOf: file, encoding: .utf8)) ?? "").hasSuffix("\n")
        }
        #expect(started, "the check never started")
        let pid = try #require(
            pid_t(
                ((try? String(contentsOf: file, encoding: .utf8)) ?? "").trimmingCharacters(
                    in: .whitespacesAndNewlines)))
        let start = Date()
        scheduler.remove(ids: [1])
        #expect(Date().timeIntervalSince(start) < 2, "remove must not wait for the check's timeout")
        // remove returned: the run was interrupted, its process killed and reaped, and it never reports.
        #expect(kill(pid, 0) == -1 && errno == ESRCH, "check \(pid) survived removal")
        #expect(reports.load(ordering: .relaxed) == 0)
    }

    @Test func capacityWarningSumsTimeoutOverInterval() {
        let light = CheckConfig(kind: .exec(command: ["/bin/true"]), interval: .seconds(1), timeout: .milliseconds(500))
        #expect(CheckScheduler.capacityWarning(checks: Array(repeating: light, count: 16), workers: 8) == nil)
        let warning = CheckScheduler.capacityWarning(checks: Array(repeating: light, count: 17), workers: 8)
        #expect(
            warning
                == "17 checks may need up to 9 runs at once (sum of timeout/interval) but the agent runs at most 8: "
                + "checks that hang until their timeout will start late and be skipped; use longer intervals or "
                + "shorter timeouts")
    }
}

struct CheckCounterTests {
    @Test func runsFailuresLastFailureAndDurationHistogram() async {
        let monitor = HealthMonitor()
        defer { monitor.stop() }
        let failing = CheckConfig(
            kind: .exec(command: ["/bin/sh", "-c", "echo broken; exit 3"]), interval: .milliseconds(20),
            timeout: .milliseconds(15), rise: 1, fall: 1)
        monitor.update(services: [(name: "s", checks: [failing], defaultDNSServer: nil)])
        #expect(await waitUntil(seconds: 10) { (monitor.snapshot().first?.checks.first?.runs ?? 0) >= 3 })
        guard let check = monitor.snapshot().first?.checks.first else {
            Issue.record("no check in the snapshot")
            return
        }
        #expect(check.failures == check.runs)
        #expect(check.lastFailure == "exit 3: broken")
        #expect(check.durationCounts.count == CheckStatus.durationBucketBounds.count)
        // Cumulative buckets: never decreasing, and the 10 s bucket holds every run (the timeout is 15 ms).
        #expect(zip(check.durationCounts, check.durationCounts.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(check.durationCounts.last == check.runs)
        #expect(check.durationSum > .zero)
        #expect(check.durationSum >= (check.lastDuration ?? .zero))
    }
}
