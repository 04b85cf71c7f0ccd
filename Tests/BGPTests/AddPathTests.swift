// ADD-PATH receive (RFC 7911): the capability both ways, negotiation per family, NLRI, withdrawn routes,
// MP_REACH and MP_UNREACH with path identifiers from hand-built bytes, the malformed cases, and the
// received paths kept per (prefix, path identifier) with the changes reported for own prefixes.
import BGP
import NetAddress
import Testing

@Suite struct AddPathTests {
    static let receiveV4 = CodecContext(fourOctetAS: true, addPathReceive: [.ipv4Unicast])
    static let receiveBoth = CodecContext(fourOctetAS: true, addPathReceive: [.ipv4Unicast, .ipv6Unicast])
    static let sendBoth = CodecContext(fourOctetAS: true, addPathSend: [.ipv4Unicast, .ipv6Unicast])
    /// ORIGIN IGP, AS_PATH [65010], NEXT_HOP 10.0.0.1.
    static let attributes = bytes("40010100 4002060201 0000FDF2 4003040A000001")
    static let ipv6Prefix = "2001:db8::53/128"
    static let ipv6PrefixBytes = bytes("80 20010DB8000000000000000000000053")
    static let ipv6NextHop = bytes("20010DB8000000000000000000000001")

    // MARK: capability

