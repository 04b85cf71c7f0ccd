// Decoding captured iproute2 replies: links (name, kind, flags, devconf, addrgenmode), addresses
// (flags, lifetimes), acks with and without extended ack text, and the end of a dump.
import NetAddress
import Testing

@testable import Netlink

@Suite struct DecoderTests {
    @Test func decodesLinkWithKindFlagsAndDevconf() throws {
        for bytes in [Captured.linkCap0, Captured.linkCap0SkipStats] {
            let messages = MessageDecoder.decode(bytes)
            try #require(messages.count == 1)
            guard case .link(let link) = messages[0].body else {
                Issue.record("expected a link, got \(messages[0].body)")
                continue
            }
            #expect(link.index == 2)
            #expect(link.name == "cap0")
            #expect(link.kind == "ifb")
            #expect(link.isUp)
            #expect(link.isLowerUp)
            #expect(link.ipv6AddrGenMode == 1)
            #expect(link.ipv4Conf == [.rpFilter: 2, .arpAnnounce: 2, .arpIgnore: 1])
        }
    }

    @Test func decodesAddressDumpAndDone() throws {
        let messages = MessageDecoder.decode(Captured.addressDump + Captured.addressDumpDone)
        try #require(messages.count == 3)
        #expect(messages[0].header.flags & 0x2 != 0, "dump parts carry NLM_F_MULTI")
        #expect(
            messages[0].body
                == .address(
                    AddressInfo(
                        interfaceIndex: 2, prefix: IPPrefix("192.0.2.7/32")!, flags: AddressInfo.flagPermanent,
                        preferredLifetime: .max, validLifetime: .max)))
        #expect(
            messages[1].body
                == .address(
                    AddressInfo(
                        interfaceIndex: 2, prefix: IPPrefix("2001:db8::7/128")!,
                        flags: AddressInfo.flagNoDAD | AddressInfo.flagDeprecated | AddressInfo.flagPermanent,
                        preferredLifetime: 0, validLifetime: .max)))
        #expect(messages[2].body == .done(errno: 0))
    }

    @Test func decodesAcks() throws {
        let noDevice = MessageDecoder.decode(Captured.ackNoDevice)
        try #require(noDevice.count == 1)
        #expect(noDevice[0].body == .ack(request: 0, errno: 19, extendedMessage: nil))
        let unknownType = MessageDecoder.decode(Captured.ackUnknownDeviceType)
        try #require(unknownType.count == 1)
        guard case .ack(_, let errno, let text) = unknownType[0].body else {
            Issue.record("expected an ack, got \(unknownType[0].body)")
            return
        }
        #expect(errno == 95)
        #expect(text == "Unknown device type")
        #expect(unknownType[0].header.sequence == Captured.createDummyX0.loadSequence())
    }

    @Test func truncatedBytesYieldOnlyWholeMessages() {
        let bytes = Captured.addressDump + Captured.addressDumpDone
        #expect(MessageDecoder.decode(Array(bytes.prefix(bytes.count - 1))).count == 2)
        #expect(MessageDecoder.decode(Array(bytes.prefix(15))).isEmpty)
        #expect(MessageDecoder.decode([UInt8]()).isEmpty)
    }

    @Test func decodesMonitorNotifications() throws {
        let removed = MessageDecoder.decode(Captured.monitorDeleteAddress).map { MonitorEvents.event($0.body) }
        #expect(
            removed == [
                .addressRemoved(
                    AddressInfo(
                        interfaceIndex: 2, prefix: IPPrefix("192.0.2.8/32")!, flags: AddressInfo.flagPermanent))
            ])
        let down = MessageDecoder.decode(Captured.monitorLinkDown).map { MonitorEvents.event($0.body) }
        try #require(down.count == 1)
        guard case .linkChanged(let link)? = down[0] else {
            Issue.record("expected linkChanged, got \(String(describing: down[0]))")
            return
        }
        #expect(link.name == "cap1" && link.index == 2 && link.kind == "ifb")
        #expect(!link.isUp && !link.isLowerUp)
        #expect(link.ipv6AddrGenMode == 1)
        let gone = MessageDecoder.decode(Captured.monitorDeleteLink).map { MonitorEvents.event($0.body) }
        #expect(gone == [.linkRemoved(index: 2, name: "cap1")])
    }

    @Test func monitorMapsBodiesToEvents() {
        let link = LinkInfo(index: 3, name: "x")
        #expect(MonitorEvents.event(.link(link)) == .linkChanged(link))
        #expect(MonitorEvents.event(.linkRemoved(index: 3, name: "x")) == .linkRemoved(index: 3, name: "x"))
        #expect(MonitorEvents.event(.done(errno: 0)) == nil)
    }
}

extension Array where Element == UInt8 {
    /// nlmsg_seq of the first message.
    func loadSequence() -> UInt32 {
        withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self) }
    }
}
