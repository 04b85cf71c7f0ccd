// The announcement packer: only differences are sent, prefixes sharing attributes are packed into as
// few 4096-byte UPDATEs as possible, and what is sent decodes back to the desired set.
import BGP
import NetAddress
import Testing

@Suite struct AdjRibOutTests {
    let attributes = RouteAttributes.external(localASN: 65010, nextHop: .v4(v4("10.0.0.1")))
    let attributesV6 = RouteAttributes.external(
        localASN: 65010, nextHop: .v6(v6("2001:db8::1")), linkLocalNextHop: v6("fe80::1"))

    func hosts(_ count: Int, base: UInt32 = 0x0A64_0000) -> [IPPrefix] {
        (0..<count).map { IPPrefix(host: .v4(IPv4Address(base + UInt32($0)))) }
    }

    func hostsV6(_ count: Int) -> [IPPrefix] {
        (0..<count).map { IPPrefix(host: .v6(IPv6Address(high: 0x2001_0db8_0053_0000, low: UInt64($0)))) }
    }

    func active(_ context: CodecContext = as4) -> AdjRibOut {
        var rib = AdjRibOut(context: context)
        _ = rib.announceAll()
        return rib
    }

    /// Encodes and decodes every UPDATE, checking the size limit, and replays them into a route table.
    func replay(_ updates: [UpdateMessage], into table: inout [IPPrefix: UpdateMessage], context: CodecContext = as4)
        throws
    {
        for update in updates {
            let encoded = try BGPMessage.update(update).encoded(context: context)
            #expect(encoded.count <= 4096)
            let (decoded, disposition) = try decodeUpdate(encoded, context: context)
            #expect(disposition == .normal)
            for prefix in decoded.withdrawnPrefixes { table[prefix] = nil }
            for prefix in decoded.announcedPrefixes { table[prefix] = decoded }
        }
    }

    @Test func tenThousandHostRoutesFitIn13Updates() throws {
        var rib = active()
        let routes = Dictionary(uniqueKeysWithValues: hosts(10_000).map { ($0, attributes) })
        let updates = rib.setDesired(routes)
        #expect(updates.count == 13)
        var table: [IPPrefix: UpdateMessage] = [:]
        try replay(updates, into: &table)
        #expect(Set(table.keys) == Set(routes.keys))
        #expect(table.values.allSatisfy { $0.attribute(.nextHop) == .nextHop(v4("10.0.0.1")) })
        #expect(table.values.allSatisfy { $0.attribute(.asPath) == .asPath([ASPathSegment(.sequence, [65010])]) })
    }

    @Test func sameDesiredSetTwiceSendsNothing() {
        var rib = active()
        let routes = Dictionary(uniqueKeysWithValues: hosts(100).map { ($0, attributes) })
        #expect(rib.setDesired(routes).count == 1)
        #expect(rib.setDesired(routes).isEmpty)
    }

    @Test func changingOnePrefixSendsOneUpdateWithOneNLRI() throws {
        var rib = active()
        var routes = Dictionary(uniqueKeysWithValues: hosts(1000).map { ($0, attributes) })
        _ = rib.setDesired(routes)
        let changed = hosts(1)[0]
        routes[changed] = attributes.addingGracefulShutdown()
        let updates = rib.setDesired(routes)
        #expect(updates.count == 1)
        #expect(updates.first?.nlri == [changed])
        #expect(updates.first?.attribute(.communities) == .communities([.gracefulShutdown]))
    }

    @Test func removedPrefixesAreWithdrawnInTheRightPlace() throws {
        var rib = active()
        let v4Routes = hosts(3).map { ($0, attributes) }
        let v6Routes = hostsV6(2).map { ($0, attributesV6) }
        _ = rib.setDesired(Dictionary(uniqueKeysWithValues: v4Routes + v6Routes))
        let updates = rib.setDesired(Dictionary(uniqueKeysWithValues: [v4Routes[0], v6Routes[0]]))
        #expect(updates.count == 2)
        #expect(updates[0].withdrawn == [hosts(3)[1], hosts(3)[2]])
        #expect(updates[0].attributes.isEmpty)
        #expect(updates[1].attributes == [.mpUnreach(MPUnreachNLRI(family: .ipv6Unicast, withdrawn: [hostsV6(2)[1]]))])
        #expect(rib.advertised.count == 2)
    }

    @Test func manyWithdrawalsArePackedToo() throws {
        var rib = active()
        _ = rib.setDesired(
            Dictionary(
                uniqueKeysWithValues: (hosts(2000) + hostsV6(1000)).map {
                    ($0, $0.family == .ipv4 ? attributes : attributesV6)
                }))
        let updates = rib.setDesired([:])
        // 814 IPv4 /32s or 239 IPv6 /128s fit per UPDATE.
        #expect(updates.count == 3 + 5)
        var table: [IPPrefix: UpdateMessage] = [:]
        try replay(updates, into: &table)
        #expect(table.isEmpty)
        #expect(rib.advertised.isEmpty)
    }

    @Test func ipv6RoutesGoInMPReachWithLinkLocalNextHop() throws {
        var rib = active()
        let routes = Dictionary(uniqueKeysWithValues: hostsV6(1000).map { ($0, attributesV6) })
        let updates = rib.setDesired(routes)
        // About 237 /128s fit per UPDATE.
        #expect(updates.count == 5)
        #expect(updates.allSatisfy { $0.nlri.isEmpty && $0.attribute(.nextHop) == nil })
        guard case .mpReach(let reach) = updates[0].attribute(.mpReachNLRI) else {
            Issue.record("no MP_REACH_NLRI")
            return
        }
        #expect(reach.nextHops == [.v6(v6("2001:db8::1")), .v6(v6("fe80::1"))])
        var table: [IPPrefix: UpdateMessage] = [:]
        try replay(updates, into: &table)
        #expect(Set(table.keys) == Set(routes.keys))
    }

