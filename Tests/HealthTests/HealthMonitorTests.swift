// HealthMonitor end to end with short intervals: rise and fall against a DNS responder, one event per
// transition, reloads that keep or reset state, several checks per service, no overlap, and stop.
import Config
import Foundation
import Health
import NetAddress
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Collects a monitor's events on a task so tests can poll them.
final class EventLog: Sendable {
    private let events = Mutex<[ServiceHealth]>([])
    private let finished = Atomic<Bool>(false)

    init(_ monitor: HealthMonitor) {
        let stream = monitor.events
        Task { [self] in
            for await event in stream { events.withLock { $0.append(event) } }
            finished.store(true, ordering: .relaxed)
        }
    }

    var all: [ServiceHealth] { events.withLock { $0 } }
    var isFinished: Bool { finished.load(ordering: .relaxed) }

    /// "name:up" / "name:down" per event, in order.
    var summary: [String] { all.map { "\($0.name):\($0.isUp ? "up" : "down")" } }
}

struct HealthMonitorTests {
    static func dnsConfig(port: Int, interval: Duration = .milliseconds(50), rise: Int = 2, fall: Int = 2)
        -> CheckConfig
    {
        CheckConfig(
            kind: .dns(server: nil, port: port, name: "id.lab", type: "TXT", rcodes: ["NOERROR"]), interval: interval,
            timeout: .milliseconds(40), rise: rise, fall: fall)
    }

    @Test func risesFallsAndRisesWithOneEventPerTransition() async {
        let responder = DNSResponder()
        defer { responder.stop() }
        let monitor = HealthMonitor()
        defer { monitor.stop() }
        let log = EventLog(monitor)
        monitor.update(services: [
            (name: "dns", checks: [Self.dnsConfig(port: responder.port)], defaultDNSServer: loopback4)
        ])

        #expect(await waitUntil(seconds: 5) { log.summary == ["dns:down", "dns:up"] }, "\(log.summary)")
        let up = log.all.last
        #expect(up?.checks.count == 1)
        #expect(up?.checks.first?.successesInRow == 2)
        #expect(up?.checks.first?.lastResult == "NOERROR, 1 answer")
        #expect(up?.checks.first?.description == "dns 127.0.0.1:\(responder.port) id.lab. TXT")

        responder.set(.silent)
        #expect(await waitUntil(seconds: 5) { log.summary == ["dns:down", "dns:up", "dns:down"] }, "\(log.summary)")
        let down = log.all.last
        #expect(down?.checks.first?.failuresInRow == 2)
        #expect(down?.checks.first?.lastResult == "127.0.0.1:\(responder.port): no answer within 40 ms")
        #expect(down?.checks.first?.lastDuration.map { $0 >= .milliseconds(40) } == true)

        // Staying down for many more intervals sends nothing more.
        try? await Task.sleep(for: .milliseconds(500))
        #expect(log.summary == ["dns:down", "dns:up", "dns:down"])
        let stillDown = monitor.snapshot()
        #expect(stillDown.count == 1 && stillDown[0].isUp == false)
        #expect((stillDown[0].checks.first?.failuresInRow ?? 0) > 4, "\(stillDown)")

        responder.set(.answer)
        #expect(await waitUntil(seconds: 5) { log.summary.count == 4 }, "\(log.summary)")
        try? await Task.sleep(for: .milliseconds(300))
        #expect(log.summary == ["dns:down", "dns:up", "dns:down", "dns:up"])
    }

    @Test func hungServerIsDetectedWithinFallTimesIntervalPlusTimeout() async {
        let responder = DNSResponder()
        defer { responder.stop() }
        let monitor = HealthMonitor()
        defer { monitor.stop() }
        let log = EventLog(monitor)
        let config = Self.dnsConfig(port: responder.port, interval: .milliseconds(100), rise: 1, fall: 3)
        monitor.update(services: [(name: "dns", checks: [config], defaultDNSServer: loopback4)])
        #expect(await waitUntil(seconds: 5) { log.summary == ["dns:down", "dns:up"] }, "\(log.summary)")
        responder.set(.silent)
        let start = Date()
        #expect(await waitUntil(seconds: 5) { log.summary.count == 3 }, "\(log.summary)")
        let latency = Date().timeIntervalSince(start)
        // Ideal bound 3 × 100 ms + 40 ms; the generous one absorbs a loaded machine.
        #expect(latency < 1.5, "detection took \(latency) s")
        #expect(latency > 0.2, "detection took \(latency) s: faster than three failed checks allow")
    }

