// BGP unnumbered in the session shell: next hops of a peer given by interface (RFC 8950: IPv4 routes
// with the link-local next hop, or the configured global one followed by it), the OPEN it sends
// (Extended Next Hop only for unnumbered peers), passive until a neighbor is known, and settings
// changes that only teach a neighbor address not resetting the session.
import BGP
import NetAddress
import Testing

@testable import BGPSession

@Suite struct UnnumberedTests {
    static let linkLocal = IPv6Address("fe80::11")!
    static let unspecifiedV4 = RouteAttributes.external(localASN: 65011, nextHop: .v4(IPv4Address(0)))
    static let unspecifiedV6 = RouteAttributes.external(localASN: 65011, nextHop: .v6(IPv6Address("::")!))

    static func settings(neighbor: String = "::", ipv6NextHop: IPv6Address? = nil) -> BGPPeerSettings {
        BGPPeerSettings(
            name: "tor1", address: IPAddress(neighbor)!, asn: 65000, localASN: 65011,
            routerId: IPv4Address("10.0.0.11")!, families: [.ipv4, .ipv6], ipv6NextHop: ipv6NextHop,
            interface: "eth1")
    }

    @Test func ipv4AndIPv6RoutesGetTheLinkLocalNextHop() {
        let routes = [
            IPPrefix("192.0.2.53/32")!: Self.unspecifiedV4, IPPrefix("2001:db8:53::53/128")!: Self.unspecifiedV6,
        ]
        let resolved = PeerController.resolve(
            routes, settings: Self.settings(neighbor: "fe80::1"), localAddress: .v6(Self.linkLocal),
            linkLocal: Self.linkLocal)
        for prefix in routes.keys {
            #expect(resolved[prefix]?.nextHop == .v6(Self.linkLocal), "\(prefix)")
        }
        // As 16 bytes: the link-local one is not repeated as the second next hop.
        let context = CodecContext(fourOctetAS: true, extendedNextHop: [.ipv4Unicast])
        var rib = AdjRibOut(context: context)
        _ = rib.setDesired(resolved)
        let reach = rib.announceAll().compactMap { update in
            update.attributes.lazy.compactMap { if case .mpReach(let reach) = $0 { reach } else { nil } }.first
        }
        #expect(reach.map(\.nextHops) == [[.v6(Self.linkLocal)], [.v6(Self.linkLocal)]])
        #expect(Set(reach.map(\.family)) == [.ipv4Unicast, .ipv6Unicast])
    }

    @Test func aConfiguredGlobalNextHopGoesFirstWithTheLinkLocal() {
        let global = IPv6Address("2001:db8::11")!
        let routes = [
            IPPrefix("192.0.2.53/32")!: Self.unspecifiedV4,
            IPPrefix("2001:db8:53::53/128")!: RouteAttributes.external(localASN: 65011, nextHop: .v6(global)),
        ]
        let resolved = PeerController.resolve(
            routes, settings: Self.settings(ipv6NextHop: global), localAddress: .v6(Self.linkLocal),
            linkLocal: Self.linkLocal)
        for prefix in routes.keys {
            #expect(resolved[prefix]?.nextHop == .v6(global), "\(prefix)")
            #expect(resolved[prefix]?.linkLocalNextHop == Self.linkLocal, "\(prefix)")
        }
    }

    @Test func openCarriesExtendedNextHopOnlyForUnnumberedPeers() {
        let unnumbered = PeerController.configuration(Self.settings())
        #expect(unnumbered.openMessage.extendedNextHops == [.ipv4OverIPv6])
        var numbered = Self.settings()
        numbered.interface = nil
        numbered.address = IPAddress("2001:db8::1")!
        #expect(PeerController.configuration(numbered).openMessage.extendedNextHops.isEmpty)
        var ipv6Only = Self.settings()
        ipv6Only.families = [.ipv6]
        #expect(PeerController.configuration(ipv6Only).openMessage.extendedNextHops.isEmpty)
    }

    @Test func passiveUntilANeighborIsKnown() {
        #expect(PeerController.configuration(Self.settings()).passive)
        #expect(!PeerController.configuration(Self.settings(neighbor: "fe80::1")).passive)
    }

    @Test func learningTheNeighborIsNoSessionReset() {
        let unknown = Self.settings()
        let learnt = Self.settings(neighbor: "fe80::1")
        #expect(!unknown.needsReset(comparedTo: learnt))
        var otherLink = learnt
        otherLink.interface = "eth2"
        #expect(learnt.needsReset(comparedTo: otherLink))
        var numbered = learnt
        numbered.interface = nil
        #expect(
            numbered.needsReset(
                comparedTo: {
                    var s = numbered; s.address = IPAddress("fe80::2")!; return s
                }()))
    }
}
