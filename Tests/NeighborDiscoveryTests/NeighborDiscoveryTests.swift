// BGP unnumbered's neighbor discovery without sockets: Router Advertisement bytes both ways (checked
// against the RFC 4861 §4.2 layout and FRR's own advertisement), the validity checks of §6.1, and the
// link decisions on a fake clock: when advertisements go out, solicitations answered no sooner than
// MIN_DELAY_BETWEEN_RAS, which router is the neighbor, and when it is forgotten.
import NeighborDiscovery
import NetAddress
import Testing

private func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

private let frr = IPv6Address("fe80::a8c1:abff:fe01:2")!
private let other = IPv6Address("fe80::2")!

@Suite struct RouterAdvertisementTests {
    @Test func oursHasRouterLifetimeZeroAndTheMACAddress() {
        let bytes = RouterAdvertisement.unnumbered(linkLayerAddress: [0x02, 0, 0, 0, 0, 0x11]).encoded()
        // Type 134, code 0, checksum 0 (the kernel's), hop limit 0, flags 0, lifetime 0, reachable 0,
        // retrans 0, option 1 (source link-layer address) of one 8-byte unit.
        #expect(bytes == hex("86 00 0000 00 00 0000 00000000 00000000 01 01 020000000011"))
        let withoutMAC = RouterAdvertisement.unnumbered(linkLayerAddress: nil).encoded()
        #expect(withoutMAC == hex("86 00 0000 00 00 0000 00000000 00000000"))
    }

    @Test func frrsAdvertisementDecodes() throws {
        // As FRR 8.4 sends it for `neighbor IF interface` (hop limit 64, lifetime 1800 s unless set to 0,
        // source link-layer address and MTU options); checksum as on the wire.
        let bytes = hex(
            "86 00 1A2B 40 00 0708 00000000 00000000 01 01 aac1ab010002 05 01 0000 000005DC")
        let message = try NeighborDiscoveryMessage.decode(bytes, source: frr, hopLimit: 255)
        #expect(
            message
                == .routerAdvertisement(
                    RouterAdvertisement(
                        currentHopLimit: 64, routerLifetime: 1800, sourceLinkLayerAddress: hex("aac1ab010002"))))
    }

    @Test func solicitationDecodes() throws {
        let message = try NeighborDiscoveryMessage.decode(
            hex("85 00 0000 00000000 01 01 aac1ab010002"), source: frr, hopLimit: 255)
        #expect(message == .routerSolicitation(sourceLinkLayerAddress: hex("aac1ab010002")))
        let fromNowhere = try NeighborDiscoveryMessage.decode(
            hex("85 00 0000 00000000"), source: IPv6Address(high: 0, low: 0), hopLimit: 255)
        #expect(fromNowhere == .routerSolicitation(sourceLinkLayerAddress: nil))
    }

    @Test(arguments: [
        ("86 00 0000 40 00 0708 00000000 00000000", 64, "fe80::1", "hop limit 64"),
        ("86 01 0000 40 00 0708 00000000 00000000", 255, "fe80::1", "code 1"),
        ("86 00 0000 40 00 0708 00000000 0000", 255, "fe80::1", "14 bytes"),
        ("86 00 0000 40 00 0708 00000000 00000000", 255, "2001:db8::1", "not link-local"),
        ("86 00 0000 40 00 0708 00000000 00000000 01 00 aac1ab010002", 255, "fe80::1", "option length 0"),
        ("86 00 0000 40 00 0708 00000000 00000000 01 02 aac1ab010002", 255, "fe80::1", "option overrun"),
        ("85 00 0000 00000000 01 01 aac1ab010002", 255, "::", "RS from :: with a MAC"),
        ("87 00 0000 00000000", 255, "fe80::1", "neighbor solicitation"),
    ])
    func invalidMessagesAreRefused(bytes: String, hopLimit: Int, source: String, why: String) {
        #expect(throws: NeighborDiscoveryDecodeError.self, "\(why)") {
            try NeighborDiscoveryMessage.decode(hex(bytes), source: IPv6Address(source)!, hopLimit: hopLimit)
        }
    }

    @Test func oversizedPacketsAreRefused() {
        let big = hex("86 00 0000 40 00 0708 00000000 00000000") + [UInt8](repeating: 0, count: 1500)
        #expect(throws: NeighborDiscoveryDecodeError.self) {
            try NeighborDiscoveryMessage.decode(big, source: frr, hopLimit: 255)
        }
    }
}

