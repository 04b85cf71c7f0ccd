// The announcement policies of issue 9 on the fake clock: degraded attributes exactly as configured, the
// dampening penalty's arithmetic (threshold, decay to reuse, maxSuppress, drains and stops adding nothing,
// undampen), recheck, and the last-resort rule with zero, one and two other paths, degraded and own paths,
// paths that come and go, and two hosts that fail at the same instant behind one router.
import AgentCore
import Config
import NetAddress
import NetlinkTypes
import Reconciler
import Testing

private let slowCheck = "exec /usr/local/bin/slow-check"
private let degradedCommunity = Community(asn: 65011, value: 666)
private let degradedLarge = LargeCommunity(global: 65011, local1: 0, local2: 666)

private func degradeCheck() -> CheckConfig {
    CheckConfig(kind: .exec(command: ["/usr/local/bin/slow-check"]), onFailure: .degrade)
}

/// dns (v4 + v6) with one withdraw check and the given policies, ntp without checks; the usual two peers.
private func policyState(
    degradeChecks: Bool = false, lastResort: Bool = false, dampening: DampeningConfig? = nil,
    degraded: DegradedAttributes = DegradedAttributes(
        asPathPrepend: 2, med: 500, communities: [degradedCommunity], largeCommunities: [degradedLarge]),
    serviceCommunities: [Community] = [], serviceMED: UInt32? = nil, gracefulShutdown: Bool = true
) -> DesiredState {
    let dns = ServiceConfig(
        name: "dns", prefixes: [dnsV4, dnsV6], checks: [check()] + (degradeChecks ? [degradeCheck()] : []),
        communities: serviceCommunities, med: serviceMED, lastResort: lastResort, degraded: degraded,
        dampening: dampening)
    return state(gracefulShutdown: gracefulShutdown, services: [dns, ServiceConfig(name: "ntp", prefixes: [ntpV4])])
}

private func path(
    _ hop: String, asPath: [UInt32] = [65000, 65012], communities: [Community] = [], large: [LargeCommunity] = []
)
    -> ReceivedPath
{
    ReceivedPath(
        nextHop: IPAddress(hop)!, asPath: asPath, communities: communities.map(\.value), largeCommunities: large)
}

extension FakeShell {
    mutating func health(_ up: Bool, degradedBy: [String] = [], service: String = "dns") {
        feed(.health(service: service, up: up, detail: "", degradedBy: degradedBy))
    }

    mutating func recheck(_ services: [String] = []) -> ControlReply? {
        let request = nextRequest
        nextRequest += 1
        feed(.recheckRequested(services, request: request))
        return replies[request]
    }

    mutating func undampen(_ services: [String] = []) -> ControlReply? {
        let request = nextRequest
        nextRequest += 1
        feed(.undampenRequested(services, request: request))
        return replies[request]
    }
}

@Suite struct DegradedTests {
    @Test func aFailingDegradeCheckKeepsTheRouteWithExactlyTheDegradedAttributesAndRecovers() {
        var shell = FakeShell.running(
            policyState(degradeChecks: true, serviceCommunities: [Community(asn: 65011, value: 53)]))
        let normal = shell.routes("core1")[dnsV4]
        #expect(normal?.asPath == [65011, 65011])
        #expect(normal?.med == nil)
        shell.health(true, degradedBy: [slowCheck])
        let ebgp = shell.routes("core1")[dnsV4]
        // The peer's own prepend (1) and the degraded one (2) on top of the ASN itself.
        #expect(ebgp?.asPath == [65011, 65011, 65011, 65011])
        #expect(ebgp?.communities == [Community(asn: 65011, value: 53), degradedCommunity])
        #expect(ebgp?.largeCommunities == [degradedLarge])
        #expect(ebgp?.med == 500)
        let ibgp = shell.routes("core2")[dnsV4]
        #expect(ibgp?.asPath == [])  // no prepend towards iBGP: the router would see its own ASN
        #expect(ibgp?.communities == [Community(asn: 65011, value: 53), degradedCommunity])
        #expect(ibgp?.med == 500)
        #expect(shell.core.verdicts[dnsV4]?.degraded == true)
        #expect(shell.core.verdicts[dnsV4]?.blockedBy == nil)
        #expect(shell.logs.contains("dns: degraded (\(slowCheck) failing)"))
        #expect(shell.logs.contains("192.0.2.53/32: announced degraded (\(slowCheck) failing)"))
        #expect(shell.core.policy(of: "dns", now: shell.now).degradedBy == [slowCheck])

        shell.health(true, degradedBy: [])
        #expect(shell.routes("core1")[dnsV4] == normal)
        #expect(shell.logs.contains("dns: no longer degraded (\(slowCheck) up)"))
        #expect(shell.logs.contains("192.0.2.53/32: announced"))
    }

