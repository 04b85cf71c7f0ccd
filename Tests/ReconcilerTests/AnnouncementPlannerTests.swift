import Config
import NetAddress
import Reconciler
import Testing

private let dnsV4 = IPPrefix("192.0.2.53/32")!
private let dnsV6 = IPPrefix("2001:db8:53::53/128")!
private let ntp = IPPrefix("192.0.2.123/32")!

private func state() -> DesiredState {
    DesiredState(
        interface: InterfaceConfig(),
        bgp: BGPConfig(
            asn: 65011, routerId: IPv4Address("10.0.0.11")!,
            peers: [
                PeerConfig(
                    name: "core1", address: IPAddress("10.0.0.1")!, asn: 65000, med: 50,
                    communities: [Community(asn: 65011, value: 1)]),
                PeerConfig(name: "core2", address: IPAddress("10.0.0.2")!, asn: 65000, families: [.ipv4]),
            ]),
        services: [
            ServiceConfig(
                name: "dns", prefixes: [dnsV4, dnsV6], communities: [Community(asn: 65011, value: 53)],
                largeCommunities: [LargeCommunity(global: 65011, local1: 0, local2: 53)], med: 100),
            ServiceConfig(name: "ntp", prefixes: [ntp], peers: ["core2"]),
        ])
}

private func inputs(
    healthy: Set<String> = ["dns", "ntp"], present: Set<IPPrefix> = [dnsV4, dnsV6, ntp], up: Bool = true,
    phases: [String: ServicePhase] = [:]
) -> AnnouncementInputs {
    AnnouncementInputs(
        state: state(), interfaceUp: up, presentPrefixes: present, healthyServices: healthy, phases: phases)
}

@Suite struct AnnouncementPlannerTests {
    @Test func healthyPresentPrefixesGoToTheirPeersAndFamilies() {
        let plan = AnnouncementPlanner.plan(inputs())
        #expect(Set(plan["core1"]!.keys) == [dnsV4, dnsV6])
        #expect(Set(plan["core2"]!.keys) == [dnsV4, ntp])  // core2 is IPv4 only
        let route = plan["core1"]![dnsV4]!
        #expect(route.communities == [Community(asn: 65011, value: 1), Community(asn: 65011, value: 53)])
        #expect(route.largeCommunities == [LargeCommunity(global: 65011, local1: 0, local2: 53)])
        #expect(route.med == 50)  // the peer's MED wins over the service's
        #expect(plan["core2"]![dnsV4]!.med == 100)
    }

    @Test func unhealthyServiceIsWithdrawnEverywhere() {
        let plan = AnnouncementPlanner.plan(inputs(healthy: ["ntp"]))
        #expect(plan["core1"]!.isEmpty)
        #expect(Set(plan["core2"]!.keys) == [ntp])
        let verdict = AnnouncementPlanner.verdicts(inputs(healthy: ["ntp"])).first { $0.prefix == dnsV4 }
        #expect(verdict?.blockedBy == "service dns is unhealthy")
    }

    @Test func missingAddressOrDownInterfaceBlocksTheRoute() {
        let missing = AnnouncementPlanner.plan(inputs(present: [dnsV6, ntp]))
        #expect(Set(missing["core1"]!.keys) == [dnsV6])
        let down = AnnouncementPlanner.plan(inputs(up: false))
        #expect(down.values.allSatisfy { $0.isEmpty })
        #expect(AnnouncementPlanner.verdicts(inputs(up: false)).allSatisfy { $0.blockedBy == "anycast0 is down" })
    }

    @Test func drainAddsGracefulShutdownThenWithdraws() {
        let graceful = AnnouncementPlanner.plan(inputs(phases: ["dns": .gracefulShutdown]))
        #expect(graceful["core1"]![dnsV4]!.communities.contains(.gracefulShutdown))
        #expect(graceful["core2"]![ntp]!.communities.contains(.gracefulShutdown) == false)
        let withdrawn = AnnouncementPlanner.plan(inputs(phases: ["dns": .withdrawn]))
        #expect(withdrawn["core1"]!.isEmpty)
        #expect(Set(withdrawn["core2"]!.keys) == [ntp])
    }

    @Test func unhealthyDuringGracefulShutdownIsStillWithdrawn() {
        let plan = AnnouncementPlanner.plan(inputs(healthy: [], phases: ["dns": .gracefulShutdown]))
        #expect(plan["core1"]!.isEmpty)
    }
}
