// RFC 7606 on receipt: which malformed UPDATEs are treat-as-withdraw, which lose one attribute, and which
// are kept as they are (unknown optional attributes).
import BGP
import NetAddress
import Testing

@Suite struct UpdateDispositionTests {
    let origin = bytes("40010100")
    let asPath = bytes("4002060201 0000FDF2")
    let nextHop = bytes("4003040A000001")
    let nlri = bytes("20 C000020A")

    func decode(_ attributes: [UInt8], nlri: [UInt8]? = nil, context: CodecContext = as4) throws -> (
        UpdateMessage, UpdateDisposition
    ) {
        try decodeUpdate(updateFrame(attributes: attributes, nlri: nlri ?? self.nlri), context: context)
    }

    func expectWithdraw(
        _ attributes: [UInt8], context: CodecContext = as4, sourceLocation: SourceLocation = #_sourceLocation
    )
        throws
    {
        let (update, disposition) = try decode(attributes, context: context)
        #expect(disposition.isTreatAsWithdraw, "\(disposition)", sourceLocation: sourceLocation)
        #expect(update.nlri == [prefix("192.0.2.10/32")], sourceLocation: sourceLocation)
    }

    @Test func badOriginValueOrLength() throws {
        try expectWithdraw(bytes("40010103") + asPath + nextHop)
        try expectWithdraw(bytes("4001020000") + asPath + nextHop)
    }

    @Test func malformedASPath() throws {
        try expectWithdraw(origin + bytes("4002060501 0000FDF2") + nextHop)  // segment type 5
        try expectWithdraw(origin + bytes("4002020200") + nextHop)  // empty segment
        try expectWithdraw(origin + bytes("4002060202 0000FDF2") + nextHop)  // overrun
        try expectWithdraw(origin + bytes("4002060301 0000FDF2") + nextHop)  // confederation from eBGP
    }

    @Test func badNextHop() throws {
        try expectWithdraw(origin + asPath + bytes("40030500000000 01"))
        try expectWithdraw(origin + asPath + bytes("40030400000000"))
        try expectWithdraw(origin + asPath + bytes("400304E0000001"))
    }

    @Test func badMEDAndLocalPrefLength() throws {
        try expectWithdraw(origin + asPath + nextHop + bytes("800403000001"))
        let ibgp = CodecContext(fourOctetAS: true, isInternal: true)
        try expectWithdraw(origin + asPath + nextHop + bytes("400503000064"), context: ibgp)
    }

    @Test func communitiesLengths() throws {
        try expectWithdraw(origin + asPath + nextHop + bytes("C00806 FFFF0000 0001"))
        try expectWithdraw(origin + asPath + nextHop + bytes("C00800"))
        try expectWithdraw(origin + asPath + nextHop + bytes("C0200C 00000001 00000002"))
        try expectWithdraw(origin + asPath + nextHop + bytes("C02010 00000001 00000002 00000003 00000004"))
    }

    @Test func wrongFlagsOnAWellKnownAttribute() throws {
        try expectWithdraw(bytes("C0010100") + asPath + nextHop)
    }

    @Test func missingWellKnownWhenNLRIPresent() throws {
        try expectWithdraw(origin + nextHop)
        try expectWithdraw(origin + asPath)
        // iBGP needs LOCAL_PREF too.
        try expectWithdraw(
            origin + bytes("400200") + nextHop, context: CodecContext(fourOctetAS: true, isInternal: true))
        // Without NLRI nothing is mandatory.
        let (_, disposition) = try decode(origin, nlri: [])
        #expect(disposition == .normal)
    }

    @Test func attributeOverrunInsideTheSectionIsTreatAsWithdraw() throws {
        // AS_PATH claims 9 bytes but the section (Total Attribute Length) ends first.
        let (update, disposition) = try decode(origin + bytes("400209 0201 0000FDF2"))
        #expect(disposition.isTreatAsWithdraw)
        #expect(update.nlri == [prefix("192.0.2.10/32")])
        let (_, shortHeader) = try decode(origin + asPath + nextHop + bytes("C0"))
        #expect(shortHeader.isTreatAsWithdraw)
    }

    @Test func atomicAggregateAndAggregatorBadLengthAreDiscarded() throws {
        let (update, disposition) = try decode(origin + asPath + nextHop + bytes("40060100 C00705 0000FDF2 0A"))
        #expect(disposition == .attributeDiscarded([6, 7]))
        #expect(update.attributes.map(\.typeCode) == [1, 2, 3])
        let (good, goodDisposition) = try decode(origin + asPath + nextHop + bytes("400600 C00708 0000FDF2 0A000001"))
        #expect(goodDisposition == .normal)
        #expect(good.attribute(.aggregator) == .aggregator(asn: 65010, address: v4("10.0.0.1")))
    }

    @Test func localPrefFromAnExternalPeerIsDiscarded() throws {
        let (update, disposition) = try decode(origin + asPath + nextHop + bytes("40050400000064"))
        #expect(disposition == .attributeDiscarded([5]))
        #expect(update.attribute(.localPref) == nil)
    }

    @Test func duplicateAttributesKeepTheFirst() throws {
        let (update, disposition) = try decode(origin + bytes("40010102") + asPath + nextHop)
        #expect(disposition == .attributeDiscarded([1]))
        #expect(update.attribute(.origin) == .origin(.igp))
    }

    @Test func unknownOptionalAttributeIsKept() throws {
        let (update, disposition) = try decode(origin + asPath + nextHop + bytes("E0 63 02 ABCD"))
        #expect(disposition == .normal)
        #expect(update.attribute(.origin) != nil)
        #expect(update.attributes.last == .unknown(flags: 0xE0, type: 0x63, value: [0xAB, 0xCD]))
    }

    @Test func mpReachForAFamilyNotNegotiatedIsDiscarded() throws {
        let reach = bytes("800E26 000201 10 20010DB8000000000000000000000001 00 80 20010DB8005300000000000000000001")
        let v4only = CodecContext(fourOctetAS: true, families: [.ipv4Unicast])
        let (update, disposition) = try decode(reach + origin + asPath, nlri: [], context: v4only)
        #expect(disposition == .attributeDiscarded([14]))
        #expect(update.announcedPrefixes.isEmpty)
        let (both, bothDisposition) = try decode(reach + origin + asPath, nlri: [])
        #expect(bothDisposition == .normal)
        #expect(both.announcedPrefixes == [prefix("2001:db8:53::1/128")])
    }

    @Test func zeroLinkLocalNextHopIsDropped() throws {
        let reach = bytes(
            "800E36 000201 20 20010DB8000000000000000000000001 00000000000000000000000000000000 00 80 20010DB8005300000000000000000001"
        )
        let (update, disposition) = try decode(reach + origin + asPath, nlri: [])
        #expect(disposition == .normal)
        guard case .mpReach(let mp) = update.attributes.first else {
            Issue.record("no MP_REACH_NLRI")
            return
        }
        #expect(mp.nextHops == [.v6(v6("2001:db8::1"))])
    }

    @Test func as4PathBetweenFourOctetSpeakersIsDiscarded() throws {
        let (_, disposition) = try decode(origin + asPath + nextHop + bytes("C01106 0201 0000FDF2"))
        #expect(disposition == .attributeDiscarded([17]))
        let (kept, twoOctet) = try decode(
            origin + bytes("40020402 01FDF2") + nextHop + bytes("C01106 0201 0000FDF2"), context: as2)
        #expect(twoOctet == .normal)
        #expect(kept.attributes.last == .unknown(flags: 0xC0, type: 17, value: bytes("0201 0000FDF2")))
    }
}
