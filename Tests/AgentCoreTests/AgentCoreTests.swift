// One test per behaviour the README and anycastd(8) promise, on a fake clock: drains with and without
// GRACEFUL_SHUTDOWN, undrain in each phase, drains restored from disk (and unreadable), drains that cannot
// be saved, stops (during a drain, twice, with peers flapping), prefixes removed from the file, a service
// renamed, health flapping during a drain, the interface vanishing, BFD Down.
import AgentCore
import Config
import NetAddress
import NetlinkTypes
import Reconciler
import Testing

@Suite struct AgentCoreTests {
    @Test func comingUpAddsAddressesThenAnnouncesWithEveryAttributeDecided() {
        let shell = FakeShell.running()
        #expect(shell.hasAddress(dnsV4) && shell.hasAddress(dnsV6) && shell.hasAddress(ntpV4))
        #expect(shell.host.link(named: "anycast0")?.isUp == true)
        let ebgp = shell.routes("core1")[dnsV4]
        #expect(ebgp?.nextHop == .sessionAddress)
        #expect(ebgp?.asPath == [65011, 65011])  // asPathPrepend 1
        #expect(ebgp?.localPref == nil)
        let ibgp = shell.routes("core2")[dnsV4]
        #expect(ibgp?.nextHop == .address(.v4(IPv4Address("10.0.0.11")!)))
        #expect(ibgp?.asPath == [])
        #expect(ibgp?.localPref == 100)
        #expect(Set(shell.routes("core1").keys) == [dnsV4, dnsV6, ntpV4])
        #expect(Set(shell.routes("core2").keys) == [dnsV4, ntpV4])  // IPv4 only
        #expect(shell.core.peersAnnouncing(dnsV4) == ["core1", "core2"])
    }

    @Test func receivedPathsAreKeptPerPeerAndPrefixAndForgottenWhenEmpty() {
        var shell = FakeShell.running()
        let other = ReceivedPath(nextHop: .v4(IPv4Address("10.0.0.99")!), asPath: [65099])
        shell.feed(.receivedPaths(peer: "core1", prefix: dnsV4, paths: [other]))
        #expect(shell.core.receivedPaths["core1"]?[dnsV4] == [other])
        shell.feed(.receivedPaths(peer: "core1", prefix: dnsV4, paths: []))
        #expect(shell.core.receivedPaths["core1"] == nil)
    }

    @Test func aServiceIsNotAnnouncedBeforeItsChecksRise() {
        var shell = FakeShell.running(healthy: false)
        #expect(shell.routes("core1")[dnsV4] == nil)
        #expect(shell.core.verdicts[dnsV4]?.blockedBy == "service dns is unhealthy")
        shell.feed(.health(service: "dns", up: true, detail: "tcp 127.0.0.1:53: connected"))
        #expect(shell.routes("core1")[dnsV4] != nil)
        #expect(shell.logs.contains("dns: healthy (tcp 127.0.0.1:53: connected)"))
    }

    @Test func drainWithGracefulShutdownReannouncesThenWithdrawsAfterTheDelay() {
        var shell = FakeShell.running()
        let reply = shell.drain()
        #expect(reply?.ok == true)
        #expect(reply?.message == "draining host: announced with GRACEFUL_SHUTDOWN now, withdrawn in 2s")
        #expect(shell.savedDrains == ["*"])
        #expect(shell.routes("core1")[dnsV4]?.communities == [.gracefulShutdown])
        #expect(shell.routes("core1")[ntpV4]?.communities == [.gracefulShutdown])
        #expect(shell.core.phases(now: shell.now)["dns"] == .gracefulShutdown)
        shell.advance(by: .milliseconds(1999))
        #expect(shell.routes("core1")[dnsV4] != nil)
        shell.advance(by: .milliseconds(1))
        #expect(shell.routes("core1").isEmpty)
        #expect(shell.routes("core2").isEmpty)
        #expect(shell.core.verdicts[dnsV4]?.blockedBy == "drained")
        #expect(shell.hasAddress(dnsV4))  // a drain keeps the addresses
    }