    @Test func fastIntervalHurriesOnlyWhileAStreakIsUnderWay() async {
        let responder = DNSResponder()
        defer { responder.stop() }
        let monitor = HealthMonitor()
        defer { monitor.stop() }
        let log = EventLog(monitor)
        // A long interval and a generous timeout, so that the fast pace shows in seconds and a loaded machine
        // (a slow answer would be a failure, and rightly change the pace) does not blur it.
        var config = Self.dnsConfig(port: responder.port, interval: .seconds(3), rise: 3, fall: 3)
        config.timeout = .seconds(1)
        config.fastInterval = .milliseconds(10)
        let start = Date()
        monitor.update(services: [(name: "dns", checks: [config], defaultDNSServer: loopback4)])
        // Three successes 10 ms apart; on the interval alone they take 6 s. The bounds below are loose because
        // parallel tests can hold up the waiting task by seconds; they stay well below the slow pace.
        #expect(await waitUntil(seconds: 10) { log.summary == ["dns:down", "dns:up"] }, "\(log.summary)")
        let rise = Date().timeIntervalSince(start)
        #expect(rise < 4, "rise took \(rise) s")
        #expect(monitor.snapshot()[0].checks[0].runs == 3)

        // Settled: the interval, not the fast pace (a second holds at most one run, not a hundred).
        let runsBefore = monitor.snapshot()[0].checks[0].runs
        try? await Task.sleep(for: .seconds(1))
        let steadyRuns = monitor.snapshot()[0].checks[0].runs - runsBefore
        #expect(steadyRuns <= 1, "\(steadyRuns) runs in 1 s")

        // A failing server: the next tick fails, then two more 10 ms apart; on the interval alone at least 6 s.
        responder.set(.servfail)
        let failed = Date()
        #expect(await waitUntil(seconds: 10) { log.summary.count == 3 }, "\(log.summary)")
        let fall = Date().timeIntervalSince(failed)
        #expect(fall < 5, "fall took \(fall) s")
        #expect(log.all.last?.checks.first?.failuresInRow == 3)
    }

    @Test func beginStopRunsTheChecksAtOnceFastAndTheFirstFailureTakesTheServiceDown() async {
        let responder = DNSResponder()
        defer { responder.stop() }
        let monitor = HealthMonitor()
        defer { monitor.stop() }
        let log = EventLog(monitor)
        // Settled on a long interval with fall 3: without the stop a failure shows after 2 × 5 s at the least.
        var config = Self.dnsConfig(port: responder.port, interval: .seconds(5), rise: 1, fall: 3)
        config.timeout = .seconds(1)
        monitor.update(services: [(name: "dns", checks: [config], defaultDNSServer: loopback4)])
        #expect(await waitUntil(seconds: 5) { log.summary == ["dns:down", "dns:up"] }, "\(log.summary)")
        responder.set(.servfail)
        let stopped = Date()
        #expect(monitor.beginStop() == 1)
        #expect(await waitUntil(seconds: 4) { log.summary.count == 3 }, "\(log.summary)")
        let took = Date().timeIntervalSince(stopped)
        #expect(log.summary == ["dns:down", "dns:up", "dns:down"])
        // One failed run took it down (fall 3 otherwise), and it ran at once rather than on the 5 s grid.
        #expect(log.all.last?.checks.first?.failuresInRow == 1)
        #expect(took < 4, "the first failure took \(took) s")
        // From then on it runs every 10 ms: a second holds many runs, not at most one.
        let before = monitor.snapshot()[0].checks[0].runs
        try? await Task.sleep(for: .seconds(1))
        let more = monitor.snapshot()[0].checks[0].runs - before
        #expect(more >= 5, "\(more) runs in 1 s during the stop")
    }

