// Status carries typed session and BFD states end to end: JSON shows the RFC words, metrics compare enums,
// and whether drains are saved reaches both renderers.
import BFD
import BGP
import Foundation
import Testing

@testable import Daemon

@Suite struct StatusTests {
    @Test func statesTravelAsRFCWordsAndDecodeBack() throws {
        var status = sampleStatus()
        status.statePersisted = false
        status.stateErrors = ["No space left on device"]
        let json = status.json()
        #expect(json.contains("\"state\" : \"Established\""))
        #expect(json.contains("\"bfd\" : \"Up\""))
        let decoded = try JSONDecoder().decode(StatusSnapshot.self, from: Data(json.utf8))
        #expect(decoded == status)
        #expect(decoded.peers.first?.state == .established)
        #expect(decoded.peers.first?.bfd == .up)
    }

    @Test func unsavedDrainsShowInMetricsAndText() {
        var status = sampleStatus()
        status.statePersisted = false
        status.stateErrors = ["No space left on device"]
        let lines = status.prometheus().split(separator: "\n").map(String.init)
        #expect(lines.contains("anycastd_state_persisted 0"))
        #expect(status.text().contains("state: NOT PERSISTED"))
        #expect(status.text().contains("  No space left on device"))
        status.statePersisted = true
        status.stateErrors = []
        #expect(status.prometheus().split(separator: "\n").map(String.init).contains("anycastd_state_persisted 1"))
        status.peers[0].state = .openSent
        #expect(status.prometheus().contains("anycastd_bgp_peer_up{address=\"10.0.0.1\",peer=\"core1\"} 0"))
    }
}
