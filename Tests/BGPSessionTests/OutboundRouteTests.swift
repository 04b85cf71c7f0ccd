// The typed next hop the agent hands over: `.sessionAddress` becomes the session's own address, a
// configured `.address` is kept as is; the other attributes pass through unchanged.
import BGP
import NetAddress
import Testing

@testable import BGPSession

@Suite struct OutboundRouteTests {
    @Test func sessionAddressIsResolvedByTheSessionAndAddressesAreKept() {
        let settings = BGPPeerSettings(
            name: "r", address: IPAddress("10.0.0.1")!, asn: 65000, localASN: 65011,
            routerId: IPv4Address("10.0.0.11")!, localAddress: IPAddress("10.0.0.2")!, families: [.ipv4])
        let own = IPPrefix("192.0.2.53/32")!
        let configured = IPPrefix("192.0.2.80/32")!
        let routes = [
            own: OutboundRoute(
                nextHop: .sessionAddress, asPath: [65011, 65011], med: 5, communities: [.gracefulShutdown]),
            configured: OutboundRoute(nextHop: .address(IPAddress("10.9.9.9")!), asPath: [65011]),
        ]
        let resolved = PeerController.resolve(
            routes.reduce(into: [:]) { $0[$1.key] = $1.value.attributes(for: $1.key) }, settings: settings,
            localAddress: settings.localAddress)
        #expect(resolved[own]?.nextHop == IPAddress("10.0.0.2"))
        #expect(resolved[own]?.asPath == [65011, 65011])
        #expect(resolved[own]?.med == 5)
        #expect(resolved[own]?.communities == [.gracefulShutdown])
        #expect(resolved[configured]?.nextHop == IPAddress("10.9.9.9"))
    }
}