    @Test func aServiceThatStartsDownReportsItsFirstVerdictOnce() async {
        let responder = DNSResponder()
        defer { responder.stop() }
        responder.set(.silent)
        let monitor = HealthMonitor()
        defer { monitor.stop() }
        let log = EventLog(monitor)
        monitor.update(services: [
            (name: "dns", checks: [Self.dnsConfig(port: responder.port, fall: 2)], defaultDNSServer: loopback4)
        ])
        // The initial state (down, no verdict yet), then the verdict after two failures: still down.
        #expect(await waitUntil(seconds: 5) { log.all.count == 2 }, "\(log.summary)")
        #expect(log.summary == ["dns:down", "dns:down"])
        #expect(log.all.map(\.verdictKnown) == [false, true])
        #expect(log.all.last?.checks.first?.failuresInRow == 2)
        // Staying down sends nothing more; going up is one more event, as before.
        try? await Task.sleep(for: .milliseconds(300))
        #expect(log.all.count == 2)
        responder.set(.answer)
        #expect(await waitUntil(seconds: 5) { log.summary == ["dns:down", "dns:down", "dns:up"] }, "\(log.summary)")
    }

    @Test func serviceWithoutChecksIsUpAtOnce() async {
        let monitor = HealthMonitor()
        defer { monitor.stop() }
        let log = EventLog(monitor)
        monitor.update(services: [(name: "static", checks: [], defaultDNSServer: nil)])
        #expect(await waitUntil(seconds: 2) { log.summary == ["static:up"] }, "\(log.summary)")
        #expect(monitor.snapshot() == [ServiceHealth(name: "static", isUp: true, checks: [])])
    }

    @Test func serviceIsUpOnlyWhileAllItsChecksAre() async {
        let responder = DNSResponder()
        defer { responder.stop() }
        let monitor = HealthMonitor()
        defer { monitor.stop() }
        let log = EventLog(monitor)
        let flag = FileManager.default.temporaryDirectory.appendingPathComponent(
            "acd-health-flag-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        #expect(FileManager.default.createFile(atPath: flag.path, contents: nil))
        defer { try? FileManager.default.removeItem(at: flag) }
        let exec = CheckConfig(
            kind: .exec(command: ["/usr/bin/test", "-e", flag.path]), interval: .milliseconds(50),
            timeout: .milliseconds(500), rise: 1, fall: 1)
        monitor.update(services: [
            (name: "both", checks: [Self.dnsConfig(port: responder.port), exec], defaultDNSServer: loopback4)
        ])
        #expect(await waitUntil(seconds: 5) { log.summary == ["both:down", "both:up"] }, "\(log.summary)")
        try? FileManager.default.removeItem(at: flag)
        #expect(await waitUntil(seconds: 5) { log.summary.count == 3 }, "\(log.summary)")
        let down = log.all.last
        #expect(down?.isUp == false)
        #expect(down?.checks.map(\.isUp) == [true, false], "the DNS check stays up, the exec check went down")
        #expect(down?.checks.last?.lastResult == "exit 1")
    }

    @Test func reloadKeepsUnchangedChecksAndRestartsChangedOnes() async {
        let responder = DNSResponder()
        defer { responder.stop() }
        let monitor = HealthMonitor()
        defer { monitor.stop() }
        let log = EventLog(monitor)
        let config = Self.dnsConfig(port: responder.port)
        monitor.update(services: [(name: "dns", checks: [config], defaultDNSServer: loopback4)])
        #expect(await waitUntil(seconds: 5) { log.summary == ["dns:down", "dns:up"] }, "\(log.summary)")
        #expect(await waitUntil(seconds: 5) { (monitor.snapshot().first?.checks.first?.successesInRow ?? 0) >= 4 })

        // The same check again, plus a new service: the old check keeps its counters, no event for it.
        monitor.update(services: [
            (name: "dns", checks: [config], defaultDNSServer: loopback4),
            (name: "other", checks: [], defaultDNSServer: nil),
        ])
        let kept = monitor.snapshot()
        #expect(kept.map(\.name) == ["dns", "other"])
        #expect(kept.first?.isUp == true)
        #expect((kept.first?.checks.first?.successesInRow ?? 0) >= 4, "\(kept)")
        #expect(await waitUntil(seconds: 2) { log.summary == ["dns:down", "dns:up", "other:up"] }, "\(log.summary)")

        // A changed check (rise 3) starts down: the service goes down at once and rises again.
        let changed = Self.dnsConfig(port: responder.port, rise: 3)
        monitor.update(services: [(name: "dns", checks: [changed], defaultDNSServer: loopback4)])
        #expect(monitor.snapshot().first?.isUp == false, "a changed check starts down")
        #expect(await waitUntil(seconds: 2) { log.summary.count == 4 }, "\(log.summary)")
        #expect(log.summary.last == "dns:down")
        #expect(await waitUntil(seconds: 5) { log.summary.count == 5 }, "\(log.summary)")
        #expect(log.summary.last == "dns:up")
        #expect(monitor.snapshot().map(\.name) == ["dns"])

        // A new default server is a changed check, too (nothing answers on ::1 at that port).
        monitor.update(services: [(name: "dns", checks: [changed], defaultDNSServer: loopback6)])
        #expect(monitor.snapshot().first?.isUp == false)
        #expect(await waitUntil(seconds: 2) { log.summary.count == 6 }, "\(log.summary)")
        #expect(log.summary.last == "dns:down")
    }

    @Test func slowCheckNeverOverlapsItself() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "acd-health-overlap-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: file) }
        let script = "echo start >> \(file.path); sleep 0.25; echo end >> \(file.path)"
        let slow = CheckConfig(
            kind: .exec(command: ["/bin/sh", "-c", script]), interval: .milliseconds(100), timeout: .seconds(2),
            rise: 1,
            fall: 1)
        let monitor = HealthMonitor()
        monitor.update(services: [(name: "slow", checks: [slow], defaultDNSServer: nil)])
        try await Task.sleep(for: .milliseconds(1300))
        monitor.stop()
        let lines = (try String(contentsOf: file, encoding: .utf8)).split(separator: "\n")
        // Runs take 250 ms on a 100 ms grid: each starts at the first tick after the previous ended. No upper
        // bound on the count: a loaded machine may oversleep the 1.3 s; alternation is what matters.
        #expect(lines.count >= 4, "\(lines)")
        for (index, line) in lines.enumerated() {
            #expect(line == (index % 2 == 0 ? "start" : "end"), "runs overlap: \(lines)")
        }
        let snapshot = monitor.snapshot()
        #expect(snapshot.first?.isUp == true)
    }