    @Test func drainWithoutGracefulShutdownWithdrawsAtOnce() {
        var shell = FakeShell.running(state(gracefulShutdown: false))
        let reply = shell.drain(["dns"])
        #expect(reply?.message == "draining dns: withdrawn now")
        #expect(shell.routes("core1")[dnsV4] == nil)
        #expect(shell.routes("core1")[ntpV4] != nil)
        #expect(shell.routes("core1")[ntpV4]?.communities == [])
    }

    @Test func drainOfAnUnknownServiceIsRefusedAndChangesNothing() {
        var shell = FakeShell.running()
        let before = shell.routeHistory.count
        let reply = shell.drain(["dnss"])
        #expect(reply == ControlReply(ok: false, message: "unknown service: dnss"))
        #expect(shell.core.drains.isEmpty)
        #expect(shell.routeHistory.count == before)
        #expect(shell.savedDrains == nil)
    }

    @Test func undrainDuringGracefulShutdownRestoresPlainRoutes() {
        var shell = FakeShell.running()
        _ = shell.drain(["dns"])
        shell.advance(by: .seconds(1))
        let reply = shell.undrain(["dns"])
        #expect(reply == ControlReply(ok: true, message: "undrained dns"))
        #expect(shell.routes("core1")[dnsV4]?.communities == [])
        shell.advance(by: .seconds(5))  // the drain's timer fires and must not withdraw
        #expect(shell.routes("core1")[dnsV4]?.communities == [])
        #expect(shell.savedDrains == [])
    }

    @Test func undrainAfterTheWithdrawReannounces() {
        var shell = FakeShell.running()
        _ = shell.drain()
        shell.advance(by: .seconds(3))
        #expect(shell.routes("core1").isEmpty)
        #expect(shell.undrain()?.message == "undrained everything")
        #expect(Set(shell.routes("core1").keys) == [dnsV4, dnsV6, ntpV4])
        #expect(shell.undrain(["ntp"])?.message == "not drained: ntp")
    }

    @Test func aDrainRestoredFromDiskIsWithdrawnFromTheStart() {
        let shell = FakeShell.running(restored: .drains(["dns"]))
        #expect(shell.routeHistory.allSatisfy { $0.routes["core1"]?[dnsV4] == nil })
        #expect(shell.routes("core1")[ntpV4] != nil)
        #expect(shell.logs.contains("dns: drained (kept from before the restart)"))
        #expect(shell.core.phases(now: shell.now)["dns"] == .withdrawn)
    }

