// The Graceful Restart capability (RFC 4724 §3): the OPEN without it is byte for byte the OPEN of before,
// with it the capability's bytes are exact (R bit, 12-bit time, F bit per family), and routers' values
// (BIRD's, FRR's helper-only form) decode.
import NetAddress
import Testing

@testable import BGP

@Suite struct GracefulRestartTests {
    var configuration: SessionConfiguration {
        SessionConfiguration(
            localASN: 65002, peerASN: 65000, routerID: v4("185.236.240.39"), holdTime: 90,
            families: [.ipv4Unicast, .ipv6Unicast])
    }

    /// The OPEN anycastd sent before Graceful Restart existed: MP v4 and v6, route refresh, AS4.
    let openWithout = bytes("M 0033 01 04 FDEA 005A B9ECF027 16 02 14 01040001 0001 01040002 0001 0200 41040000FDEA")

    @Test func openWithoutGracefulRestartIsUnchanged() throws {
        #expect(configuration.gracefulRestart == nil)
        #expect(try BGPMessage.open(configuration.openMessage).encoded(context: as4) == openWithout)
    }

    @Test func openWithGracefulRestartAppendsCapability64() throws {
        var configuration = configuration
        configuration.gracefulRestart = GracefulRestartCapability(
            restarted: false, restartTime: 120,
            families: [.init(.ipv4Unicast, forwardingPreserved: true), .init(.ipv6Unicast, forwardingPreserved: true)])
        let expected = bytes(
            "M 003F 01 04 FDEA 005A B9ECF027 22 02 20 01040001 0001 01040002 0001 0200 41040000FDEA"
                + " 400A 0078 0001 01 80 0002 01 80")
        #expect(try BGPMessage.open(configuration.openMessage).encoded(context: as4) == expected)

        configuration.gracefulRestart?.restarted = true
        configuration.gracefulRestart?.restartTime = 4095
        let restarted = try BGPMessage.open(configuration.openMessage).encoded(context: as4)
        #expect(Array(restarted.suffix(12)) == bytes("400A 8FFF 0001 01 80 0002 01 80"))
        let decoded = try BGPMessage.decode(bytes: restarted, context: as2)
        #expect(decoded.message == .open(configuration.openMessage))
        guard case .open(let open) = decoded.message else { return }
        #expect(open.gracefulRestart?.restarted == true)
        #expect(open.gracefulRestart?.restartTime == 4095)
    }

    @Test func restartTimeIsTwelveBits() {
        #expect(GracefulRestartCapability(restarted: false, restartTime: 5000, families: []).restartTime == 4095)
        #expect(
            GracefulRestartCapability(restarted: true, restartTime: 4095, families: []).encodedValue == [0x8F, 0xFF])
    }

    @Test func routersCapabilitiesDecode() {
        // FRR in helper mode: restart time, no family; BIRD: IPv4 unicast without the F bit, N bit set.
        let helper = Capability(code: 64, value: bytes("0078"))
        #expect(helper == .gracefulRestart(GracefulRestartCapability(restarted: false, restartTime: 120, families: [])))
        let bird = Capability(code: 64, value: bytes("C05A 0001 01 00"))
        guard case .gracefulRestart(let capability) = bird else {
            Issue.record("not decoded: \(bird)")
            return
        }
        #expect(capability.restarted && capability.notification && capability.restartTime == 90)
        #expect(capability.families == [.init(.ipv4Unicast, forwardingPreserved: false)])
    }

    @Test func malformedCapabilityStaysUnknown() {
        #expect(Capability(code: 64, value: [0x00]) == .unknown(code: 64, value: [0x00]))
        #expect(Capability(code: 64, value: bytes("0078 0001 01")) == .unknown(code: 64, value: bytes("0078 0001 01")))
    }
}
