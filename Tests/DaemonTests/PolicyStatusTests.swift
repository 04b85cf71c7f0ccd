// The announcement policies in status and metrics (issue 9): one ServiceReport, rendered as text, JSON and
// the four policy gauges.
import Daemon
import FoundationEssentials
import Testing

@Suite struct PolicyStatusTests {
    static func status() -> StatusSnapshot {
        var status = sampleStatus()
        var ldap = status.services[0]
        ldap.name = "ldap"
        ldap.suppressed = true
        ldap.penalty = 3.2
        ldap.reuseInSeconds = 95.1
        ldap.state = "suppressed"
        status.services[0].degradedBy = ["exec /usr/local/bin/slow-check"]
        status.services[0].degraded = true
        status.services[0].state = "degraded"
        var ntp = status.services[0]
        ntp.name = "ntp"
        ntp.healthy = false
        ntp.degradedBy = nil
        ntp.lastResort = true
        ntp.state = "lastResort"
        status.services += [ldap, ntp]
        return status
    }

    @Test func thePolicyGaugesAreExportedPerService() {
        let lines = Set(Self.status().prometheus().split(separator: "\n").map(String.init))
        for expected in [
            "anycastd_service_degraded{service=\"dns\"} 1",
            "anycastd_service_degraded{service=\"ldap\"} 0",
            "anycastd_service_suppressed{service=\"ldap\"} 1",
            "anycastd_service_suppressed{service=\"dns\"} 0",
            "anycastd_service_penalty{service=\"ldap\"} 3.2",
            "anycastd_service_penalty{service=\"dns\"} 0",
            "anycastd_service_last_resort{service=\"ntp\"} 1",
            "anycastd_service_last_resort{service=\"dns\"} 0",
        ] {
            #expect(lines.contains(expected), "missing: \(expected)")
        }
        #expect(MetricsTests.checkExposition(Self.status().prometheus()) == [])
    }

    @Test func theStatusTextSaysWhyEachServiceIsDegradedSuppressedOrKept() {
        let text = Self.status().text()
        #expect(text.contains("  dns: healthy, degraded (exec /usr/local/bin/slow-check failing)"), "\(text)")
        #expect(text.contains("  ldap: healthy, suppressed (penalty 3.2, announced again in 96s at the latest)"))
        #expect(text.contains("  ntp: unhealthy, kept as last resort (degraded; no other path)"))
    }

    @Test func theStatusJSONCarriesTheStateAndRoundTrips() throws {
        let json = Self.status().json()
        #expect(json.contains("\"state\" : \"lastResort\""))
        #expect(json.contains("\"reuseInSeconds\" : 95.1"))
        let decoded = try JSONDecoder().decode(StatusSnapshot.self, from: Data(json.utf8))
        #expect(decoded == Self.status())
    }
}