    @Test func nothingIsSentBeforeEstablishedAndAnnounceAllEndsWithEndOfRIB() {
        var rib = AdjRibOut(context: as4)
        let routes = Dictionary(uniqueKeysWithValues: hosts(10).map { ($0, attributes) })
        #expect(rib.setDesired(routes).isEmpty)
        let initial = rib.announceAll()
        #expect(initial.count == 3)
        #expect(initial[0].nlri.count == 10)
        #expect(initial[1].endOfRIBFamily == .ipv4Unicast)
        #expect(initial[2].endOfRIBFamily == .ipv6Unicast)
        rib.reset()
        #expect(rib.advertised.isEmpty)
        #expect(rib.setDesired(routes).isEmpty)
        // The next session negotiated IPv4 only: one End-of-RIB.
        let again = rib.announceAll(context: CodecContext(fourOctetAS: true, families: [.ipv4Unicast]))
        #expect(again.count == 2)
        #expect(again[1].endOfRIBFamily == .ipv4Unicast)
    }

    @Test func refreshResendsOneFamily() {
        var rib = active()
        _ = rib.setDesired(
            Dictionary(uniqueKeysWithValues: hosts(5).map { ($0, attributes) } + hostsV6(3).map { ($0, attributesV6) }))
        let refreshed = rib.refresh(.ipv4Unicast)
        #expect(refreshed.count == 1)
        #expect(refreshed[0].nlri == hosts(5))
        #expect(rib.refresh(.ipv6Unicast).flatMap(\.announcedPrefixes) == hostsV6(3))
    }

    @Test func unsendablePrefixesAreHeldBack() {
        var rib = active(CodecContext(fourOctetAS: true, families: [.ipv4Unicast]))
        let v6Prefix = hostsV6(1)[0]
        let wrongNextHop = hosts(1)[0]
        let updates = rib.setDesired([v6Prefix: attributesV6, wrongNextHop: attributesV6])
        #expect(updates.isEmpty)
        #expect(rib.unsendable == [v6Prefix, wrongNextHop])
    }

    @Test func internalPeersGetEmptyASPathAndLocalPref() throws {
        let ibgp = CodecContext(fourOctetAS: true, isInternal: true)
        var rib = active(ibgp)
        let updates = rib.setDesired([prefix("192.0.2.53/32"): .internal(nextHop: .v4(v4("10.0.0.1")), localPref: 200)])
        let encoded = try BGPMessage.update(updates[0]).encoded(context: ibgp)
        #expect(encoded == bytes("M 0031 02 0000 0015 40010100 400200 4003040A000001 400504000000C8 20C0000235"))
    }

    @Test func twoOctetPeerGetsASTransAndAS4Path() throws {
        var rib = active(as2)
        let updates = rib.setDesired([
            prefix("192.0.2.53/32"): .external(localASN: 4_200_000_000, prepend: 1, nextHop: .v4(v4("10.0.0.1")))
        ])
        let encoded = try BGPMessage.update(updates[0]).encoded(context: as2)
        let (decoded, _) = try decodeUpdate(encoded, context: as2)
        #expect(decoded.attribute(.asPath) == .asPath([ASPathSegment(.sequence, [23456, 23456])]))
        #expect(decoded.attribute(.as4Path) == .unknown(flags: 0xC0, type: 17, value: bytes("0202 FA56EA00 FA56EA00")))
    }

    @Test func longASPathIsSplitIntoSegmentsOf255() throws {
        var rib = active()
        let updates = rib.setDesired([
            prefix("192.0.2.53/32"): .external(localASN: 65010, prepend: 299, nextHop: .v4(v4("10.0.0.1")))
        ])
        let (decoded, _) = try decodeUpdate(try BGPMessage.update(updates[0]).encoded(context: as4))
        #expect(
            decoded.attribute(.asPath)
                == .asPath([
                    ASPathSegment(.sequence, [UInt32](repeating: 65010, count: 255)),
                    ASPathSegment(.sequence, [UInt32](repeating: 65010, count: 45)),
                ]))
    }

    @Test func communitiesAreSortedAndDeduplicated() {
        let a = RouteAttributes(
            nextHop: .v4(v4("10.0.0.1")),
            communities: [
                Community(asn: 65010, value: 2), Community(asn: 65010, value: 1), Community(asn: 65010, value: 2),
            ],
            largeCommunities: [
                LargeCommunity(global: 1, local1: 2, local2: 3), LargeCommunity(global: 1, local1: 1, local2: 1),
            ])
        #expect(a.communities == [Community(asn: 65010, value: 1), Community(asn: 65010, value: 2)])
        #expect(
            a.largeCommunities == [
                LargeCommunity(global: 1, local1: 1, local2: 1), LargeCommunity(global: 1, local1: 2, local2: 3),
            ])
        let b = RouteAttributes(
            nextHop: .v4(v4("10.0.0.1")),
            communities: [Community(asn: 65010, value: 1), Community(asn: 65010, value: 2)],
            largeCommunities: [
                LargeCommunity(global: 1, local1: 1, local2: 1), LargeCommunity(global: 1, local1: 2, local2: 3),
                LargeCommunity(global: 1, local1: 2, local2: 3),
            ])
        #expect(a == b)
    }
}