    @Test func ourOpenAdvertisesReceiveForEachFamilyOnlyWhenAsked() throws {
        var configuration = Harness.configuration()
        let plain = try BGPMessage.open(configuration.openMessage).encoded(context: as4)
        #expect(!configuration.openMessage.capabilities.contains { $0.code == 69 })
        #expect(
            plain
                == (try BGPMessage.open(
                    OpenMessage(
                        asn: 65010, holdTime: 90, identifier: v4("192.0.2.1"),
                        families: [.ipv4Unicast, .ipv6Unicast])
                ).encoded(context: as4)))
        configuration.addPathReceive = true
        let open = configuration.openMessage
        #expect(open.addPathFamilies == [AddPathFamily(.ipv4Unicast, .receive), AddPathFamily(.ipv6Unicast, .receive)])
        let encoded = try BGPMessage.open(open).encoded(context: as4)
        // The same OPEN with one more capability at the end: code 69, length 8, 1/1 receive, 2/1 receive.
        #expect(encoded.count == plain.count + 10)
        #expect(Array(encoded.suffix(10)) == bytes("45 08 0001 01 01 0002 01 01"))
        #expect(try BGPMessage.decode(bytes: encoded, context: as4).message == .open(open))
    }

    @Test func capabilityDecodesEveryModeAndMalformedOnesStayUnknown() throws {
        func open(_ capability: String) -> [UInt8] {
            let value = bytes(capability)
            return frame(
                type: 1, bytes("04 FDE8 005A C0000201") + [UInt8(value.count + 2), 2, UInt8(value.count)] + value)
        }
        func capabilities(_ capability: String) throws -> [Capability] {
            guard case .open(let message) = try BGPMessage.decode(bytes: open(capability), context: as4).message
            else { return [] }
            return message.capabilities
        }
        #expect(
            try capabilities("45 0C 0001 01 02 0002 01 03 0001 02 01")
                == [
                    .addPath([
                        AddPathFamily(.ipv4Unicast, .send), AddPathFamily(.ipv6Unicast, .both),
                        AddPathFamily(BGPFamily(afi: 1, safi: 2), .receive),
                    ])
                ])
        // RFC 7911 §4: a Send/Receive value outside 1…3 makes the capability not understood.
        #expect(try capabilities("45 04 0001 01 04") == [.unknown(code: 69, value: bytes("0001 01 04"))])
        #expect(try capabilities("45 04 0001 01 00") == [.unknown(code: 69, value: bytes("0001 01 00"))])
        #expect(try capabilities("45 03 0001 01") == [.unknown(code: 69, value: bytes("0001 01"))])
        #expect(try capabilities("45 00") == [.unknown(code: 69, value: [])])
    }

    @Test func negotiatedPerFamilyWhenThePeerSends() {
        func negotiate(ours: Bool, peer: [AddPathFamily]) -> Set<BGPFamily>? {
            var configuration = Harness.configuration()
            configuration.addPathReceive = ours
            var harness = Harness(configuration)
            harness.handle(.start)
            harness.handle(.tcpConnected(.outbound))
            var open = harness.peerOpen()
            if !peer.isEmpty { open.capabilities.append(.addPath(peer)) }
            harness.handle(.messageReceived(.open(open)))
            #expect(harness.state == .openConfirm)
            return harness.machine.negotiated?.codecContext.addPathReceive
        }
        #expect(negotiate(ours: true, peer: [AddPathFamily(.ipv4Unicast, .send)]) == [.ipv4Unicast])
        #expect(
            negotiate(ours: true, peer: [AddPathFamily(.ipv4Unicast, .both), AddPathFamily(.ipv6Unicast, .send)])
                == [.ipv4Unicast, .ipv6Unicast])
        // The peer only receiving, or not offering it, or our side not asking: nothing.
        #expect(negotiate(ours: true, peer: [AddPathFamily(.ipv4Unicast, .receive)]) == [])
        #expect(negotiate(ours: true, peer: []) == [])
        #expect(negotiate(ours: false, peer: [AddPathFamily(.ipv4Unicast, .both)]) == [])
        // A family the session did not negotiate is not received with paths either.
        #expect(negotiate(ours: true, peer: [AddPathFamily(BGPFamily(afi: 1, safi: 2), .send)]) == [])
    }

    // MARK: UPDATE decoding

    @Test func ipv4NLRIAndWithdrawnRoutesCarryPathIdentifiers() throws {
        let message = updateFrame(
            withdrawn: bytes("00000009 18 C63364"), attributes: Self.attributes,
            nlri: bytes("00000001 20 C000020A 00000002 20 C000020A"))
        let (update, disposition) = try decodeUpdate(message, context: Self.receiveV4)
        #expect(disposition == .normal)
        #expect(update.nlri == [prefix("192.0.2.10/32"), prefix("192.0.2.10/32")])
        #expect(update.nlriPathIDs == [1, 2])
        #expect(update.withdrawn == [prefix("198.51.100.0/24")])
        #expect(update.withdrawnPathIDs == [9])
        #expect(
            update.announcedPaths == [
                PrefixPath(prefix("192.0.2.10/32"), pathID: 1), PrefixPath(prefix("192.0.2.10/32"), pathID: 2),
            ])
        #expect(update.withdrawnPaths == [PrefixPath(prefix("198.51.100.0/24"), pathID: 9)])
        // The same bytes re-encoded by an ADD-PATH sender, and decoded again.
        let encoded = try BGPMessage.update(update).encoded(context: Self.sendBoth)
        #expect(encoded == message)
    }

    @Test func mpReachAndMpUnreachCarryPathIdentifiersForTheirFamily() throws {
        let reach =
            bytes("0002 01 10") + Self.ipv6NextHop + [0] + bytes("00000007") + Self.ipv6PrefixBytes
            + bytes("00000008") + Self.ipv6PrefixBytes
        let unreach = bytes("0002 01 00000005") + Self.ipv6PrefixBytes
        let attributes =
            [0x80, 0x0E, UInt8(reach.count)] + reach + [0x80, 0x0F, UInt8(unreach.count)] + unreach
            + bytes("40010100 4002060201 0000FDF2")
        let message = updateFrame(attributes: attributes)
        let (update, disposition) = try decodeUpdate(message, context: Self.receiveBoth)
        #expect(disposition == .normal)
        let own = prefix(Self.ipv6Prefix)
        #expect(update.announcedPaths == [PrefixPath(own, pathID: 7), PrefixPath(own, pathID: 8)])
        #expect(update.withdrawnPaths == [PrefixPath(own, pathID: 5)])
        #expect(try BGPMessage.update(update).encoded(context: Self.sendBoth) == message)
    }

    @Test func withoutADDPATHNothingChanges() throws {
        let (update, _) = try decodeUpdate(
            updateFrame(attributes: Self.attributes, nlri: bytes("20 C000020A")), context: as4)
        #expect(update.nlriPathIDs.isEmpty)
        #expect(update.announcedPaths == [PrefixPath(prefix("192.0.2.10/32"))])
        // Our own UPDATEs never carry identifiers; asking for it without ADD-PATH is a bug.
        var withIDs = update
        withIDs.nlriPathIDs = [1]
        #expect(throws: BGPEncodeError.self) { try BGPMessage.update(withIDs).encoded(context: as4) }
    }

    @Test func malformedPathIdentifiersAreInvalidNetworkField() {
        // A path identifier cut short, one with no prefix after it, and a prefix too long after one.
        for nlri in ["000000", "00000001", "00000001 21 C000020A00", "00000001 20 C00002"] {
            expectDecodeError(
                updateFrame(attributes: Self.attributes, nlri: bytes(nlri)), context: Self.receiveV4, code: 3,
                subcode: 10)
            expectDecodeError(
                updateFrame(withdrawn: bytes(nlri), attributes: []), context: Self.receiveV4, code: 3, subcode: 10)
        }
        // The same inside MP_UNREACH_NLRI.
        let unreach = bytes("0002 01 000000")
        expectDecodeError(
            updateFrame(attributes: [0x80, 0x0F, UInt8(unreach.count)] + unreach), context: Self.receiveBoth,
            code: 3, subcode: 10)
    }

    @Test func treatAsWithdrawWithdrawsThePathsItAnnounces() throws {
        // No AS_PATH: RFC 7606 treat-as-withdraw, which must take out path 2 only.
        let bad = updateFrame(
            attributes: bytes("40010100 4003040A000001"), nlri: bytes("00000002 20 C000020A"))
        let (update, disposition) = try decodeUpdate(bad, context: Self.receiveV4)
        #expect(disposition.isTreatAsWithdraw)
        let own = prefix("192.0.2.10/32")
        var routes = ReceivedRoutes(maxPrefixes: 10, ownPrefixes: [own])
        let good = UpdateMessage(
            attributes: HardeningTests.route, nlri: [own, own], nlriPathIDs: [1, 2])
        _ = routes.apply(good, disposition: .normal)
        _ = routes.takeOwnChanges()
        _ = routes.apply(update, disposition: disposition)
        #expect(routes.ownRoutes[own].map { Array($0.keys) } == [1])
        #expect(routes.takeOwnChanges()[own]?.map(\.pathID) == [1])
    }

    // MARK: received paths

    @Test func pathsAreKeptPerIdentifierAndChangesReported() {
        let own = prefix("192.0.2.10/32")
        var routes = ReceivedRoutes(maxPrefixes: 10, ownPrefixes: [own])
        let first = HardeningTests.route
        var second = HardeningTests.route
        second[2] = .nextHop(v4("10.0.0.2"))
        second.append(.communities([Community(asn: 65000, value: 666)]))
        _ = routes.apply(UpdateMessage(attributes: first, nlri: [own], nlriPathIDs: [1]), disposition: .normal)
        _ = routes.apply(
            UpdateMessage(attributes: second, nlri: [own, prefix("10.9.0.0/16")], nlriPathIDs: [2, 1]),
            disposition: .normal)
        let changes = routes.takeOwnChanges()
        #expect(Array(changes.keys) == [own], "only own prefixes are reported")
        #expect(changes[own]?.map(\.pathID) == [1, 2])
        #expect(changes[own]?.map(\.nextHop) == [.v4(v4("10.0.0.1")), .v4(v4("10.0.0.2"))])
        #expect(changes[own]?[1].communities == [Community(asn: 65000, value: 666)])
        #expect(changes[own]?[0].flatASPath == [65000])
        #expect(routes.count(.ipv4) == 3, "maxPrefixes counts paths")
        // The same path again is no change; another attribute on it is.
        _ = routes.apply(UpdateMessage(attributes: first, nlri: [own], nlriPathIDs: [1]), disposition: .normal)
        #expect(routes.takeOwnChanges().isEmpty)
        _ = routes.apply(UpdateMessage(attributes: second, nlri: [own], nlriPathIDs: [1]), disposition: .normal)
        #expect(routes.takeOwnChanges()[own]?.map(\.nextHop) == [.v4(v4("10.0.0.2")), .v4(v4("10.0.0.2"))])
        // Withdrawing path 1 leaves path 2; withdrawing a path never announced is no change.
        _ = routes.apply(UpdateMessage(withdrawn: [own], withdrawnPathIDs: [1]), disposition: .normal)
        #expect(routes.takeOwnChanges()[own]?.map(\.pathID) == [2])
        _ = routes.apply(UpdateMessage(withdrawn: [own], withdrawnPathIDs: [7]), disposition: .normal)
        #expect(routes.takeOwnChanges().isEmpty)
        // A session that ends reports the prefix with no paths.
        routes.sessionEnded()
        #expect(routes.takeOwnChanges() == [own: []])
        #expect(routes.takeOwnChanges().isEmpty)
    }

    @Test func theLimitCountsPaths() {
        var routes = ReceivedRoutes(maxPrefixes: 2)
        let one = prefix("192.0.2.10/32")
        #expect(
            routes.apply(
                UpdateMessage(attributes: HardeningTests.route, nlri: [one, one], nlriPathIDs: [1, 2]),
                disposition: .normal) == .accepted)
        #expect(
            routes.apply(
                UpdateMessage(attributes: HardeningTests.route, nlri: [one], nlriPathIDs: [3]),
                disposition: .normal) == .limitExceeded(family: .ipv4Unicast, limit: 2))
    }

    @Test func ipv6PathsTakeTheirNextHopFromMPReach() {
        let own = prefix(Self.ipv6Prefix)
        var routes = ReceivedRoutes(maxPrefixes: 10, ownPrefixes: [own])
        let hop = IPAddress("2001:db8::1")!
        let update = UpdateMessage(attributes: [
            .mpReach(MPReachNLRI(family: .ipv6Unicast, nextHops: [hop], nlri: [own], pathIDs: [4])),
            .origin(.igp), .asPath([ASPathSegment(.sequence, [65001, 65002]), ASPathSegment(.set, [65003])]),
            .largeCommunities([LargeCommunity(global: 65000, local1: 1, local2: 2)]),
        ])
        _ = routes.apply(update, disposition: .normal)
        let path = routes.takeOwnChanges()[own]?.first
        #expect(path?.nextHop == hop)
        #expect(path?.pathID == 4)
        #expect(path?.flatASPath == [65001, 65002, 65003])
        #expect(path?.largeCommunities == [LargeCommunity(global: 65000, local1: 1, local2: 2)])
        #expect(path?.attributes.contains { $0.typeCode == 14 } == false)
        // No longer own: forgotten, nothing reported.
        routes.ownPrefixes = []
        #expect(routes.ownRoutes.isEmpty)
        #expect(routes.takeOwnChanges().isEmpty)
    }
}