    @Test func anUnreadableDrainFileKeepsTheHostDrained() {
        var shell = FakeShell.running(restored: .unreadable("/var/lib/anycastd/drained: not a regular file"))
        #expect(shell.routeHistory.allSatisfy { $0.routes.values.allSatisfy(\.isEmpty) })
        #expect(shell.core.drains == ["*"])
        #expect(shell.core.drainPersistence == .unreadable("/var/lib/anycastd/drained: not a regular file"))
        #expect(
            shell.logs.contains { $0.hasPrefix("drain state unreadable: /var/lib/anycastd/drained: not a regular") })
        #expect(shell.undrain()?.ok == true)
        #expect(shell.core.drainPersistence == .persisted)
        #expect(shell.routes("core1")[dnsV4] != nil)
    }

    @Test func aDrainThatCannotBeSavedTakesEffectButTheReplyFails() {
        var shell = FakeShell.running(state(gracefulShutdown: false))
        shell.drainWriteFailure = "No space left on device"
        let reply = shell.drain()
        #expect(reply?.ok == false)
        #expect(reply?.message.contains("NOT persisted (No space left on device)") == true)
        #expect(shell.routes("core1").isEmpty)  // traffic leaves anyway
        #expect(shell.core.drainPersistence == .notPersisted("No space left on device"))
        shell.drainWriteFailure = nil
        #expect(shell.undrain()?.ok == true)
        #expect(shell.core.drainPersistence == .persisted)
    }

    @Test func stopDuringADrainRunsTheWholeSequenceOnceThenExits() {
        var shell = FakeShell.running()
        _ = shell.drain(["dns"])
        shell.advance(by: .seconds(1))
        shell.feed(.stopRequested)
        #expect(shell.routes("core1")[ntpV4]?.communities == [.gracefulShutdown])
        #expect(shell.routes("core1")[dnsV4]?.communities == [.gracefulShutdown])
        #expect(shell.exitCode == nil)
        shell.advance(by: .milliseconds(1999))
        #expect(shell.exitCode == nil)
        #expect(shell.shutdownAt == nil)
        shell.advance(by: .milliseconds(1))
        #expect(shell.routes("core1").isEmpty)
        #expect(shell.shutdownAt == .seconds(3))
        #expect(shell.exitCode == 0)
        #expect(shell.exitAt == .seconds(3))
        #expect(shell.hasAddress(dnsV4))  // a stop keeps the addresses
    }

    @Test func aServiceThatFailsDuringTheStopsGracefulShutdownIsWithdrawnAtOnce() {
        var shell = FakeShell.running()
        shell.advance(by: .seconds(1))
        shell.feed(.stopRequested)
        #expect(shell.checkedCloselyAt == .seconds(1))
        #expect(shell.logs.contains { $0.contains("a service whose check fails before then is withdrawn at once") })
        #expect(shell.routes("core1")[dnsV4]?.communities == [.gracefulShutdown])
        shell.advance(by: .milliseconds(30))
        // The service went down with the agent: its first failed check (fall 1 during the stop) ends its phase.
        shell.feed(.health(service: "dns", up: false, detail: "dns 192.0.2.53:53: connection refused"))
        #expect(shell.routes("core1")[dnsV4] == nil)
        #expect(shell.routes("core1")[dnsV6] == nil)
        // The other service keeps its GRACEFUL_SHUTDOWN phase and the stop its timing.
        #expect(shell.routes("core1")[ntpV4]?.communities == [.gracefulShutdown])
        #expect(shell.exitCode == nil)
        shell.advance(to: .seconds(3))
        #expect(shell.exitAt == .seconds(3))
        #expect(shell.routes("core1").isEmpty)
    }

    @Test func aStopWithoutAGracefulShutdownPhaseDoesNotHurryTheChecks() {
        var shell = FakeShell.running(state(gracefulShutdown: false))
        shell.feed(.stopRequested)
        #expect(shell.checkedCloselyAt == nil)
        var zero = FakeShell.running(state(delay: .zero))
        zero.feed(.stopRequested)
        zero.advance(by: .milliseconds(1))
        #expect(zero.checkedCloselyAt == nil)
        #expect(zero.exitCode == 0)
    }

    @Test func aSecondStopExitsAtOnceWithoutWaiting() {
        var shell = FakeShell.running()
        shell.feed(.stopRequested)
        shell.advance(by: .milliseconds(500))
        shell.feed(.stopRequested)
        #expect(shell.exitCode == 0)
        #expect(shell.exitAt == .milliseconds(500))
        #expect(shell.shutdownAt == nil)
        #expect(shell.logs.contains("second stop signal: exiting at once"))
    }

    @Test func stopWithNothingAnnouncedSendsCeaseAndExitsAtOnce() {
        var shell = FakeShell.running(healthy: false)
        shell.feed(.peer("core1", .down("hold timer expired")))
        shell.feed(.peer("core2", .down(nil)))
        shell.feed(.stopRequested)
        #expect(shell.exitAt == .zero)
        #expect(shell.shutdownAt == .zero)
        #expect(shell.logs.contains("stopping: nothing announced"))
    }

    @Test func aPeerDownAndUpDuringAStopGetsOnlyGracefulShutdownRoutes() {
        var shell = FakeShell.running()
        shell.feed(.stopRequested)
        let stopIndex = shell.routeHistory.count - 1
        shell.advance(by: .milliseconds(500))
        shell.feed(.peer("core1", .down("connection reset")))
        shell.advance(by: .milliseconds(500))
        shell.feed(.peer("core1", .established))
        #expect(shell.exitCode == nil)
        let sinceStop = shell.routeHistory[stopIndex...].flatMap { $0.routes.values.flatMap(\.values) }
        #expect(!sinceStop.isEmpty)
        #expect(sinceStop.allSatisfy { $0.communities.contains(.gracefulShutdown) })
        shell.advance(to: .seconds(2))
        #expect(shell.exitAt == .seconds(2))
        #expect(shell.routes("core1").isEmpty)
    }

    @Test func aPrefixRemovedFromTheFileIsWithdrawnThenItsAddressGoesAfterTheDelay() {
        var shell = FakeShell.running()
        shell.feed(
            .configurationAdopted(
                state(services: [ServiceConfig(name: "dns", prefixes: [dnsV4, dnsV6])]), restored: nil))
        #expect(shell.routes("core1")[ntpV4] == nil)
        #expect(shell.hasAddress(ntpV4))
        #expect(shell.logs.contains("192.0.2.123/32: removed from the configuration; withdrawn, address removed in 2s"))
        shell.advance(by: .milliseconds(1999))
        #expect(shell.hasAddress(ntpV4))
        shell.advance(by: .milliseconds(1))
        #expect(!shell.hasAddress(ntpV4))
        #expect(shell.hasAddress(dnsV4))
    }

    @Test func aPrefixRemovedWhileNotAnnouncedGoesAtOnce() {
        var shell = FakeShell.running()
        shell.feed(.peer("core1", .down(nil)))
        shell.feed(.peer("core2", .down(nil)))
        shell.feed(
            .configurationAdopted(
                state(services: [ServiceConfig(name: "dns", prefixes: [dnsV4, dnsV6])]), restored: nil))
        #expect(!shell.hasAddress(ntpV4))
        #expect(shell.core.retiring.isEmpty)
    }

    @Test func aRenamedServiceKeepsItsAddressesAndWaitsForItsOwnChecks() {
        var shell = FakeShell.running()
        shell.feed(.configurationAdopted(state(dnsName: "resolver"), restored: nil))
        #expect(!shell.applied.contains(.deleteAddress(name: "anycast0", prefix: dnsV4)))
        #expect(shell.core.retiring.isEmpty)
        #expect(shell.core.verdicts[dnsV4]?.blockedBy == "service resolver is unhealthy")
        #expect(shell.routes("core1")[dnsV4] == nil)
        shell.feed(.health(service: "resolver", up: true, detail: ""))
        #expect(shell.routes("core1")[dnsV4]?.service == "resolver")
        #expect(shell.hasAddress(dnsV4))
    }

    @Test func healthFlappingDuringADrainNeverAnnounces() {
        var shell = FakeShell.running(state(gracefulShutdown: false))
        _ = shell.drain(["dns"])
        let drainedAt = shell.routeHistory.count - 1
        for up in [false, true, false, true] {
            shell.advance(by: .milliseconds(300))
            shell.feed(.health(service: "dns", up: up, detail: ""))
        }
        #expect(shell.routeHistory[drainedAt...].allSatisfy { $0.routes["core1"]?[dnsV4] == nil })
        #expect(shell.core.healthy.contains("dns"))
        _ = shell.undrain(["dns"])
        #expect(shell.routes("core1")[dnsV4] != nil)
    }

    @Test func healthFlappingDuringTheGracefulPhaseKeepsTheCommunity() {
        var shell = FakeShell.running()
        _ = shell.drain(["dns"])
        shell.feed(.health(service: "dns", up: false, detail: ""))
        #expect(shell.routes("core1")[dnsV4] == nil)
        shell.feed(.health(service: "dns", up: true, detail: ""))
        #expect(shell.routes("core1")[dnsV4]?.communities == [.gracefulShutdown])
    }

    @Test func theInterfaceVanishingWithdrawsEverythingUntilItIsRecreated() {
        var shell = FakeShell.running()
        shell.removeLink("anycast0")
        #expect(shell.routes("core1").isEmpty)
        #expect(shell.core.verdicts[dnsV4]?.blockedBy == "anycast0 is down")
        shell.feed(.interfaceObserved(shell.host, repair: true))  // the monitor's event rings a reconcile
        #expect(shell.hasAddress(dnsV4))
        #expect(Set(shell.routes("core1").keys) == [dnsV4, dnsV6, ntpV4])
    }

    @Test func unchangedRoutesAreNotHandedOnAgain() {
        var shell = FakeShell.running()
        let count = shell.routeHistory.count
        shell.feed(.interfaceObserved(shell.host, repair: true))
        shell.feed(.health(service: "dns", up: true, detail: ""))
        shell.feed(.peer("core1", .established))
        #expect(shell.routeHistory.count == count)
    }

    @Test func bfdDownResetsTheSessionAndTheAgentKnows() {
        var shell = FakeShell.running()
        shell.feed(.peer("core1", .bfdDown))
        #expect(shell.resets == ["core1"])
        #expect(shell.logs.contains("peer core1: BFD Down; resetting the BGP session"))
        #expect(!shell.core.established.contains("core1"))
        #expect(shell.core.peersAnnouncing(dnsV4) == ["core2"])
    }

    @Test func failedOperationsAreRetriedAfterASecond() {
        var shell = FakeShell()
        shell.feed(.configurationAdopted(state(), restored: nil))
        let operation = NetlinkOperation.addAddress(name: "anycast0", prefix: dnsV4)
        shell.feed(.interfaceApplied([operation], [NetlinkError(operation: "add", errno: 1, message: "denied")]))
        #expect(shell.timers.contains(.seconds(1)))
        #expect(shell.logs.contains("add: denied"))
    }

    @Test func stopWithoutGracefulShutdownWithdrawsAtOnceAndCeasesAfterTheDelay() {
        var shell = FakeShell.running(state(gracefulShutdown: false))
        shell.feed(.stopRequested)
        #expect(shell.routes("core1").isEmpty)
        #expect(shell.logs.contains("stopping: withdrawing now, waiting 2s"))
        shell.advance(by: .milliseconds(1999))
        #expect(shell.shutdownAt == nil)
        shell.advance(by: .milliseconds(1))
        #expect(shell.shutdownAt == .seconds(2))
        #expect(shell.exitCode == 0)
    }

    @Test func onAnExistingInterfaceOnlyOwnedAddressesAreEverRemoved() {
        let foreign = IPPrefix("192.0.2.1/32")!
        let stale = IPPrefix("192.0.2.99/32")!
        var shell = FakeShell()
        shell.host.links = [LinkInfo(index: 1, name: "lo", isUp: true)]
        shell.host.addresses = [
            AddressInfo(interfaceIndex: 1, prefix: foreign), AddressInfo(interfaceIndex: 1, prefix: stale),
        ]
        var desired = state(services: [ServiceConfig(name: "ntp", prefixes: [ntpV4])])
        desired.interface = InterfaceConfig(name: "lo", kind: .existing)
        shell.feed(
            .configurationAdopted(
                desired, restored: RestoredState(directory: "/s", drains: .drains([]), owned: [stale])))
        #expect(shell.hasAddress(ntpV4, on: "lo"))
        #expect(shell.hasAddress(foreign, on: "lo"))  // not ours: kept
        #expect(!shell.hasAddress(stale, on: "lo"))  // ours from before the restart, no longer wanted
        #expect(shell.savedOwned == [ntpV4])
        #expect(shell.core.owned == [ntpV4])
    }
}
