// The azure-route-server profile and peer groups beyond the golden files: the warnings (valid files that
// ask for what Azure Route Server ignores) and the defaults the profile brings.
import Testing

@testable import Config

private func parse(_ text: String) -> (result: Result<DesiredState, ConfigError>, warnings: [String]) {
    let (result, warnings) = ConfigLoader.parseWithWarnings(Array(text.utf8), file: "a.json")
    return (result, warnings.map(\.warningDescription))
}

@Suite struct PeerProfileTests {
    @Test func theProfileDefaultsToMultihop2AndHold180() throws {
        let (result, warnings) = parse(
            """
            { "bgp": { "asn": 65010, "routerId": "10.1.2.10", "holdTime": "9s", "peers": [
                { "name": "ars-a", "address": "10.1.1.4", "asn": 65515, "profile": "azure-route-server" },
                { "name": "plain", "address": "10.1.1.9", "asn": 65515 } ] },
              "services": [ { "name": "dns", "prefixes": ["10.100.0.53/32"] } ],
              "drain": { "gracefulShutdown": false } }
            """)
        let state = try result.get()
        #expect(state.bgp.peers[0].profile == .azureRouteServer)
        #expect(state.bgp.peers[0].multihop == 2)
        #expect(state.bgp.peers[0].holdTime == .seconds(180))
        #expect(state.bgp.peers[0].families == [.ipv4])
        #expect(state.bgp.peers[1].multihop == 1)
        #expect(state.bgp.peers[1].holdTime == nil)
        #expect(warnings == [])
    }

    @Test func whatAzureIgnoresIsAWarningWithItsPosition() throws {
        let prefixes = (0..<1001).map { "\"10.100.\($0 / 256).\($0 % 256)/32\"" }.joined(separator: ", ")
        let (result, warnings) = parse(
            """
            { "bgp": { "asn": 65010, "routerId": "10.1.2.10", "peers": [
                { "name": "ars-a", "address": "10.1.1.4", "asn": 65515, "profile": "azure-route-server",
                  "holdTime": "9s", "med": 5, "communities": ["65535:65282", "65010:7"], "largeCommunities": ["65010:1:2"] } ] },
              "services": [
                { "name": "dns", "prefixes": ["10.200.0.53/32"], "med": 10, "communities": ["65010:8"] },
                { "name": "many", "prefixes": [\(prefixes)] } ] }
            """)
        _ = try result.get()
        #expect(
            warnings == [
                "a.json:2:72: bgp.peers[0].profile: warning: peer \"ars-a\" would be sent 1002 IPv4 prefixes; Azure "
                    + "Route Server accepts at most 1000 routes per peer (the limits page; 4,000 in its FAQ)",
                "a.json:2:72: bgp.peers[0].profile: warning: Azure Route Server ignores GRACEFUL_SHUTDOWN (65535:0), "
                    + "so a drain only withdraws after drain.delay; set drain.gracefulShutdown to false to withdraw "
                    + "at once",
                "a.json:3:19: bgp.peers[0].holdTime: warning: Azure Route Server uses fixed timers (keepalive 60s, "
                    + "hold 180s); hold time 9s is not what it will run (peer \"ars-a\")",
                "a.json:3:32: bgp.peers[0].med: warning: Azure Route Server ignores MED; only AS-path length "
                    + "prefers a path (peer \"ars-a\")",
                "a.json:3:66: bgp.peers[0].communities[1]: warning: Azure Route Server acts on no community but "
                    + "NO_ADVERTISE (65535:65282); 65010:7 has no effect there (peer \"ars-a\")",
                "a.json:3:98: bgp.peers[0].largeCommunities: warning: Azure Route Server acts on no large "
                    + "community (peer \"ars-a\")",
                "a.json:5:61: services[0].med: warning: Azure Route Server (peer \"ars-a\") ignores MED; only "
                    + "AS-path length prefers a path",
                "a.json:5:81: services[0].communities[0]: warning: Azure Route Server (peer \"ars-a\") acts on no "
                    + "community but NO_ADVERTISE (65535:65282); 65010:8 has no effect there",
            ])
    }

    @Test func checkFailsWithoutWarningsForOrdinaryPeers() throws {
        let (result, warnings) = parse(
            """
            { "bgp": { "asn": 4200000010, "routerId": "10.1.2.10", "peers": [
                { "name": "r1", "address": "10.1.1.4", "asn": 65000, "holdTime": "9s", "med": 5, "group": "g" } ] },
              "services": [ { "name": "dns", "prefixes": ["10.200.0.53/32"] } ] }
            """)
        #expect(try result.get().bgp.peers[0].group == "g")
        #expect(warnings == [])
    }
}
