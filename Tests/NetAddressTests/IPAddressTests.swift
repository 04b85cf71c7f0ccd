import NetAddress
import Testing

@Suite struct IPAddressTests {
    @Test func parsesAndPrintsIPv4() {
        #expect(IPv4Address("192.0.2.53")?.value == 0xC000_0235)
        #expect(IPv4Address("192.0.2.53")?.description == "192.0.2.53")
        #expect(IPv4Address("192.0.2") == nil)
        #expect(IPv4Address("192.0.2.256") == nil)
        #expect(IPv4Address("192.0.2.053") == nil)
        #expect(IPv4Address("1.2.3.4 ") == nil)
    }

    @Test func parsesAndPrintsIPv6() {
        #expect(IPv6Address("2001:DB8:0:0:0:0:0:53")?.description == "2001:db8::53")
        #expect(IPv6Address("::")?.isUnspecified == true)
        #expect(IPv6Address("fe80::1")?.isLinkLocal == true)
        #expect(IPv6Address("2001:db8::1")?.isLinkLocal == false)
        #expect(IPv6Address("2001:db8:::1") == nil)
        #expect(IPv6Address("2001:db8::1")?.bytes == [0x20, 0x01, 0x0D, 0xB8] + Array(repeating: 0, count: 11) + [1])
    }

    @Test func onlyHostPrefixesOutsideReservedRangesAreRemovable() {
        for removable in ["192.0.2.53/32", "198.51.100.1/32", "2001:db8::53/128", "10.0.0.1/32", "1.1.1.1/32"] {
            #expect(IPPrefix(removable)!.isRemovableHostPrefix, "\(removable)")
        }
        let refused = [
            "127.0.0.1/8": "not a host prefix (/32)", "127.0.0.1/32": "loopback (127.0.0.0/8)",
            "127.255.0.9/32": "loopback (127.0.0.0/8)", "::1/128": "loopback (::1)", "::/128": "unspecified (::)",
            "0.0.0.0/32": "unspecified (0.0.0.0/8)", "169.254.10.1/32": "link-local (169.254.0.0/16)",
            "fe80::1/128": "link-local (fe80::/10)", "febf::1/128": "link-local (fe80::/10)",
            "224.0.0.1/32": "multicast (224.0.0.0/4)", "239.1.1.1/32": "multicast (224.0.0.0/4)",
            "ff02::1/128": "multicast (ff00::/8)", "255.255.255.255/32": "broadcast (255.255.255.255)",
            "::ffff:127.0.0.1/128": "IPv4-mapped loopback (127.0.0.0/8)", "192.0.2.0/24": "not a host prefix (/32)",
            "2001:db8::/64": "not a host prefix (/128)",
        ]
        for (text, reason) in refused {
            #expect(IPPrefix(text)!.removalRefusal == reason, "\(text)")
            #expect(!IPPrefix(text)!.isRemovableHostPrefix, "\(text)")
        }
        #expect(IPPrefix("::ffff:192.0.2.1/128")!.isRemovableHostPrefix)
    }

    @Test func parsesPrefixes() {
        #expect(IPPrefix("192.0.2.53/32")?.isHost == true)
        #expect(IPPrefix("2001:db8:53::53/128")?.isHost == true)
        #expect(IPPrefix("192.0.2.0/24")?.isCanonical == true)
        #expect(IPPrefix("192.0.2.1/24")?.isCanonical == false)
        #expect(IPPrefix("192.0.2.1/33") == nil)
        #expect(IPPrefix("192.0.2.1/") == nil)
        #expect(IPPrefix("192.0.2.1")?.length == 32)
        #expect(IPPrefix("::1")?.length == 128)
    }

    @Test func ordersIPv4BeforeIPv6() {
        let list = [IPAddress("::1")!, IPAddress("10.0.0.2")!, IPAddress("10.0.0.1")!]
        #expect(list.sorted().map(\.description) == ["10.0.0.1", "10.0.0.2", "::1"])
    }
}
