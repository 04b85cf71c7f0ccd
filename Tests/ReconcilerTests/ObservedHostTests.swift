// ObservedHost.apply: monitor events update the snapshot at once, so an address deleted from the anycast
// interface is known without a dump, and lost events say the snapshot cannot be trusted.
import NetAddress
import NetlinkTypes
import Reconciler
import Testing

private let own = IPPrefix("192.0.2.53/32")!
private let churn = IPPrefix("10.9.0.1/32")!

private func anycast(up: Bool = true) -> LinkInfo {
    LinkInfo(
        index: 7, name: "anycast0", kind: "dummy", isUp: up, isLowerUp: up, ipv6AddrGenMode: 1,
        ipv4Conf: [.arpIgnore: 1, .arpAnnounce: 2, .rpFilter: 2])
}

@Suite struct ObservedHostTests {
    @Test func anAddressRemovedIsGoneAtOnce() {
        var host = ObservedHost(links: [anycast()], addresses: [AddressInfo(interfaceIndex: 7, prefix: own)])
        #expect(host.prefixes(on: "anycast0") == [own])
        let applied1 = host.apply(.addressRemoved(AddressInfo(interfaceIndex: 7, prefix: own)))
        #expect(applied1)
        #expect(host.prefixes(on: "anycast0").isEmpty)
        let applied2 = host.apply(.addressAdded(AddressInfo(interfaceIndex: 7, prefix: own, flags: 0x80)))
        #expect(applied2)
        #expect(host.prefixes(on: "anycast0") == [own])
        #expect(host.addresses.count == 1)
        // Adding it again (a flags change) replaces, never duplicates.
        let applied3 = host.apply(.addressAdded(AddressInfo(interfaceIndex: 7, prefix: own, flags: 0x200)))
        #expect(applied3)
        #expect(host.addresses == [AddressInfo(interfaceIndex: 7, prefix: own, flags: 0x200)])
    }

    @Test func otherLinksAddressesDoNotTouchTheAnycastInterface() {
        var host = ObservedHost(links: [anycast()], addresses: [AddressInfo(interfaceIndex: 7, prefix: own)])
        host.apply(.addressAdded(AddressInfo(interfaceIndex: 9, prefix: own)))
        host.apply(.addressRemoved(AddressInfo(interfaceIndex: 9, prefix: own)))
        host.apply(.addressAdded(AddressInfo(interfaceIndex: 9, prefix: churn)))
        #expect(host.prefixes(on: "anycast0") == [own])
    }

    @Test func linkChangesKeepWhatTheNotificationLeavesOut() {
        var host = ObservedHost(links: [anycast()])
        var down = anycast(up: false)
        down.ipv4Conf = [:]
        down.ipv6AddrGenMode = nil
        let applied4 = host.apply(.linkChanged(down))
        #expect(applied4)
        #expect(host.link(named: "anycast0")?.isUp == false)
        #expect(host.link(named: "anycast0")?.ipv4Conf == anycast().ipv4Conf)
        #expect(host.link(named: "anycast0")?.ipv6AddrGenMode == 1)
        #expect(host.links.count == 1)
        let eth0 = LinkInfo(index: 2, name: "eth0", isUp: true)
        host.apply(.linkChanged(eth0))
        #expect(host.link(named: "eth0") == eth0)
    }

    @Test func aRemovedLinkTakesItsAddresses() {
        var host = ObservedHost(
            links: [anycast(), LinkInfo(index: 2, name: "eth0", isUp: true)],
            addresses: [AddressInfo(interfaceIndex: 7, prefix: own), AddressInfo(interfaceIndex: 2, prefix: churn)])
        let applied5 = host.apply(.linkRemoved(index: 7, name: "anycast0"))
        #expect(applied5)
        #expect(host.link(named: "anycast0") == nil)
        #expect(host.prefixes(on: "anycast0").isEmpty)
        #expect(host.addresses == [AddressInfo(interfaceIndex: 2, prefix: churn)])
    }

    @Test func lostEventsMakeTheSnapshotUntrusted() {
        var host = ObservedHost(links: [anycast()], addresses: [AddressInfo(interfaceIndex: 7, prefix: own)])
        let before = host
        let applied6 = host.apply(.overrun)
        #expect(applied6 == false)
        #expect(host == before)
    }
}