    @Test func stopKillsRunningExecChecksAndFinishesEvents() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "acd-health-stop-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: file) }
        let hang = CheckConfig(
            kind: .exec(command: ["/bin/sh", "-c", "echo $$ > \(file.path); exec sleep 30"]), interval: .seconds(60),
            timeout: .seconds(30))
        let monitor = HealthMonitor()
        let log = EventLog(monitor)
        monitor.update(services: [(name: "hang", checks: [hang], defaultDNSServer: nil)])
        #expect(
            await waitUntil(seconds: 5) { ((try? String(contentsOf: file, encoding: .utf8)) ?? "").hasSuffix("\n") })
        let pid = pid_t(
            ((try? String(contentsOf: file, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(pid != nil)
        let start = Date()
        monitor.stop()
        #expect(Date().timeIntervalSince(start) < 2, "stop must not wait for the check's timeout")
        if let pid { #expect(kill(pid, 0) == -1 && errno == ESRCH, "exec check \(pid) still exists after stop") }
        #expect(await waitUntil(seconds: 2) { log.isFinished }, "events did not finish")
        #expect(log.summary == ["hang:down"])
        monitor.stop()
    }

    @Test func removedServiceStopsItsChecks() async throws {
        let responder = DNSResponder()
        defer { responder.stop() }
        let monitor = HealthMonitor()
        defer { monitor.stop() }
        monitor.update(services: [
            (name: "dns", checks: [Self.dnsConfig(port: responder.port)], defaultDNSServer: loopback4)
        ])
        #expect(await waitUntil(seconds: 5) { responder.queryCount >= 2 })
        monitor.update(services: [])
        #expect(monitor.snapshot().isEmpty)
        let count = responder.queryCount
        try await Task.sleep(for: .milliseconds(300))
        #expect(responder.queryCount == count, "a removed check kept running")
    }
}
