// RFC 2545 §3: the link-local next hop goes with "next hop self" on IPv6 sessions to on-link peers only.
import BGP
import NetAddress
import Testing

@testable import BGPSession

@Suite struct LinkLocalNextHopTests {
    typealias Entry = LinkLocalNextHop.InterfaceAddress
    static let addresses = [
        Entry(interface: "lo", address: IPv6Address("::1")!, prefixLength: 128),
        Entry(interface: "eth0", address: IPv6Address("2001:db8:77:1::2")!, prefixLength: 64),
        Entry(interface: "eth0", address: IPv6Address("fe80::1:2")!, prefixLength: 64),
        Entry(interface: "eth1", address: IPv6Address("2001:db8:88::2")!, prefixLength: 64),
        Entry(interface: "eth1", address: IPv6Address("fe80::88:2")!, prefixLength: 64),
        // addrgenmode none: no link-local address on this one.
        Entry(interface: "eth2", address: IPv6Address("2001:db8:99::2")!, prefixLength: 64),
        Entry(interface: "anycast0", address: IPv6Address("2001:db8:53::53")!, prefixLength: 128),
    ]

    static func choose(_ local: String, _ peer: String) -> IPv6Address? {
        LinkLocalNextHop.choose(local: IPv6Address(local)!, peer: IPv6Address(peer)!, from: addresses)
    }

    @Test func onLinkPeerGetsTheInterfacesLinkLocal() {
        #expect(Self.choose("2001:db8:77:1::2", "2001:db8:77:1::1") == IPv6Address("fe80::1:2"))
        #expect(Self.choose("2001:db8:88::2", "2001:db8:88::ffff") == IPv6Address("fe80::88:2"))
    }

    @Test func noLinkLocalWhenThePeerIsNotOnLinkOrTheInterfaceHasNone() {
        #expect(Self.choose("2001:db8:77:1::2", "2001:db8:77:2::1") == nil, "peer in another /64: multihop")
        #expect(Self.choose("2001:db8:99::2", "2001:db8:99::1") == nil, "interface without fe80::")
        #expect(Self.choose("2001:db8:53::53", "2001:db8:53::1") == nil, "a /128 has no neighbours")
        #expect(Self.choose("2001:db8:dead::2", "2001:db8:dead::1") == nil, "local address on no interface")
    }

    @Test func subnetComparisonStopsAtThePrefixLength() {
        let a = IPv6Address("2001:db8:0:ff00::1")!
        #expect(LinkLocalNextHop.sameSubnet(a, IPv6Address("2001:db8:0:ff7f::1")!, length: 57))
        #expect(!LinkLocalNextHop.sameSubnet(a, IPv6Address("2001:db8:0:ff80::1")!, length: 57))
        #expect(LinkLocalNextHop.sameSubnet(a, IPv6Address("::")!, length: 0))
    }

    @Test func resolveAddsTheLinkLocalOnlyToNextHopSelf() {
        let settings = BGPPeerSettings(
            name: "r", address: IPAddress("2001:db8:77:1::1")!, asn: 65000, localASN: 65011,
            routerId: IPv4Address("10.0.0.11")!, localAddress: IPAddress("2001:db8:77:1::2")!,
            families: [.ipv4, .ipv6])
        let unspecified = RouteAttributes.external(localASN: 65011, nextHop: .v6(IPv6Address("::")!))
        let routes = [
            IPPrefix("2001:db8:53::53/128")!: unspecified,
            IPPrefix("192.0.2.53/32")!: unspecified,
        ]
        let linkLocal = IPv6Address("fe80::1:2")!
        let resolved = PeerController.resolve(
            routes, settings: settings, localAddress: settings.localAddress, linkLocal: linkLocal)
        #expect(resolved[IPPrefix("2001:db8:53::53/128")!]?.nextHop == IPAddress("2001:db8:77:1::2"))
        #expect(resolved[IPPrefix("2001:db8:53::53/128")!]?.linkLocalNextHop == linkLocal)
        #expect(resolved[IPPrefix("192.0.2.53/32")!]?.linkLocalNextHop == nil)

        var configured = settings
        configured.ipv6NextHop = IPv6Address("2001:db8::11")
        let other = PeerController.resolve(
            routes, settings: configured, localAddress: settings.localAddress, linkLocal: linkLocal)
        #expect(other[IPPrefix("2001:db8:53::53/128")!]?.nextHop == IPAddress("2001:db8::11"))
        #expect(other[IPPrefix("2001:db8:53::53/128")!]?.linkLocalNextHop == nil, "the next hop is not us")
    }

    /// The real lookup on this namespace's interfaces: loopback is never on-link for anything.
    @Test func loopbackHasNoLinkLocal() {
        #expect(
            LinkLocalNextHop.interfaceAddresses().contains { $0.interface == "lo" && $0.address == IPv6Address("::1") })
        #expect(LinkLocalNextHop.lookup(local: IPv6Address("::1")!, peer: IPv6Address("::1")!) == nil)
    }
}
