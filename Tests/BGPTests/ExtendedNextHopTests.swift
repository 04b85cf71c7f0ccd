// RFC 8950 byte vectors: the Extended Next Hop capability both ways, its negotiation in the FSM, IPv4
// NLRI in MP_REACH_NLRI with a 16-byte (link-local) or 32-byte (global + link-local) IPv6 next hop both
// ways, the refusals without negotiation, AdjRibOut's packing of such routes, and OPENs of sessions
// without the capability staying byte-identical.
import BGP
import NetAddress
import Testing

@Suite struct ExtendedNextHopTests {
    let extendedNextHopContext = CodecContext(
        fourOctetAS: true, families: [.ipv4Unicast, .ipv6Unicast], extendedNextHop: [.ipv4Unicast])
    let linkLocalVector = bytes(
        "M 0041 02 0000 002A 800E1A 0001 01 10 FE800000000000000000000000000001 00 20C0000235"
            + " 40010100 4002060201 0000FDF2")
    let globalAndLinkLocalVector = bytes(
        "M 0051 02 0000 003A 800E2A 0001 01 20 20010DB8000000000000000000000011 FE800000000000000000000000000001"
            + " 00 20C0000235 40010100 4002060201 0000FDF2")

    func update(nextHops: [IPAddress]) -> UpdateMessage {
        UpdateMessage(attributes: [
            .mpReach(MPReachNLRI(family: .ipv4Unicast, nextHops: nextHops, nlri: [prefix("192.0.2.53/32")])),
            .origin(.igp), .asPath([ASPathSegment(.sequence, [65010])]),
        ])
    }

    @Test func capabilityBothWays() throws {
        let open = OpenMessage(
            asn: 65002, holdTime: 90, identifier: v4("185.236.240.39"), families: [.ipv4Unicast, .ipv6Unicast],
            extendedNextHop: [.ipv4OverIPv6])
        let vector = bytes(
            "M 003B 01 04 FDEA 005A B9ECF027 1E 02 1C 01040001 0001 01040002 0001 0506 0001 0001 0002 0200 41040000FDEA"
        )
        #expect(try BGPMessage.open(open).encoded(context: as4) == vector)
        let decoded = try BGPMessage.decode(bytes: vector, context: as2)
        #expect(decoded.message == .open(open))
        #expect(open.extendedNextHops == [ExtendedNextHop(family: .ipv4Unicast, nextHopAFI: 2)])
    }

