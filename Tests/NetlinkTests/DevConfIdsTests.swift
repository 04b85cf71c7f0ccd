import CMnl
import Netlink
import Testing

@Suite struct DevConfIdsTests {
    /// The ids are the kernel's enum values; a wrong one silently sets another setting (send_redirects).
    @Test func idsMatchTheKernelHeader() {
        #expect(IPv4DevConf.rpFilter.rawValue == Int(IPV4_DEVCONF_RP_FILTER))
        #expect(IPv4DevConf.arpAnnounce.rawValue == Int(IPV4_DEVCONF_ARP_ANNOUNCE))
        #expect(IPv4DevConf.arpIgnore.rawValue == Int(IPV4_DEVCONF_ARP_IGNORE))
    }
}
