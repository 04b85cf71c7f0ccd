// Peer groups in the core: the count of Established peers per group comes from the core's one set of
// sessions, and each change of it is logged once ("azure: 1 of 2 established (down: ars-b)").
import AgentCore
import Config
import NetAddress
import Testing

private func azureState(extraPeer: Bool = false) -> DesiredState {
    var a = PeerConfig(name: "ars-a", address: IPAddress("10.1.1.4")!, asn: 65515, multihop: 2, families: [.ipv4])
    a.group = "azure"
    var b = a
    b.name = "ars-b"
    b.address = IPAddress("10.1.1.5")!
    var peers = [a, b, PeerConfig(name: "onprem", address: IPAddress("10.0.0.1")!, asn: 65000, families: [.ipv4])]
    if extraPeer {
        var c = a
        c.name = "ars-c"
        c.address = IPAddress("10.1.1.6")!
        peers.append(c)
    }
    return DesiredState(
        interface: InterfaceConfig(),
        bgp: BGPConfig(asn: 65010, routerId: IPv4Address("10.1.2.10")!, peers: peers),
        services: [ServiceConfig(name: "dns", prefixes: [dnsV4])],
        drain: DrainConfig(gracefulShutdown: false))
}

@Suite struct PeerGroupTests {
    private func started(_ desired: DesiredState = azureState()) -> FakeShell {
        var shell = FakeShell()
        shell.feed(
            .configurationAdopted(
                desired, restored: RestoredState(directory: desired.stateDirectory, drains: .drains([])))
        )
        return shell
    }

    @Test func theCountFollowsTheSessionsAndEachChangeIsLoggedOnce() {
        var shell = started()
        #expect(shell.core.peerGroups() == [PeerGroupCount(name: "azure", peers: ["ars-a", "ars-b"], established: [])])
        #expect(!shell.logs.contains { $0.hasPrefix("azure:") })  // 0 of 2 at start is not news

        shell.feed(.peer("ars-a", .established))
        #expect(shell.core.peerGroups().first?.established == ["ars-a"])
        #expect(shell.logs.filter { $0.hasPrefix("azure:") } == ["azure: 1 of 2 established (down: ars-b)"])

        shell.feed(.peer("onprem", .established))  // not in the group: no group line
        shell.feed(.peer("ars-b", .established))
        #expect(shell.logs.filter { $0.hasPrefix("azure:") }.last == "azure: 2 of 2 established")
        #expect(shell.routes("ars-a")[dnsV4] != nil && shell.routes("ars-b")[dnsV4] != nil)
        #expect(shell.routes("ars-a")[dnsV4] == shell.routes("ars-b")[dnsV4])

        let before = shell.logs.count
        shell.feed(.peer("ars-b", .down("hold timer expired")))
        #expect(shell.core.peerGroups().first?.established == ["ars-a"])
        #expect(
            shell.logs.dropFirst(before).filter { $0.hasPrefix("azure:") } == [
                "azure: 1 of 2 established (down: ars-b)"
            ])

        // The same count again (a second down for a session already down) logs nothing.
        let again = shell.logs.count
        shell.feed(.peer("ars-b", .down(nil)))
        #expect(!shell.logs.dropFirst(again).contains { $0.hasPrefix("azure:") })

        shell.feed(.peer("ars-a", .bfdDown))
        #expect(shell.logs.filter { $0.hasPrefix("azure:") }.last == "azure: 0 of 2 established (down: ars-a, ars-b)")
    }

    @Test func aReloadThatAddsAPeerToAGroupReportsTheNewCount() {
        var shell = started()
        shell.feed(.peer("ars-a", .established))
        shell.feed(.peer("ars-b", .established))
        let before = shell.logs.count
        shell.feed(
            .configurationAdopted(
                azureState(extraPeer: true), restored: nil))
        #expect(shell.core.peerGroups().first?.peers == ["ars-a", "ars-b", "ars-c"])
        #expect(
            shell.logs.dropFirst(before).filter { $0.hasPrefix("azure:") } == [
                "azure: 2 of 3 established (down: ars-c)"
            ])
    }

    @Test func aConfigurationWithoutGroupsHasNone() {
        let shell = FakeShell.running()
        #expect(shell.core.peerGroups() == [])
    }
}