    @Test func capabilityWithSeveralTuplesAndABadLength() throws {
        func capabilities(_ parameter: String) throws -> [Capability] {
            let open = frame(type: 1, bytes("04 FDEA 005A B9ECF027") + bytes(parameter))
            guard case .open(let decoded) = try BGPMessage.decode(bytes: open, context: as2).message else { return [] }
            return decoded.capabilities
        }
        let two = try capabilities("10 02 0E 05 0C 0001 0001 0002 0001 0080 0002")
        #expect(
            two == [
                .extendedNextHop([.ipv4OverIPv6, ExtendedNextHop(family: BGPFamily(afi: 1, safi: 128), nextHopAFI: 2)])
            ])
        // A value that is not a whole number of tuples is kept as unknown, never acted on.
        #expect(try capabilities("09 02 07 05 05 0001 0001 00") == [.unknown(code: 5, value: bytes("0001 0001 00"))])
    }

    @Test func openWithoutTheCapabilityIsUnchanged() throws {
        // The OPEN every existing (numbered) session sends: no code 5, byte for byte as before.
        let configuration = SessionConfiguration(
            localASN: 65002, peerASN: 65000, routerID: v4("185.236.240.39"), families: [.ipv4Unicast, .ipv6Unicast])
        let vector = bytes(
            "M 0033 01 04 FDEA 005A B9ECF027 16 02 14 01040001 0001 01040002 0001 0200 41040000FDEA")
        #expect(try BGPMessage.open(configuration.openMessage).encoded(context: as4) == vector)
    }

    @Test func negotiatedOnlyWhenBothSidesAdvertiseIt() {
        var configuration = Harness.configuration()
        configuration.extendedNextHop = [.ipv4OverIPv6]
        var harness = Harness(configuration)
        harness.handle(.start)
        harness.handle(.tcpConnected(.outbound))
        var peer = harness.peerOpen()
        peer.capabilities.append(.extendedNextHop([.ipv4OverIPv6]))
        harness.handle(.messageReceived(.open(peer)))
        #expect(harness.machine.codecContext.extendedNextHop == [.ipv4Unicast])
        guard case .open(let ours)? = harness.sent.first else {
            Issue.record("no OPEN sent")
            return
        }
        #expect(ours.extendedNextHops == [.ipv4OverIPv6])

        var without = Harness(configuration)
        without.handle(.start)
        without.handle(.tcpConnected(.outbound))
        without.handle(.messageReceived(.open(without.peerOpen())))
        #expect(without.state == .openConfirm)
        #expect(without.machine.codecContext.extendedNextHop.isEmpty)

        var notAsked = Harness()
        notAsked.handle(.start)
        notAsked.handle(.tcpConnected(.outbound))
        notAsked.handle(.messageReceived(.open(peer)))
        #expect(notAsked.machine.codecContext.extendedNextHop.isEmpty)
    }

    @Test func ipv4WithLinkLocalNextHopBothWays() throws {
        let value = update(nextHops: [.v6(v6("fe80::1"))])
        #expect(try BGPMessage.update(value).encoded(context: extendedNextHopContext) == linkLocalVector)
        let (decoded, disposition) = try decodeUpdate(linkLocalVector, context: extendedNextHopContext)
        #expect(disposition == .normal)
        #expect(decoded.attribute(.mpReachNLRI) == value.attribute(.mpReachNLRI))
    }

    @Test func ipv4WithGlobalAndLinkLocalNextHopBothWays() throws {
        let value = update(nextHops: [.v6(v6("2001:db8::11")), .v6(v6("fe80::1"))])
        #expect(try BGPMessage.update(value).encoded(context: extendedNextHopContext) == globalAndLinkLocalVector)
        let (decoded, disposition) = try decodeUpdate(globalAndLinkLocalVector, context: extendedNextHopContext)
        #expect(disposition == .normal)
        #expect(decoded.attribute(.mpReachNLRI) == value.attribute(.mpReachNLRI))
    }

    @Test func withoutNegotiationTheIPv6NextHopIsRefusedBothWays() {
        #expect(throws: BGPEncodeError.self) {
            try BGPMessage.update(update(nextHops: [.v6(v6("fe80::1"))])).encoded(context: as4)
        }
        // RFC 7606 §7.11: a next hop length that does not fit the family is a malformed MP_REACH_NLRI.
        expectDecodeError(linkLocalVector, context: as4, code: 3, subcode: 9)
    }

    @Test func adjRibOutSendsIPv4WithAnIPv6NextHopInMPReach() {
        var rib = AdjRibOut(context: extendedNextHopContext)
        _ = rib.setDesired([
            prefix("192.0.2.53/32"): .external(
                localASN: 65010, nextHop: .v6(v6("fe80::1")), linkLocalNextHop: v6("fe80::1"))
        ])
        let updates = rib.announceAll()
        #expect(rib.unsendable.isEmpty)
        #expect(
            updates.first.map { (try? BGPMessage.update($0).encoded(context: extendedNextHopContext)) }
                == linkLocalVector)

        var plain = AdjRibOut(context: as4)
        _ = plain.setDesired([prefix("192.0.2.53/32"): .external(localASN: 65010, nextHop: .v6(v6("fe80::1")))])
        _ = plain.announceAll()
        #expect(plain.unsendable == [prefix("192.0.2.53/32")])
    }
}
