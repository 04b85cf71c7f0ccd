// The RFC 7606 treat-as-withdraw count of a peer in metrics and in the text status.
import Testing

@testable import Daemon

@Suite struct TreatAsWithdrawReportTests {
    @Test func countIsAMetricAndShownInStatusWhenNonZero() throws {
        var status = sampleStatus()
        let peer = try #require(status.peers.first)
        let labels = "address=\"\(peer.address)\",peer=\"\(peer.name)\""
        #expect(status.prometheus().contains("anycastd_bgp_peer_treat_as_withdraw_total{\(labels)} 0\n"))
        #expect(!status.text().contains("treat-as-withdraw"))
        status.peers[0].treatAsWithdraw = 3
        #expect(status.prometheus().contains("anycastd_bgp_peer_treat_as_withdraw_total{\(labels)} 3\n"))
        #expect(MetricsTests.checkExposition(status.prometheus()) == [])
        #expect(status.text().contains("treat-as-withdraw 3"))
    }
}
