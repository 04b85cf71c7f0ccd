// Encoding each operation's request: byte-for-byte against iproute2 where it sends the same thing,
// field by field where it differs (ip names links by index; libmnl marks nests NLA_F_NESTED).
import NetAddress
import Testing

@testable import Netlink

@Suite struct EncoderTests {
    /// `request` encoded with the sequence number of `captured`, so whole messages compare.
    private func encode(_ request: NetlinkRequest, like captured: [UInt8]) -> [UInt8] {
        MessageEncoder.encode(request, sequence: captured.loadSequence())
    }

    @Test func ipv4AddressAddAndDeleteMatchIproute2() {
        let prefix = IPPrefix("192.0.2.9/32")!
        #expect(encode(.newAddress(index: 2, prefix: prefix), like: Captured.replaceIPv4) == Captured.replaceIPv4)
        #expect(encode(.deleteAddress(index: 2, prefix: prefix), like: Captured.deleteIPv4) == Captured.deleteIPv4)
    }

    @Test func ipv6AddressAddMeansWhatIproute2Means() throws {
        let prefix = IPPrefix("2001:db8::9/128")!
        let ours = encode(.newAddress(index: 2, prefix: prefix), like: Captured.replaceIPv6)
        // Same header: RTM_NEWADDR, NLM_F_REQUEST|ACK|REPLACE|CREATE, AF_INET6 /128 nodad, index 2.
        #expect(ours[4..<24] == Captured.replaceIPv6[4..<24])
        let expected = hex(
            "48000000", "1400", "0505", "b858086b", "00000000",  // header: 72 bytes
            "0a", "80", "02", "00", "02000000",  // ifaddrmsg: AF_INET6, /128, IFA_F_NODAD, universe, index 2
            "1400", "0100", "20010db8000000000000000000000009",  // IFA_ADDRESS
            "0800", "0800", "02000000",  // IFA_FLAGS: IFA_F_NODAD
            // IFA_CACHEINFO: preferred 0, valid forever
            "1400", "0600", "00000000", "ffffffff", "00000000", "00000000")
        #expect(ours == expected)
        // Decoded, ours and iproute2's say the same: nodad, preferred 0, valid forever.
        let mine = try #require(MessageDecoder.decode(ours).first?.body)
        let theirs = try #require(MessageDecoder.decode(Captured.replaceIPv6).first?.body)
        #expect(mine == theirs)
        #expect(
            mine
                == .address(
                    AddressInfo(
                        interfaceIndex: 2, prefix: prefix, flags: AddressInfo.flagNoDAD, preferredLifetime: 0,
                        validLifetime: .max)))
    }

    @Test func ipv6AddressDeleteCarriesTheAddress() throws {
        let prefix = IPPrefix("2001:db8::9/128")!
        let ours = encode(.deleteAddress(index: 2, prefix: prefix), like: Captured.deleteIPv6)
        #expect(ours[4..<24] == Captured.deleteIPv6[4..<24])
        let mine = try #require(MessageDecoder.decode(ours).first?.body)
        let theirs = try #require(MessageDecoder.decode(Captured.deleteIPv6).first?.body)
        #expect(mine == theirs)
    }

    @Test func createLinkMatchesIproute2ButForNestedFlagAndNUL() {
        var expected = Captured.createDummyX0
        expected[43] |= 0x80  // IFLA_LINKINFO type 0x0012 | NLA_F_NESTED (0x8000), little-endian high byte
        expected[44] = 10  // IFLA_INFO_KIND "dummy" with its NUL (iproute2 leaves the NUL to the padding)
        #expect(encode(.newLink(name: "x0", kind: "dummy"), like: Captured.createDummyX0) == expected)
    }

    @Test func linkUpDownAndDeleteNameTheLink() {
        let sequence = Captured.linkDown.loadSequence()
        // iproute2 sends the index; we send IFLA_IFNAME with index 0 so a link made earlier in the
        // same batch can be named. Header, flags and ifi_flags/ifi_change are the same.
        let down = MessageEncoder.encode(.setLinkUp(name: "cap0", up: false), sequence: sequence)
        #expect(down[4..<16] == Captured.linkDown[4..<16])
        #expect(down[24..<32] == Captured.linkDown[24..<32])
        #expect(down[32...] == [9, 0, 3, 0, 0x63, 0x61, 0x70, 0x30, 0, 0, 0, 0])
        let up = MessageEncoder.encode(.setLinkUp(name: "cap0", up: true), sequence: sequence)
        #expect(up[24..<32] == [1, 0, 0, 0, 1, 0, 0, 0])
        let delete = MessageEncoder.encode(.deleteLink(name: "cap0"), sequence: sequence)
        #expect(delete[4..<16] == Captured.linkDelete[4..<16])
        #expect(delete[32...] == [9, 0, 3, 0, 0x63, 0x61, 0x70, 0x30, 0, 0, 0, 0])
    }

    @Test func addrGenModeNoneIsAnAFSpecNest() {
        let bytes = MessageEncoder.encode(.setAddrGenModeNone(name: "x0"), sequence: 7)
        let expected = hex(
            "38000000", "1300", "0500", "07000000", "00000000",  // RTM_SETLINK, REQUEST|ACK
            "00", "00", "0000", "00000000", "00000000", "00000000",  // ifinfomsg, by name
            "0700", "0300", "78300000",  // IFLA_IFNAME "x0"
            "1000", "1a80",  // IFLA_AF_SPEC (nested)
            "0c00", "0a80",  // AF_INET6 (nested)
            "0500", "0800", "01000000")  // IFLA_INET6_ADDR_GEN_MODE = IN6_ADDR_GEN_MODE_NONE
        #expect(bytes == expected)
    }

    @Test func ipv4ConfIsANestedU32ByDevconfID() {
        let bytes = MessageEncoder.encode(.setIPv4Conf(name: "x0", key: .arpIgnore, value: 1), sequence: 7)
        let expected = hex(
            "3c000000", "1300", "0500", "07000000", "00000000",
            "00", "00", "0000", "00000000", "00000000", "00000000",
            "0700", "0300", "78300000",  // IFLA_IFNAME "x0"
            "1400", "1a80",  // IFLA_AF_SPEC
            "1000", "0280",  // AF_INET
            "0c00", "0180",  // IFLA_INET_CONF
            "0800", "1300", "01000000")  // IPV4_DEVCONF_ARP_IGNORE (19) = 1
        #expect(bytes == expected)
    }

    @Test func dumpsAskForEveryLinkAndAddress() throws {
        let links = MessageEncoder.encode(.dumpLinks, sequence: 1)
        #expect(links[4..<8] == [0x12, 0, 0x01, 0x03], "RTM_GETLINK with NLM_F_REQUEST|NLM_F_DUMP")
        let addresses = MessageEncoder.encode(.dumpAddresses(), sequence: 1)
        #expect(addresses[4..<8] == [0x16, 0, 0x01, 0x03], "RTM_GETADDR with NLM_F_REQUEST|NLM_F_DUMP")
        #expect(addresses[16] == 0, "AF_UNSPEC: both families")
    }

    @Test func errnoWordsNameTheProblem() {
        let create = NetlinkOperation.createDummy(name: "anycast0")
        let noDummy = NetlinkError(create, errno: 95, kernelMessage: "Unknown device type")
        #expect(
            noDummy.description
                == "ip link add anycast0 type dummy && ip link set anycast0 addrgenmode none: kernel has no dummy link type (load module \"dummy\") (kernel: Unknown device type)"
        )
        #expect(NetlinkError(create, errno: 1).message.contains("needs CAP_NET_ADMIN"))
        #expect(NetlinkError(create, errno: 17).message == "interface anycast0 already exists")
        #expect(NetlinkError(.setLinkUp(name: "x", up: true), errno: 19).message == "no such interface")
        let delete = NetlinkOperation.deleteAddress(name: "x", prefix: IPPrefix("192.0.2.1/32")!)
        #expect(NetlinkError(delete, errno: 99).message == "address not present")
        #expect(NetlinkError(.setLinkUp(name: "x", up: true), errno: 22).message == "Invalid argument")
        #expect(NetlinkError(.setAddrGenModeNone(name: "x"), errno: 97).message.hasPrefix("IPv6 is disabled"))
    }
}
