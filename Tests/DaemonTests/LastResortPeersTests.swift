// Which peers the daemon asks for every path (ADD-PATH receive) and which prefixes' paths it watches: the
// prefixes of last-resort services, per peer they are announced to.
import Config
import NetAddress
import Testing

@testable import Daemon

@Suite struct LastResortPeersTests {
    @Test func onlyLastResortServicesAndOnlyTheirPeers() {
        let dns = IPPrefix("192.0.2.53/32")!
        let ntp = IPPrefix("192.0.2.123/32")!
        let ldap = IPPrefix("192.0.2.89/32")!
        let state = DesiredState(
            interface: InterfaceConfig(),
            bgp: BGPConfig(
                asn: 65011, routerId: IPv4Address("10.0.0.11")!,
                peers: [
                    PeerConfig(name: "core1", address: IPAddress("10.0.0.1")!, asn: 65000),
                    PeerConfig(name: "core2", address: IPAddress("10.0.0.2")!, asn: 65000),
                ]),
            services: [
                ServiceConfig(name: "dns", prefixes: [dns], lastResort: true),
                ServiceConfig(name: "ntp", prefixes: [ntp]),
                ServiceConfig(name: "ldap", prefixes: [ldap], peers: ["core2"], lastResort: true),
            ])
        #expect(BGPAnnouncer.lastResortPrefixes(state) == ["core1": [dns], "core2": [dns, ldap]])
        var none = state
        none.services = [ServiceConfig(name: "ntp", prefixes: [ntp])]
        #expect(BGPAnnouncer.lastResortPrefixes(none).isEmpty, "no last resort: no peer gets ADD-PATH")
    }
}
