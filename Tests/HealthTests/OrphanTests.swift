// Exec check helpers that leave the check's process group (setsid, a double fork into a new session) are
// killed and reaped once the check ends: the process is a child subreaper and the scheduler sweeps.
import CProcess
import Config
import Foundation
import Testing

@testable import Health

#if canImport(Glibc)
    import Glibc
#endif

struct OrphanTests {
    @Test func helpersThatLeaveTheGroupAreKilledAndReapedAfterTheCheck() async throws {
        // Test mode: only tagged processes and zombies of check groups are touched (this test process has
        // other children, such as dnsmasq).
        #expect(HealthMonitor.adoptCheckOrphans(ownsAllChildren: false) == nil)
        #expect(acd_is_child_subreaper() == 1)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "acd-health-orphans-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: file) }
        let path = file.path
        // 1: setsid in place (a background job is no group leader); 2: a plain double fork; 3: a double fork
        // into a new session that starts a child of its own (a chain: found after its parent is killed).
        let script = """
            setsid /bin/sleep 1000 & echo $! >> \(path)
            ( /bin/sleep 1000 & echo $! >> \(path) )
            ( setsid /bin/sh -c '/bin/sleep 1000 & echo $! >> \(path); echo $$ >> \(path); wait' & )
            while [ $(wc -l < \(path)) -lt 4 ]; do :; done
            exit 0
            """
        let check = CheckConfig(
            kind: .exec(command: ["/bin/sh", "-c", script]), interval: .seconds(60), timeout: .seconds(5), rise: 1,
            fall: 1)
        let monitor = HealthMonitor()
        defer { monitor.stop() }
        monitor.update(services: [(name: "orphans", checks: [check], defaultDNSServer: nil)])
        #expect(await waitUntil(seconds: 10) { monitor.snapshot().first?.checks.first?.runs == 1 })
        #expect(monitor.snapshot().first?.checks.first?.lastResult == "exit 0")
        let pids = ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            pid_t($0)
        }
        #expect(pids.count == 4, "\(pids)")
        defer { for pid in pids where kill(pid, 0) == 0 { kill(pid, SIGKILL) } }
        // Gone means killed and reaped: not even a zombie holds the pid.
        let gone = await waitUntil(seconds: 5) { pids.allSatisfy { kill($0, 0) == -1 && errno == ESRCH } }
        #expect(gone, "left behind: \(pids.filter { kill($0, 0) == 0 }.map(procStat))")
    }
}
