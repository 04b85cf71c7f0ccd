import Config
import NetAddress
import NetlinkTypes
import Reconciler
import Testing

private let v4 = IPPrefix("192.0.2.53/32")!
private let v6 = IPPrefix("2001:db8:53::53/128")!
private let other = IPPrefix("192.0.2.99/32")!
private let linkLocal = IPPrefix("fe80::1/64")!

private func converged(_ name: String = "anycast0", up: Bool = true) -> LinkInfo {
    LinkInfo(
        index: 7, name: name, kind: "dummy", isUp: up, isLowerUp: up, ipv6AddrGenMode: 1,
        ipv4Conf: [.arpIgnore: 1, .arpAnnounce: 2, .rpFilter: 2])
}

private func v6Safe(_ prefix: IPPrefix, index: Int32 = 7) -> AddressInfo {
    AddressInfo(
        interfaceIndex: index, prefix: prefix, flags: AddressInfo.flagNoDAD | AddressInfo.flagDeprecated,
        preferredLifetime: 0)
}

@Suite struct InterfacePlannerTests {
    @Test func freshHostIsBuiltInOrder() {
        let target = InterfaceTarget(name: "anycast0", uplinks: ["eth0"], prefixes: [v6, v4])
        let eth0 = LinkInfo(
            index: 2, name: "eth0", isUp: true, ipv4Conf: [.arpIgnore: 0, .arpAnnounce: 0, .rpFilter: 1])
        let plan = InterfacePlanner.plan(target: target, observed: ObservedHost(links: [eth0]))
        #expect(plan.errors.isEmpty)
        #expect(
            plan.operations == [
                .createDummy(name: "anycast0"),
                .setIPv4Conf(name: "anycast0", key: .arpIgnore, value: 1),
                .setIPv4Conf(name: "anycast0", key: .arpAnnounce, value: 2),
                .setIPv4Conf(name: "anycast0", key: .rpFilter, value: 2),
                .setIPv4Conf(name: "eth0", key: .arpIgnore, value: 1),
                .setIPv4Conf(name: "eth0", key: .arpAnnounce, value: 2),
                .setIPv4Conf(name: "eth0", key: .rpFilter, value: 2),
                .addAddress(name: "anycast0", prefix: v4),
                .addAddress(name: "anycast0", prefix: v6),
                .setLinkUp(name: "anycast0", up: true),
            ])
    }

    @Test func convergedHostNeedsNothing() {
        let target = InterfaceTarget(name: "anycast0", prefixes: [v4, v6])
        let observed = ObservedHost(
            links: [converged()], addresses: [AddressInfo(interfaceIndex: 7, prefix: v4), v6Safe(v6)])
        let plan = InterfacePlanner.plan(target: target, observed: observed)
        #expect(plan == InterfacePlan())
    }

    @Test func addrGenModeIsFixedOnAnExistingDummy() {
        var link = converged()
        link.ipv6AddrGenMode = 0
        let plan = InterfacePlanner.plan(
            target: InterfaceTarget(name: "anycast0", prefixes: []), observed: ObservedHost(links: [link]))
        #expect(plan.operations == [.setAddrGenModeNone(name: "anycast0")])
    }

    @Test func driftIsRepaired() {
        let target = InterfaceTarget(name: "anycast0", prefixes: [v4, v6])
        let observed = ObservedHost(links: [converged(up: false)], addresses: [v6Safe(v6)])
        let plan = InterfacePlanner.plan(target: target, observed: observed)
        #expect(plan.operations == [.addAddress(name: "anycast0", prefix: v4), .setLinkUp(name: "anycast0", up: true)])
    }

    @Test func strayAddressesOnOwnedDummyAreRemovedFirst() {
        let target = InterfaceTarget(name: "anycast0", prefixes: [v4])
        let observed = ObservedHost(
            links: [converged()],
            addresses: [
                AddressInfo(interfaceIndex: 7, prefix: other), AddressInfo(interfaceIndex: 7, prefix: linkLocal),
            ])
        let plan = InterfacePlanner.plan(target: target, observed: observed)
        #expect(
            plan.operations == [
                .deleteAddress(name: "anycast0", prefix: other),
                .deleteAddress(name: "anycast0", prefix: linkLocal),
                .addAddress(name: "anycast0", prefix: v4),
            ])
    }

    @Test func ipv6WithoutNodadOrPreferredLifetimeIsReplaced() {
        let target = InterfaceTarget(name: "anycast0", prefixes: [v6])
        let plain = AddressInfo(interfaceIndex: 7, prefix: v6, flags: AddressInfo.flagPermanent)
        let plan = InterfacePlanner.plan(
            target: target, observed: ObservedHost(links: [converged()], addresses: [plain]))
        #expect(plan.operations == [.addAddress(name: "anycast0", prefix: v6)])
    }

    @Test func existingInterfaceOnlyLosesAddressesAnycastdAdded() {
        let lo = LinkInfo(
            index: 1, name: "lo", isUp: true, ipv4Conf: [.arpIgnore: 1, .arpAnnounce: 2, .rpFilter: 2])
        let loopback = AddressInfo(interfaceIndex: 1, prefix: IPPrefix("127.0.0.1/8")!)
        let ours = AddressInfo(interfaceIndex: 1, prefix: other)
        let target = InterfaceTarget(name: "lo", kind: .existing, prefixes: [v4], owned: [other])
        let plan = InterfacePlanner.plan(
            target: target, observed: ObservedHost(links: [lo], addresses: [loopback, ours]))
        #expect(plan.operations == [.deleteAddress(name: "lo", prefix: other), .addAddress(name: "lo", prefix: v4)])
    }

    /// An ownership file naming the host's loopback addresses must not make anycastd delete them.
    @Test func ownedLoopbackAndReservedAddressesAreNeverRemoved() {
        let lo = LinkInfo(
            index: 1, name: "lo", isUp: true, ipv4Conf: [.arpIgnore: 1, .arpAnnounce: 2, .rpFilter: 2])
        let reserved = ["127.0.0.1/8", "::1/128", "127.0.0.2/32", "fe80::1/128", "169.254.1.1/32", "192.0.2.0/24"]
            .map { IPPrefix($0)! }
        let present = (reserved + [other]).map { AddressInfo(interfaceIndex: 1, prefix: $0) }
        let target = InterfaceTarget(name: "lo", kind: .existing, prefixes: [v4], owned: Set(reserved + [other]))
        let plan = InterfacePlanner.plan(target: target, observed: ObservedHost(links: [lo], addresses: present))
        #expect(plan.operations == [.deleteAddress(name: "lo", prefix: other), .addAddress(name: "lo", prefix: v4)])
    }

    @Test func existingInterfaceIsNeverCreatedOrSetUp() {
        let target = InterfaceTarget(name: "lo", kind: .existing, prefixes: [v4])
        let missing = InterfacePlanner.plan(target: target, observed: ObservedHost())
        #expect(missing.operations.isEmpty)
        #expect(missing.errors.count == 1)
        let down = LinkInfo(index: 1, name: "lo", ipv4Conf: [.arpIgnore: 1, .arpAnnounce: 2, .rpFilter: 2])
        let plan = InterfacePlanner.plan(target: target, observed: ObservedHost(links: [down]))
        #expect(plan.operations == [.addAddress(name: "lo", prefix: v4)])
    }

    @Test func foreignLinkWithTheSameNameIsNotTakenOver() {
        let veth = LinkInfo(index: 9, name: "anycast0", kind: "veth", isUp: true)
        let plan = InterfacePlanner.plan(
            target: InterfaceTarget(name: "anycast0", prefixes: [v4]), observed: ObservedHost(links: [veth]))
        #expect(plan.operations.isEmpty)
        #expect(plan.errors.first?.contains("kind veth") == true)
    }

    @Test func largerAllValueWarnsUnlessSetAllIsOptedIn() {
        let observed = ObservedHost(links: [converged()], ipv4ConfAll: [.rpFilter: 1, .arpIgnore: 2, .arpAnnounce: 0])
        let warned = InterfacePlanner.plan(target: InterfaceTarget(name: "anycast0", prefixes: []), observed: observed)
        #expect(warned.operations.isEmpty)
        #expect(warned.warnings.count == 1)
        #expect(warned.warnings.first?.contains("net.ipv4.conf.all.arp_ignore=2") == true)

        let fixed = InterfacePlanner.plan(
            target: InterfaceTarget(name: "anycast0", sysctl: InterfaceSysctl(setAll: true), prefixes: []),
            observed: observed)
        #expect(fixed.operations == [.setIPv4ConfAll(key: .arpIgnore, value: 1)])
        #expect(fixed.warnings.isEmpty)
    }

    @Test func missingUplinkIsAWarningNotAnError() {
        let plan = InterfacePlanner.plan(
            target: InterfaceTarget(name: "anycast0", uplinks: ["eth9"], prefixes: []),
            observed: ObservedHost(links: [converged()]))
        #expect(plan.operations.isEmpty)
        #expect(plan.warnings == ["eth9: uplink not present; its settings will be applied when it appears"])
    }

    @Test func drainingPrefixesStayUntilReleased() {
        let state = DesiredState(
            interface: InterfaceConfig(), bgp: BGPConfig(asn: 65011, routerId: IPv4Address("10.0.0.1")!),
            services: [ServiceConfig(name: "dns", prefixes: [v4])])
        let target = InterfaceTarget(state, draining: [other])
        #expect(target.prefixes == [v4, other])
    }
}
