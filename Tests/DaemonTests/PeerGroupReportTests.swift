// Peer groups in status and metrics: "azure: 1 of 2 established" in the text, the group in --json, and
// anycastd_peer_group_established / anycastd_peer_group_peers per group.
import Foundation
import Testing

@testable import Daemon

@Suite struct PeerGroupReportTests {
    private func status(established: [String]) -> StatusSnapshot {
        var status = sampleStatus()
        status.groups = [PeerGroupReport(name: "azure", peers: ["ars-a", "ars-b"], established: established)]
        return status
    }

    @Test func aPartlyEstablishedGroupShowsInTextAndMetrics() throws {
        let partly = status(established: ["ars-a"])
        #expect(partly.text().contains("groups:\n  azure: 1 of 2 established  NOT ALL ESTABLISHED (down: ars-b)\n"))
        let lines = partly.prometheus().split(separator: "\n").map(String.init)
        #expect(lines.contains("anycastd_peer_group_established{group=\"azure\"} 1"))
        #expect(lines.contains("anycastd_peer_group_peers{group=\"azure\"} 2"))
        #expect(MetricsTests.checkExposition(partly.prometheus()) == [])
        let decoded = try JSONDecoder().decode(StatusSnapshot.self, from: Data(partly.json().utf8))
        #expect(decoded.groups == partly.groups)

        let whole = status(established: ["ars-a", "ars-b"])
        #expect(whole.text().contains("  azure: 2 of 2 established\n"))
        #expect(whole.prometheus().contains("\nanycastd_peer_group_established{group=\"azure\"} 2\n"))
    }

    @Test func withoutGroupsThereIsNoGroupSection() {
        let status = sampleStatus()
        #expect(!status.text().contains("groups:"))
        #expect(!status.prometheus().contains("anycastd_peer_group_established{"))
        #expect(!status.json().contains("\"groups\""))
    }
}