    @Test func theDegradedMEDReplacesTheServicesAndAnAbsentOneKeepsIt() {
        var shell = FakeShell.running(policyState(degradeChecks: true, serviceMED: 10))
        #expect(shell.routes("core1")[dnsV4]?.med == 10)
        shell.health(true, degradedBy: [slowCheck])
        #expect(shell.routes("core1")[dnsV4]?.med == 500)
        var prependOnly = FakeShell.running(
            policyState(degradeChecks: true, degraded: DegradedAttributes(asPathPrepend: 3), serviceMED: 10))
        prependOnly.health(true, degradedBy: [slowCheck])
        #expect(prependOnly.routes("core1")[dnsV4]?.med == 10)
        #expect(prependOnly.routes("core1")[dnsV4]?.asPath.count == 5)
        #expect(prependOnly.routes("core1")[dnsV4]?.communities == [])
    }

    @Test func aFailingWithdrawCheckStillWithdrawsADegradedService() {
        var shell = FakeShell.running(policyState(degradeChecks: true))
        shell.health(true, degradedBy: [slowCheck])
        shell.health(false, degradedBy: [slowCheck])
        #expect(shell.routes("core1")[dnsV4] == nil)
        #expect(shell.core.verdicts[dnsV4]?.blockedBy == "service dns is unhealthy")
    }

    @Test func aServiceWithoutDegradeChecksLogsExactlyAsBefore() {
        var shell = FakeShell.running(policyState())
        let before = shell.logs.count
        shell.health(false)
        #expect(
            Array(shell.logs[before...]) == [
                "dns: unhealthy", "192.0.2.53/32: withdrawn (service dns is unhealthy)",
                "2001:db8:53::53/128: withdrawn (service dns is unhealthy)",
            ])
    }
}

@Suite struct DampeningTests {
    static let config = DampeningConfig(halfLife: .seconds(60), suppress: 3, reuse: 1, maxSuppress: .seconds(600))

    @Test func thePenaltyHalvesEveryHalfLife() {
        let entry = DampeningState(penalty: 4, updated: .seconds(10))
        #expect(entry.penalty(at: .seconds(10), halfLife: .seconds(60)) == 4)
        #expect(abs(entry.penalty(at: .seconds(70), halfLife: .seconds(60)) - 2) < 1e-9)
        #expect(abs(entry.penalty(at: .seconds(190), halfLife: .seconds(60)) - 0.5) < 1e-9)
    }

