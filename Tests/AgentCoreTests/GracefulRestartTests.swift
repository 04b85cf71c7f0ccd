// Graceful Restart of the agent (RFC 4724, restarting side) on the fake clock: End-of-RIB only after every
// service's first verdict (and after the routes it leads to), or at restartTime minus a margin; a restart
// while unhealthy ends withdrawn without an announcement in between; `anycastd restart` makes the next stop
// leave the routes (no withdraw, no Cease), while every other stop drains and removes the restart marker.
import AgentCore
import Config
import NetAddress
import Testing

@Suite struct GracefulRestartTests {
    func gracefulState(_ restartTime: Duration = .seconds(120)) -> DesiredState {
        var desired = state()
        desired.bgp.gracefulRestart = GracefulRestartConfig(restartTime: restartTime)
        return desired
    }

    /// A start after a restart: the configuration adopted, the interface observed, both sessions up; dns
    /// (checked) has no verdict yet, ntp (no checks) has one.
    func restarted(_ desired: DesiredState) -> FakeShell {
        var shell = FakeShell()
        shell.feed(
            .configurationAdopted(
                desired,
                restored: RestoredState(directory: desired.stateDirectory, drains: .drains([]), restarted: true)))
        shell.feed(.health(service: "dns", up: false, detail: ""))  // the monitor's initial state: no verdict
        shell.feed(.peer("core1", .established))
        shell.feed(.peer("core2", .established))
        return shell
    }

    @Test func withoutGracefulRestartNothingIsHeld() {
        let shell = FakeShell.running()
        #expect(shell.restartFinishedAt == .zero)
        #expect(shell.restartMarker == true, "the marker is written at every start")
        #expect(!shell.logs.contains { $0.contains("End-of-RIB") })
    }

    @Test func endOfRIBWaitsForTheFirstVerdictAndFollowsTheRoutes() {
        var shell = restarted(gracefulState())
        #expect(shell.core.restart.restarted)
        #expect(shell.logs.contains { $0.hasPrefix("restarted after leaving the sessions to the routers") })
        #expect(shell.routes("core1")[ntpV4] != nil, "a service without checks goes out at once")
        #expect(shell.routes("core1")[dnsV4] == nil)
        shell.advance(by: .seconds(5))
        #expect(shell.restartFinishedAt == nil)
        #expect(shell.core.servicesAwaitingVerdict == ["dns"])

        shell.feed(.health(service: "dns", up: true, detail: ""))
        #expect(shell.restartFinishedAt == .seconds(5))
        #expect(shell.routeSetsBeforeEndOfRIB == shell.routeHistory.count)
        #expect(shell.routeHistory.last?.routes["core1"]?[dnsV4] != nil, "the routes went out before End-of-RIB")
        #expect(
            shell.logs.contains(
                "Graceful Restart: End-of-RIB to the routers (every service has its first health verdict)"))
        // Later events do not release it again.
        let count = shell.logs.count
        shell.feed(.health(service: "dns", up: false, detail: ""))
        #expect(shell.restartFinishedAt == .seconds(5))
        #expect(!shell.logs[count...].contains { $0.contains("End-of-RIB") })
    }

    @Test func restartWhileUnhealthyEndsWithdrawnWithoutAnAnnouncement() {
        var shell = restarted(gracefulState())
        shell.advance(by: .seconds(2))
        #expect(shell.restartFinishedAt == nil)
        // fall failures in a row: the first verdict, down; End-of-RIB lets the router flush its stale route.
        shell.feed(.healthVerdict(service: "dns"))
        #expect(shell.restartFinishedAt == .seconds(2))
        #expect(shell.routeHistory.allSatisfy { $0.routes.values.allSatisfy { $0[dnsV4] == nil } })
    }

    @Test func endOfRIBGoesAtRestartTimeMinusAMarginWithoutAVerdict() {
        #expect(RestartState.deferral(restartTime: .seconds(120)) == .seconds(110))
        #expect(RestartState.deferral(restartTime: .seconds(8)) == .seconds(6))
        #expect(RestartState.deferral(restartTime: .seconds(1)) == .milliseconds(750))
        var shell = restarted(gracefulState())
        shell.advance(to: .milliseconds(109_999))
        #expect(shell.restartFinishedAt == nil)
        shell.advance(to: .seconds(110))
        #expect(shell.restartFinishedAt == .seconds(110))
        #expect(shell.logs.contains { $0.contains("no verdict yet for dns 110s after the start") })
    }

    @Test func theShortestRestartTimeOfAnyPeerCounts() {
        var desired = gracefulState()
        desired.bgp.peers[1].gracefulRestart = GracefulRestartConfig(restartTime: .seconds(20))
        var shell = restarted(desired)
        shell.advance(to: .milliseconds(14_999))
        #expect(shell.restartFinishedAt == nil)
        shell.advance(to: .seconds(15))
        #expect(shell.restartFinishedAt == .seconds(15))
    }

    @Test func restartLeavesTheRoutesWithoutWithdrawOrCease() {
        var shell = FakeShell.running(gracefulState())
        let before = shell.routeHistory.count
        let reply = shell.requestRestart()
        #expect(reply?.ok == true)
        #expect(
            reply?.message == "the next stop within 10m is a restart: routes stay at core1, core2 (Graceful Restart)")
        shell.feed(.stopRequested)
        #expect(shell.handedOverAt == shell.now)
        #expect(shell.exitCode == 0 && shell.exitAt == shell.now)
        #expect(shell.shutdownAt == nil, "no Cease")
        #expect(shell.routeHistory.count == before, "nothing withdrawn")
        #expect(shell.restartMarker == true, "the marker stays for the next start")
    }

    @Test func statusSaysWhatIsHeldAndWhetherTheNextStopIsARestart() {
        var shell = restarted(gracefulState())
        #expect(shell.core.restartStatus(now: shell.now) == "End-of-RIB held until the first verdicts of dns")
        shell.feed(.health(service: "dns", up: true, detail: ""))
        #expect(shell.core.restartStatus(now: shell.now) == nil)
        #expect(shell.requestRestart()?.ok == true)
        shell.advance(by: .seconds(30))
        #expect(
            shell.core.restartStatus(now: shell.now) == "the next stop is a restart (anycastd restart; 570s left)")
    }

    @Test func restartIsRefusedWithoutGracefulRestartAndTheStopDrains() {
        var shell = FakeShell.running()
        let reply = shell.requestRestart()
        #expect(reply?.ok == false)
        #expect(reply?.message.hasPrefix("no peer has Graceful Restart") == true)
        shell.feed(.stopRequested)
        #expect(shell.handedOverAt == nil)
        #expect(shell.routes("core1")[dnsV4]?.communities == [.gracefulShutdown])
        shell.advance(by: .seconds(2))
        #expect(shell.shutdownAt == .seconds(2))
        #expect(shell.restartMarker == false, "a stop that drained removes the marker")
    }

    @Test func aRestartRequestExpires() {
        var shell = FakeShell.running(gracefulState())
        #expect(shell.requestRestart()?.ok == true)
        shell.advance(by: RestartState.intentLifetime)
        shell.feed(.stopRequested)
        #expect(shell.handedOverAt == nil, "ten minutes later a stop drains again")
        shell.advance(by: .seconds(2))
        #expect(shell.shutdownAt != nil)
    }

    @Test func bfdDownStillResetsTheSessionWithGracefulRestart() {
        var shell = FakeShell.running(gracefulState())
        shell.feed(.peer("core1", .bfdDown))
        #expect(shell.resets == ["core1"])
        #expect(shell.routes("core2")[dnsV4] != nil)
    }
}
