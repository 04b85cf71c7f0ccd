// Byte vectors both ways: the checked UPDATE and the real OPEN from the notes, BIRD's shutdown
// NOTIFICATION, KEEPALIVE, End-of-RIB, ROUTE-REFRESH, plus encoder strictness.
import BGP
import NIOCore
import NetAddress
import Testing

@Suite struct CodecVectorTests {
    let updateVector = bytes("M 0030 02 0000 0014 40010100 4002060201 0000FDF2 4003040A000001 20C000020A")
    let openVector = bytes("M 0031 01 04 FDEA 005A B9ECF027 14 02 12 01040001 0001 01040002 0001 41040000FDEA")
    let notificationVector = bytes("M 0029 03 06 02 13") + ascii("planned maintenance")

    var updateValue: UpdateMessage {
        UpdateMessage(
            attributes: [.origin(.igp), .asPath([ASPathSegment(.sequence, [65010])]), .nextHop(v4("10.0.0.1"))],
            nlri: [prefix("192.0.2.10/32")])
    }

    var openValue: OpenMessage {
        OpenMessage(
            myAS: 65002, holdTime: 90, identifier: v4("185.236.240.39"),
            capabilities: [.multiprotocol(.ipv4Unicast), .multiprotocol(.ipv6Unicast), .fourOctetAS(65002)])
    }

    @Test func updateEncodesToCheckedVector() throws {
        #expect(try BGPMessage.update(updateValue).encoded(context: as4) == updateVector)
    }

    @Test func updateDecodesFromCheckedVector() throws {
        let decoded = try BGPMessage.decode(bytes: updateVector, context: as4)
        #expect(decoded.message == .update(updateValue))
        #expect(decoded.disposition == .normal)
    }

    @Test func openBothWays() throws {
        #expect(try BGPMessage.open(openValue).encoded(context: as4) == openVector)
        let decoded = try BGPMessage.decode(bytes: openVector, context: as2)
        #expect(decoded.message == .open(openValue))
        #expect(openValue.asn == 65002)
        #expect(openValue.families == [.ipv4Unicast, .ipv6Unicast])
        #expect(openValue.supportsFourOctetAS)
    }

    @Test func openBuilderUsesASTransOnlyAbove65535() {
        let small = OpenMessage(asn: 65002, holdTime: 90, identifier: v4("192.0.2.1"), families: [.ipv4Unicast])
        #expect(small.myAS == 65002)
        #expect(small.capabilities == [.multiprotocol(.ipv4Unicast), .routeRefresh, .fourOctetAS(65002)])
        let large = OpenMessage(asn: 4_200_000_000, holdTime: 90, identifier: v4("192.0.2.1"), families: [])
        #expect(large.myAS == 23456)
        #expect(large.asn == 4_200_000_000)
    }

    @Test func notificationFromBIRDBothWays() throws {
        let decoded = try BGPMessage.decode(bytes: notificationVector, context: as4)
        guard case .notification(let notification) = decoded.message else {
            Issue.record("not a NOTIFICATION")
            return
        }
        #expect(notification.code == 6 && notification.subcode == 2)
        #expect(notification.shutdownMessage == "planned maintenance")
        #expect(notification.description == "Cease/Administrative Shutdown: \"planned maintenance\"")
        let built = NotificationMessage.cease(subcode: 2, shutdownMessage: "planned maintenance")
        #expect(built == notification)
        #expect(try BGPMessage.notification(built).encoded(context: as4) == notificationVector)
    }

    @Test func shutdownMessageIsTruncatedOnACharacterBoundary() {
        let long = String(repeating: "é", count: 200)  // 400 bytes of UTF-8
        let notification = NotificationMessage.cease(subcode: 4, shutdownMessage: long)
        #expect(notification.data.first == 254)
        #expect(notification.data.count == 255)
        #expect(notification.shutdownMessage == String(repeating: "é", count: 127))
    }