    @Test func theThirdWithdrawAtOneInstantSuppressesAndTheDecayReusesAt95Point1Seconds() {
        var shell = FakeShell.running(policyState(dampening: Self.config))
        for _ in 0..<2 {
            shell.health(false)
            shell.health(true)
        }
        #expect(shell.routes("core1")[dnsV4] != nil)
        #expect(shell.core.policy(of: "dns", now: shell.now).penalty == 2)
        #expect(!shell.core.policy(of: "dns", now: shell.now).suppressed)
        shell.health(false)
        #expect(shell.core.policy(of: "dns", now: shell.now).suppressed)
        #expect(
            shell.logs.contains {
                $0.hasPrefix(
                    "dns: suppressed by flap dampening (penalty 3 reached suppress 3); announced again in 1m36s at the latest"
                )
            })
        // 60 s × log2(3) = 95.0978 s: the first whole millisecond below reuse is 95.098 s, plus one.
        let reuse = Duration.milliseconds(95_099)
        #expect(shell.timers.contains(reuse))
        shell.health(true)
        #expect(shell.routes("core1")[dnsV4] == nil)
        #expect(shell.core.verdicts[dnsV4]?.blockedBy == "service dns is suppressed (flap dampening)")
        shell.advance(to: reuse - .milliseconds(2))
        #expect(shell.routes("core1")[dnsV4] == nil)
        #expect(shell.core.policy(of: "dns", now: shell.now).penalty >= 1)
        shell.advance(to: reuse)
        #expect(shell.routes("core1")[dnsV4] != nil)
        #expect(!shell.core.policy(of: "dns", now: shell.now).suppressed)
        #expect(shell.core.policy(of: "dns", now: shell.now).penalty < 1)
        #expect(shell.logs.contains("dns: no longer suppressed (penalty 1 decayed below reuse 1)"))
    }

    @Test func withdrawsSpreadOverTimeDecayBelowTheThreshold() {
        var shell = FakeShell.running(policyState(dampening: Self.config))
        for _ in 0..<3 {
            shell.health(false)
            shell.advance(by: .seconds(1))
            shell.health(true)
        }
        // 2^(-2/60) + 2^(-1/60) + 1 ≈ 2.966 < 3.
        let penalty = shell.core.policy(of: "dns", now: shell.now).penalty
        #expect(penalty > 2.9 && penalty < 3)
        #expect(!shell.core.policy(of: "dns", now: shell.now).suppressed)
        #expect(shell.routes("core1")[dnsV4] != nil)
    }

    @Test func maxSuppressEndsASuppressionAndLowersThePenaltyToReuse() {
        let config = DampeningConfig(halfLife: .seconds(60), suppress: 3, reuse: 1, maxSuppress: .seconds(30))
        var shell = FakeShell.running(policyState(dampening: config))
        for _ in 0..<3 {
            shell.health(false)
            shell.health(true)
        }
        #expect(shell.core.policy(of: "dns", now: shell.now).suppressed)
        #expect(shell.timers.contains(.seconds(30)))
        shell.advance(to: .seconds(30) - .milliseconds(1))
        #expect(shell.routes("core1")[dnsV4] == nil)
        shell.advance(to: .seconds(30))
        #expect(shell.routes("core1")[dnsV4] != nil)
        #expect(shell.core.policy(of: "dns", now: shell.now).penalty == 1)
        #expect(shell.logs.contains("dns: no longer suppressed (maxSuppress 30s reached; penalty lowered to 1)"))
    }

    @Test func drainsAndStopsAddNoPenalty() {
        var shell = FakeShell.running(policyState(dampening: Self.config, gracefulShutdown: false))
        _ = shell.drain(["dns"])
        for _ in 0..<5 {
            shell.health(false)
            shell.health(true)
        }
        #expect(shell.core.policy(of: "dns", now: shell.now).penalty == 0)
        _ = shell.undrain()
        shell.feed(.stopRequested)
        shell.health(false)
        #expect(shell.core.policy(of: "dns", now: shell.now).penalty == 0)
    }

    @Test func undampenClearsThePenaltyAndAnnouncesAtOnce() {
        var shell = FakeShell.running(policyState(dampening: Self.config))
        for _ in 0..<3 {
            shell.health(false)
            shell.health(true)
        }
        #expect(shell.routes("core1")[dnsV4] == nil)
        #expect(shell.undampen(["dnss"]) == ControlReply(ok: false, message: "unknown service: dnss"))
        #expect(shell.undampen(["dns"]) == ControlReply(ok: true, message: "penalty cleared: dns"))
        #expect(shell.routes("core1")[dnsV4] != nil)
        #expect(shell.core.policy(of: "dns", now: shell.now).penalty == 0)
        #expect(shell.logs.contains("dns: penalty cleared (anycastd undampen)"))
        #expect(shell.undampen() == ControlReply(ok: true, message: "no penalty to clear"))
    }

    @Test func withoutDampeningNothingIsCounted() {
        var shell = FakeShell.running(policyState())
        for _ in 0..<5 {
            shell.health(false)
            shell.health(true)
        }
        #expect(shell.core.dampening.isEmpty)
        #expect(shell.routes("core1")[dnsV4] != nil)
    }
}

@Suite struct RecheckTests {
    @Test func recheckAsksForTheServicesChecksAndRefusesUnknownNames() {
        var shell = FakeShell.running()
        #expect(
            shell.recheck(["dns"])
                == ControlReply(ok: true, message: "checks of dns run now; results count toward rise/fall"))
        #expect(shell.rechecks == [["dns"]])
        #expect(
            shell.recheck() == ControlReply(ok: true, message: "checks of dns run now; results count toward rise/fall"))
        #expect(shell.recheck(["ntp"]) == ControlReply(ok: true, message: "no checks to run"))
        #expect(shell.recheck(["dns", "bogus"]) == ControlReply(ok: false, message: "unknown service: bogus"))
        #expect(shell.rechecks == [["dns"], ["dns"]])
    }
}

@Suite struct LastResortTests {
    static func running() -> FakeShell { FakeShell.running(policyState(lastResort: true)) }