@Suite struct LinkNeighborsTests {
    let advertisement = NeighborDiscoveryMessage.routerAdvertisement(RouterAdvertisement(routerLifetime: 1800))

    @Test func advertisesAtOnceThenEveryInterval() {
        var links = LinkNeighbors()
        #expect(links.setInterfaces(["eth1"], now: .zero) == [.advertise(interface: "eth1")])
        #expect(links.nextDeadline == .seconds(3))
        #expect(links.timerFired(now: .milliseconds(2999)).isEmpty)
        #expect(links.timerFired(now: .seconds(3)) == [.advertise(interface: "eth1")])
        #expect(links.setInterfaces(["eth1", "eth2"], now: .seconds(4)) == [.advertise(interface: "eth2")])
        #expect(links.interfaces == ["eth1", "eth2"])
    }

    @Test func solicitationsAreAnsweredNoSoonerThanTheMinimumDelay() {
        var links = LinkNeighbors(timing: .init(interval: .seconds(10), minimumDelay: .seconds(3)))
        _ = links.setInterfaces(["eth1"], now: .zero)
        let solicitation = NeighborDiscoveryMessage.routerSolicitation(sourceLinkLayerAddress: nil)
        // One second after the last advertisement: answered at 3 s, not now and not at 10 s.
        #expect(links.received(solicitation, from: frr, on: "eth1", now: .seconds(1)).isEmpty)
        #expect(links.nextDeadline == .seconds(3))
        #expect(links.timerFired(now: .seconds(3)) == [.advertise(interface: "eth1")])
        // Long after: answered at once.
        #expect(
            links.received(solicitation, from: frr, on: "eth1", now: .seconds(8)) == [.advertise(interface: "eth1")])
        // A flood of solicitations costs one advertisement per minimum delay.
        var sent = 0
        for tenth in 81...200 {
            sent += links.received(solicitation, from: frr, on: "eth1", now: .milliseconds(tenth * 100)).count
            sent += links.timerFired(now: .milliseconds(tenth * 100)).count
        }
        #expect(sent == 4)
    }

    @Test func theFirstRouterHeardIsTheNeighborUntilItFallsSilent() {
        var links = LinkNeighbors(timing: .init(neighborTimeout: .seconds(60)))
        _ = links.setInterfaces(["eth1"], now: .zero)
        #expect(
            links.received(advertisement, from: frr, on: "eth1", now: .seconds(1))
                == [.neighborChanged(interface: "eth1", neighbor: frr)])
        #expect(links.received(advertisement, from: other, on: "eth1", now: .seconds(2)).isEmpty)
        #expect(links.neighbor(on: "eth1") == frr)
        // Only `other` keeps advertising: 60 s after frr's last one (at 61 s), other takes over.
        _ = links.received(advertisement, from: other, on: "eth1", now: .seconds(50))
        #expect(links.timerFired(now: .seconds(61)).contains(.neighborChanged(interface: "eth1", neighbor: other)))
        #expect(links.neighbor(on: "eth1") == other)
        // Then other falls silent too: no neighbor.
        #expect(links.timerFired(now: .seconds(110)).contains(.neighborChanged(interface: "eth1", neighbor: nil)))
        #expect(links.neighbor(on: "eth1") == nil)
    }

    @Test func messagesOnOtherLinksAndRemovedLinksAreIgnored() {
        var links = LinkNeighbors()
        _ = links.setInterfaces(["eth1"], now: .zero)
        #expect(links.received(advertisement, from: frr, on: "eth9", now: .seconds(1)).isEmpty)
        _ = links.received(advertisement, from: frr, on: "eth1", now: .seconds(1))
        #expect(links.setInterfaces([], now: .seconds(2)) == [.neighborChanged(interface: "eth1", neighbor: nil)])
        #expect(links.nextDeadline == nil)
    }
}
