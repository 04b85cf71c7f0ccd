// canonicalJSON round trips: whatever the reader accepts, rendered canonically, reads back to the same
// state; and the loader's file handling and error formatting.
import Foundation
import NetAddress
import Testing

@testable import Config

private func parse(_ text: String) -> Result<DesiredState, ConfigError> {
    ConfigLoader.parse(Array(text.utf8), file: "test.json")
}

@Test func roundTripOfABuiltState() throws {
    let core = PeerConfig(
        name: "core-1", address: IPAddress("2001:db8::1")!, asn: 4_200_000_000,
        localAddress: IPAddress("2001:db8::11"), passive: true, multihop: 3, passwordFile: "/etc/k",
        holdTime: .seconds(30), families: [.ipv6, .ipv4], nextHop: NextHopConfig(ipv4: IPv4Address("192.0.2.11")),
        asPathPrepend: 2, med: 0, communities: [Community(asn: 1, value: 2)],
        largeCommunities: [LargeCommunity(global: 1, local1: 2, local2: 3)],
        bfd: nil, port: 1179)
    // BFD is single-hop: its own peer, with every BFD setting away from the defaults.
    let edge = PeerConfig(
        name: "edge-1", address: IPAddress("2001:db8::2")!, asn: 65000, localAddress: IPAddress("2001:db8::11"),
        families: [.ipv6],
        bfd: BFDConfig(minInterval: .milliseconds(50), multiplier: 5))
    let state = DesiredState(
        interface: InterfaceConfig(
            name: "lo", kind: .existing, uplinks: ["eth0", "eth1"],
            sysctl: InterfaceSysctl(arpIgnore: 8, arpAnnounce: 0, rpFilter: 0, setAll: true)),
        bgp: BGPConfig(asn: 65000, routerId: IPv4Address("192.0.2.1")!, holdTime: .zero, peers: [core, edge]),
        services: [
            ServiceConfig(
                name: "svc_a.1", prefixes: [IPPrefix("192.0.2.10/32")!, IPPrefix("2001:db8:a::1/128")!],
                peers: ["core-1"],
                checks: [
                    CheckConfig(
                        kind: .exec(command: ["/bin/echo", "tab\there \"q\" \\ é 😀"]), interval: .seconds(10),
                        timeout: .milliseconds(9999), rise: 100, fall: 1),
                    CheckConfig(
                        kind: .dns(
                            server: IPAddress("::1"), port: 5353, name: "x.", type: "TXT",
                            rcodes: ["SERVFAIL", "NOERROR"])),
                ], communities: [Community(asn: 65535, value: 0)], med: UInt32.max)
        ],
        drain: DrainConfig(delay: .seconds(600), gracefulShutdown: false),
        control: ControlConfig(socket: "/tmp/a b.sock"), metrics: MetricsConfig(listen: "[::1]:1"),
        stateDirectory: "/var/lib/x")
    let text = state.canonicalJSON()
    let parsed = try parse(text).get()
    #expect(parsed == state)
    #expect(parsed.canonicalJSON() == text)
}

@Test func defaultsAreFilledAndStable() throws {
    let state = try parse("{}").get()
    #expect(state == DesiredState(interface: .init(), bgp: BGPConfig(asn: 0, routerId: IPv4Address(0)), services: []))
    #expect(try parse(state.canonicalJSON()).get() == state)
}

@Test func peerDefaultsDependOnTheSession() throws {
    let state = try parse(
        """
        {"bgp": {"asn": 65000, "routerId": "192.0.2.1", "peers": [
          {"name": "ibgp", "address": "192.0.2.2", "asn": 65000},
          {"name": "ebgp", "address": "192.0.2.3", "asn": 65001, "nextHop": {"ipv6": "2001:db8::1"}},
          {"name": "gtsm", "address": "192.0.2.4", "asn": 65000, "ttlSecurity": true}]}}
        """
    ).get()
    #expect(state.bgp.peers.map(\.multihop) == [255, 1, 1])
    #expect(state.bgp.peers.map(\.families) == [[.ipv4], [.ipv4, .ipv6], [.ipv4]])
    #expect(state.bgp.peers.allSatisfy { $0.port == 179 && $0.holdTime == nil && $0.bfd == nil })
    #expect(state.bgp.holdTime == .seconds(90))
}

@Test func checkDefaults() throws {
    let state = try parse(#"{"services": [{"name": "s", "prefixes": ["192.0.2.1/32"], "checks": [{"dns": {}}]}]}"#)
        .get()
    let check = try #require(state.services.first?.checks.first)
    #expect(check.kind == .dns(server: nil, port: 53, name: ".", type: "SOA", rcodes: ["NOERROR"]))
    #expect(check.interval == .seconds(1))
    #expect(check.timeout == .milliseconds(500))
    #expect(check.rise == 2 && check.fall == 2)
}

@Test func everyErrorIsReportedSortedByPosition() {
    let text = """
        {"stateDirectory": "relative",
         "interface": {"name": "", "kind": "x"},
         "bgp": {"asn": 0, "routerId": "0.0.0.0", "peers": [{"name": "p"}]}}
        """
    guard case .failure(let error) = parse(text) else {
        Issue.record("accepted an invalid file")
        return
    }
    #expect(error.diagnostics.count == 7)
    #expect(error.diagnostics.map(\.line) == [1, 2, 2, 3, 3, 3, 3])
    #expect(error.description.split(separator: "\n").count == 7)
    #expect(
        error.diagnostics.first?.description
            == "test.json:1:20: stateDirectory: \"relative\" is not an absolute path; it must start with '/'")
}

@Test func loadReportsUnreadableFiles() {
    let missing = "/nonexistent-anycastd-test/anycastd.json"
    guard case .failure(let error) = ConfigLoader.load(path: missing) else {
        Issue.record("loaded a missing file")
        return
    }
    #expect(error.description == "\(missing): cannot read: No such file or directory")
    guard case .failure(let directoryError) = ConfigLoader.load(path: "/") else {
        Issue.record("loaded a directory")
        return
    }
    #expect(directoryError.description == "/: cannot read: is a directory")
}

@Test func loadReadsAFile() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("anycastd-config-test-\(getpid()).json")
    try Data(#"{"interface": {"name": "acd0"}}"#.utf8).write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    let state = try ConfigLoader.load(path: url.path).get()
    #expect(state.interface.name == "acd0")
    try Data(#"{"interface": {"name": 1}}"#.utf8).write(to: url)
    guard case .failure(let error) = ConfigLoader.load(path: url.path) else {
        Issue.record("accepted a bad file")
        return
    }
    #expect(error.description == "\(url.path):1:24: interface.name: expected a string, got a number")
}