    @Test func withNoOtherPathAFailingServiceStaysAnnouncedDegraded() {
        var shell = Self.running()
        shell.health(false)
        let route = shell.routes("core1")[dnsV4]
        #expect(route?.asPath == [65011, 65011, 65011, 65011])
        #expect(route?.communities == [degradedCommunity])
        #expect(shell.core.verdicts[dnsV4]?.lastResort == true)
        #expect(
            shell.logs.contains(
                "192.0.2.53/32: announced degraded as the last resort (service dns is unhealthy; no other path)"))
        shell.advance(by: .seconds(60))
        #expect(shell.routes("core1")[dnsV4] == route)
        #expect(shell.core.policy(of: "dns", now: shell.now).lastResort == [dnsV4, dnsV6].sorted())
        shell.health(true)
        #expect(shell.routes("core1")[dnsV4]?.communities == [])
        #expect(shell.core.verdicts[dnsV4]?.lastResort == false)
    }

    @Test func withOneOtherPathTheServiceIsAnnouncedDegradedFirstThenWithdrawn() {
        var shell = Self.running()
        shell.feed(.receivedPaths(peer: "core1", prefix: dnsV4, paths: [path("10.0.0.12")]))
        shell.health(false)
        #expect(shell.routes("core1")[dnsV4]?.communities == [degradedCommunity])
        shell.advance(by: .milliseconds(1999))
        #expect(shell.routes("core1")[dnsV4] != nil)
        shell.advance(by: .milliseconds(1))
        #expect(shell.routes("core1")[dnsV4] == nil)
        #expect(shell.routes("core1")[dnsV6] != nil)  // no other path for the IPv6 prefix
        #expect(
            shell.core.verdicts[dnsV4]?.blockedBy
                == "service dns is unhealthy; another path via 10.0.0.12 from core1")
    }

    @Test func pathsThatComeAndGoWithdrawAndReannounceAtOnceWithTwoOtherPaths() {
        var shell = Self.running()
        shell.health(false)
        shell.advance(by: .seconds(2))
        #expect(shell.routes("core1")[dnsV4] != nil)
        shell.feed(.receivedPaths(peer: "core1", prefix: dnsV4, paths: [path("10.0.0.12"), path("10.0.0.13")]))
        #expect(shell.routes("core1")[dnsV4] == nil)
        shell.feed(.receivedPaths(peer: "core1", prefix: dnsV4, paths: [path("10.0.0.13")]))
        #expect(shell.routes("core1")[dnsV4] == nil)
        shell.feed(.receivedPaths(peer: "core2", prefix: dnsV4, paths: [path("10.0.0.12")]))
        shell.feed(.receivedPaths(peer: "core1", prefix: dnsV4, paths: []))
        #expect(shell.routes("core1")[dnsV4] == nil)  // core2 still offers one
        shell.feed(.receivedPaths(peer: "core2", prefix: dnsV4, paths: []))
        #expect(shell.routes("core1")[dnsV4]?.communities == [degradedCommunity])
        #expect(shell.core.verdicts[dnsV4]?.lastResort == true)
    }

    @Test func degradedOwnAndDownPeersPathsAreNotOtherPathsButOwnASNPathsAre() {
        var shell = Self.running()
        shell.health(false)
        shell.advance(by: .seconds(2))
        let degraded = path("10.0.0.12", communities: [degradedCommunity])
        let degradedLargeOnly = path("10.0.0.13", large: [degradedLarge])
        let own = path("10.0.0.11")  // the router ID and core2's next hop
        let anycast = path("192.0.2.53")
        let noHop = ReceivedPath(nextHop: nil, asPath: [65012])
        shell.feed(
            .receivedPaths(peer: "core1", prefix: dnsV4, paths: [degraded, degradedLargeOnly, own, anycast, noHop]))
        #expect(shell.routes("core1")[dnsV4] != nil)
        shell.feed(.peer("core2", .down(nil)))
        shell.feed(.receivedPaths(peer: "core2", prefix: dnsV4, paths: [path("10.0.0.14")]))
        #expect(shell.routes("core1")[dnsV4] != nil)  // core2 is not Established
        shell.feed(.receivedPaths(peer: "core1", prefix: dnsV4, paths: [path("10.0.0.15", asPath: [65000, 65011])]))
        #expect(shell.routes("core1")[dnsV4] == nil)  // the host's own ASN still counts as another host
    }

    @Test func drainsMissingAddressesAndADownInterfaceStillWithdraw() {
        var shell = FakeShell.running(policyState(lastResort: true, gracefulShutdown: false))
        shell.health(false)
        #expect(shell.routes("core1")[dnsV4] != nil)
        _ = shell.drain(["dns"])
        #expect(shell.routes("core1")[dnsV4] == nil)
        #expect(shell.core.verdicts[dnsV4]?.blockedBy == "drained")
        _ = shell.undrain()
        #expect(shell.routes("core1")[dnsV4] != nil)
        shell.removeLink("anycast0")
        #expect(shell.routes("core1")[dnsV4] == nil)
    }

    @Test func aSuppressedServiceIsAlsoKeptAsTheLastResort() {
        let config = DampeningConfig(halfLife: .seconds(60), suppress: 2, reuse: 1, maxSuppress: .seconds(600))
        var shell = FakeShell.running(policyState(lastResort: true, dampening: config))
        shell.health(false)
        shell.health(true)
        shell.health(false)
        shell.health(true)
        #expect(shell.core.policy(of: "dns", now: shell.now).suppressed)
        #expect(shell.core.healthy.contains("dns"))
        #expect(shell.routes("core1")[dnsV4]?.communities == [degradedCommunity])
        #expect(shell.core.verdicts[dnsV4]?.lastResort == true)
        #expect(
            shell.logs.contains { $0.hasPrefix("dns: suppressed by flap dampening (penalty 2 reached suppress 2)") })
    }
}