    @Test func shutdownMessageOnlyForCease2And4AndValidUTF8() {
        #expect(NotificationMessage.cease(subcode: 7, shutdownMessage: "x").data.isEmpty)
        let bad = NotificationMessage(code: 6, subcode: 2, data: [2, 0xC3, 0x28])
        #expect(bad.shutdownMessage == nil)
        #expect(bad.description == "Cease/Administrative Shutdown (data 02c328)")
        let overrun = NotificationMessage(code: 6, subcode: 2, data: [9, 0x41])
        #expect(overrun.shutdownMessage == nil)
    }

    @Test func notificationDescriptions() {
        #expect(NotificationMessage(code: 4, subcode: 0).description == "Hold Timer Expired")
        #expect(NotificationMessage(code: 2, subcode: 2).description == "OPEN Message Error/Bad Peer AS")
        #expect(
            NotificationMessage(code: 1, subcode: 2, data: [0, 5]).description
                == "Message Header Error/Bad Message Length (data 0005)")
        #expect(NotificationMessage(code: 9, subcode: 9).description == "Error code 9/subcode 9")
    }

    @Test func keepaliveBothWays() throws {
        let vector = bytes("M 0013 04")
        #expect(try BGPMessage.keepalive.encoded(context: as4) == vector)
        #expect(try BGPMessage.decode(bytes: vector, context: as4).message == .keepalive)
    }

    @Test func ipv4EndOfRIBBothWays() throws {
        let vector = bytes("M 0017 02 0000 0000")
        #expect(try BGPMessage.update(.endOfRIB(.ipv4Unicast)).encoded(context: as4) == vector)
        let (update, _) = try decodeUpdate(vector)
        #expect(update.endOfRIBFamily == .ipv4Unicast)
    }

    @Test func ipv6EndOfRIBBothWays() throws {
        let vector = bytes("M 001D 02 0000 0006 800F03 0002 01")
        #expect(try BGPMessage.update(.endOfRIB(.ipv6Unicast)).encoded(context: as4) == vector)
        let (update, disposition) = try decodeUpdate(vector)
        #expect(update.endOfRIBFamily == .ipv6Unicast)
        #expect(disposition == .normal)
        #expect(updateValue.endOfRIBFamily == nil)
    }

    @Test func routeRefreshBothWays() throws {
        let vector = bytes("M 0017 05 0002 00 01")
        let message = BGPMessage.routeRefresh(RouteRefreshMessage(family: .ipv6Unicast))
        #expect(try message.encoded(context: as4) == vector)
        #expect(try BGPMessage.decode(bytes: vector, context: as4).message == message)
    }

    @Test func ipv6UpdateWithLinkLocalNextHopAndCommunities() throws {
        let reach = MPReachNLRI(
            family: .ipv6Unicast, nextHops: [.v6(v6("2001:db8::1")), .v6(v6("fe80::1"))],
            nlri: [prefix("2001:db8:53::1/128")])
        let message = UpdateMessage(attributes: [
            .largeCommunities([LargeCommunity(global: 65010, local1: 1, local2: 2)]), .origin(.igp),
            .asPath([ASPathSegment(.sequence, [65010, 65010])]), .communities([.gracefulShutdown]),
            .multiExitDisc(10), .mpReach(reach),
        ])
        let encoded = try BGPMessage.update(message).encoded(context: as4)
        let expected = bytes(
            """
            M 007E 02 0000 0067
            800E 36 0002 01 20 20010DB8000000000000000000000001 FE800000000000000000000000000001 00
               80 20010DB8005300000000000000000001
            40010100 40020A 0202 0000FDF2 0000FDF2 80040400 00000A C00804 FFFF0000 C0200C 0000FDF2 00000001 00000002
            """)
        #expect(encoded == expected)
        let (decoded, disposition) = try decodeUpdate(encoded)
        #expect(disposition == .normal)
        // Decoding puts attributes in canonical order: MP first, then ascending type.
        #expect(decoded.attributes.map(\.typeCode) == [14, 1, 2, 4, 8, 32])
        #expect(decoded.announcedPrefixes == [prefix("2001:db8:53::1/128")])
    }

    @Test func twoOctetASPathAndASTrans() throws {
        let message = UpdateMessage(
            attributes: [
                .origin(.igp), .asPath([ASPathSegment(.sequence, [65010, 4_200_000_000])]),
                .nextHop(v4("10.0.0.1")),
            ],
            nlri: [prefix("192.0.2.0/24")])
        let encoded = try BGPMessage.update(message).encoded(context: as2)
        #expect(encoded == bytes("M 002F 02 0000 0014 40010100 40020602 02FDF25BA0 4003040A000001 18C00002"))
        let (decoded, _) = try decodeUpdate(encoded, context: as2)
        #expect(decoded.attribute(.asPath) == .asPath([ASPathSegment(.sequence, [65010, 23456])]))
    }

    @Test func extendedLengthOnlyAbove255() throws {
        let communities255 = (0..<63).map { Community(UInt32($0)) }  // 252 bytes
        let short = try BGPMessage.update(UpdateMessage(attributes: [.communities(communities255)])).encoded(
            context: as4)
        #expect(short[23] == 0xC0 && short[25] == 252)
        let communities256 = (0..<64).map { Community(UInt32($0)) }  // 256 bytes
        let long = try BGPMessage.update(UpdateMessage(attributes: [.communities(communities256)])).encoded(
            context: as4)
        #expect(long[23] == 0xD0 && long[25] == 1 && long[26] == 0)
        // Either form is accepted on receipt.
        let extendedShort = updateFrame(attributes: bytes("5001 0001 00"))
        #expect(try decodeUpdate(extendedShort).0.attributes == [.origin(.igp)])
    }

    @Test func encoderRefusesOversizeAndBadValues() {
        let tooMany = UpdateMessage(
            attributes: [.origin(.igp), .asPath([]), .nextHop(v4("10.0.0.1"))],
            nlri: (0..<1000).map { IPPrefix(host: .v4(IPv4Address(0xC000_0000 + UInt32($0)))) })
        #expect(throws: BGPEncodeError.self) { try BGPMessage.update(tooMany).encoded(context: as4) }
        let zeroNextHop = UpdateMessage(attributes: [.nextHop(IPv4Address(0))])
        #expect(throws: BGPEncodeError.self) { try BGPMessage.update(zeroNextHop).encoded(context: as4) }
        let duplicate = UpdateMessage(attributes: [.origin(.igp), .origin(.egp)])
        #expect(throws: BGPEncodeError.self) { try BGPMessage.update(duplicate).encoded(context: as4) }
        let zeroLinkLocal = UpdateMessage(attributes: [
            .mpReach(MPReachNLRI(family: .ipv6Unicast, nextHops: [.v6(v6("2001:db8::1")), .v6(v6("::"))], nlri: []))
        ])
        #expect(throws: BGPEncodeError.self) { try BGPMessage.update(zeroLinkLocal).encoded(context: as4) }
        let badHold = OpenMessage(myAS: 1, holdTime: 2, identifier: v4("192.0.2.1"), capabilities: [])
        #expect(throws: BGPEncodeError.self) { try BGPMessage.open(badHold).encoded(context: as4) }
        let wellKnownUnknown = UpdateMessage(attributes: [.unknown(flags: 0x40, type: 99, value: [])])
        #expect(throws: BGPEncodeError.self) { try BGPMessage.update(wellKnownUnknown).encoded(context: as4) }
    }

    @Test func openWithManyCapabilitiesUsesExtendedParameters() throws {
        var open = openValue
        open.capabilities += (0..<60).map { Capability.unknown(code: 200, value: [UInt8($0), 1]) }
        let encoded = try BGPMessage.open(open).encoded(context: as4)
        #expect(encoded[28] == 255 && encoded[29] == 255)
        #expect(try BGPMessage.decode(bytes: encoded, context: as4).message == .open(open))
    }

    @Test func encodeIntoByteBufferMatches() throws {
        var buffer = ByteBuffer()
        try BGPMessage.keepalive.encode(into: &buffer, context: as4)
        #expect(Array(buffer.readableBytesView) == bytes("M 0013 04"))
    }
}
