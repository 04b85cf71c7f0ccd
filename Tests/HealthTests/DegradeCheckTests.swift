// The health verdict with `onFailure: "degrade"` checks: a failing degrade check leaves the service up and
// names itself in `degradedBy`; a failing withdraw check still takes the service down. And `recheck` runs a
// check long before its interval is due.
import Config
import Foundation
import Health
import NetAddress
import Testing

struct DegradeCheckTests {
    static func exec(_ program: String, interval: Duration = .seconds(1), onFailure: CheckFailureAction)
        -> CheckConfig
    {
        CheckConfig(
            kind: .exec(command: [program]), interval: interval, timeout: .milliseconds(500), rise: 1, fall: 1,
            onFailure: onFailure)
    }

    @Test func aFailingDegradeCheckDegradesAndAFailingWithdrawCheckTakesTheServiceDown() async {
        let monitor = HealthMonitor()
        defer { monitor.stop() }
        let log = EventLog(monitor)
        monitor.update(services: [
            (
                name: "dns",
                checks: [Self.exec("/bin/true", onFailure: .withdraw), Self.exec("/bin/false", onFailure: .degrade)],
                defaultDNSServer: nil
            )
        ])
        #expect(
            await waitUntil(seconds: 5) {
                log.all.last.map { $0.isUp && $0.degradedBy == ["exec /bin/false"] } ?? false
            }, "\(log.all.map { ($0.isUp, $0.degradedBy) })")
        monitor.update(services: [
            (
                name: "dns",
                checks: [Self.exec("/bin/false", onFailure: .withdraw), Self.exec("/bin/false", onFailure: .degrade)],
                defaultDNSServer: nil
            )
        ])
        #expect(
            await waitUntil(seconds: 5) {
                monitor.snapshot().first.map { !$0.isUp && $0.degradedBy == ["exec /bin/false"] } ?? false
            })
    }

    @Test func aServiceWithoutDegradeChecksNeverReportsDegradedBy() async {
        let monitor = HealthMonitor()
        defer { monitor.stop() }
        let log = EventLog(monitor)
        monitor.update(services: [
            (name: "dns", checks: [Self.exec("/bin/true", onFailure: .withdraw)], defaultDNSServer: nil)
        ])
        #expect(await waitUntil(seconds: 5) { log.summary == ["dns:down", "dns:up"] }, "\(log.summary)")
        #expect(log.all.allSatisfy { $0.degradedBy.isEmpty })
    }

    @Test func recheckRunsTheChecksNowInsteadOfAtTheirInterval() async {
        let monitor = HealthMonitor()
        defer { monitor.stop() }
        monitor.update(services: [
            (
                name: "dns", checks: [Self.exec("/bin/true", interval: .seconds(3600), onFailure: .withdraw)],
                defaultDNSServer: nil
            )
        ])
        #expect(await waitUntil(seconds: 5) { monitor.snapshot().first?.checks.first?.runs == 1 })
        #expect(monitor.recheck(services: ["dns"]) == 1)
        #expect(monitor.recheck(services: ["other"]) == 0)
        // The next run is an hour away; only the recheck can make it happen within seconds.
        #expect(await waitUntil(seconds: 5) { monitor.snapshot().first?.checks.first?.runs == 2 })
    }
}