/// Two hosts with the same service behind one router that sends every host all paths (ADD-PATH), with the
/// next hop each host announced from.
private struct FakeRouter {
    var hosts: [FakeShell]
    var addresses: [String]

    /// The paths the router holds for `prefix`, learnt from each host's session with core1.
    func paths(_ prefix: IPPrefix) -> [ReceivedPath] {
        zip(hosts, addresses).compactMap { host, address in
            host.routes("core1")[prefix].map {
                ReceivedPath(
                    nextHop: IPAddress(address)!, asPath: [65000] + $0.asPath, communities: $0.communities.map(\.value),
                    largeCommunities: $0.largeCommunities)
            }
        }
    }

    /// Sends every host the router's paths until nothing changes any more; returns the rounds it took.
    mutating func exchange() -> Int {
        for round in 1...10 {
            let before = hosts.map(\.routeHistory.count)
            for prefix in [dnsV4, dnsV6] {
                let offered = paths(prefix)
                for index in hosts.indices {
                    hosts[index].feed(.receivedPaths(peer: "core1", prefix: prefix, paths: offered))
                }
            }
            if hosts.map(\.routeHistory.count) == before { return round }
        }
        return 11
    }

    mutating func everyHost(_ change: (inout FakeShell) -> Void) {
        for index in hosts.indices { change(&hosts[index]) }
    }
}

private func host(_ routerID: String) -> DesiredState {
    var state = policyState(lastResort: true)
    state.bgp.routerId = IPv4Address(routerID)!
    state.bgp.peers[1].nextHop = NextHopConfig(ipv4: IPv4Address(routerID)!)
    return state
}

@Suite struct TwoHostsTests {
    fileprivate static func router() -> FakeRouter {
        var router = FakeRouter(
            hosts: [FakeShell.running(host("10.0.0.11")), FakeShell.running(host("10.0.0.12"))],
            addresses: ["10.0.0.11", "10.0.0.12"])
        _ = router.exchange()
        return router
    }

    @Test func twoHostsFailingAtTheSameInstantBothStayAnnouncedDegradedWithoutOscillating() {
        var router = Self.router()
        #expect(router.paths(dnsV4).count == 2)
        let before = router.hosts.map(\.routeHistory.count)
        router.everyHost { $0.health(false) }
        #expect(router.exchange() <= 2)
        router.everyHost { $0.advance(by: .seconds(2)) }
        #expect(router.exchange() == 1)
        router.everyHost { $0.advance(by: .seconds(60)) }
        #expect(router.exchange() == 1)
        // Each host changed its routes once (normal to degraded), never withdrew.
        #expect(router.hosts.map(\.routeHistory.count) == before.map { $0 + 1 })
        #expect(router.paths(dnsV4).count == 2)
        #expect(router.paths(dnsV4).allSatisfy { $0.communities == [degradedCommunity.value] })
    }

    @Test func oneHostFailingLeavesTheRouterAndOneRecoveringRemovesTheOthersDegradedRoute() {
        var router = Self.router()
        router.hosts[0].health(false)
        _ = router.exchange()
        router.everyHost { $0.advance(by: .seconds(2)) }
        _ = router.exchange()
        #expect(router.paths(dnsV4).map(\.nextHop) == [IPAddress("10.0.0.12")])
        // Both failed: the first comes back as the last resort at once.
        router.hosts[1].health(false)
        _ = router.exchange()
        router.everyHost { $0.advance(by: .seconds(2)) }
        _ = router.exchange()
        #expect(router.paths(dnsV4).count == 2)
        #expect(router.paths(dnsV4).allSatisfy { $0.communities == [degradedCommunity.value] })
        // One recovers: the other's degraded route goes.
        router.hosts[1].health(true)
        _ = router.exchange()
        #expect(router.paths(dnsV4).map(\.nextHop) == [IPAddress("10.0.0.12")])
        #expect(router.paths(dnsV4).first?.communities == [])
    }
}
