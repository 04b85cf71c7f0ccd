// Unit tests of the small value parsers: durations, communities, edit-distance suggestions, listen
// addresses, interface and DNS names.
import NetAddress
import Testing

@testable import Config

@Test(
    arguments: [
        ("500ms", Duration.milliseconds(500)), ("2s", .seconds(2)), ("1.5s", .milliseconds(1500)),
        ("10m", .seconds(600)), ("1h", .seconds(3600)), ("0s", .zero), ("0.001s", .milliseconds(1)),
        ("0.25m", .seconds(15)), ("65535s", .seconds(65535)),
    ])
func parsesDurations(text: String, expected: Duration) {
    #expect(parseDuration(text) == expected)
}

@Test(
    arguments: [
        "90", "0", "", "s", "ms", "1.5ms", "0.5ms", "-1s", "+1s", "1 s", " 1s", "1m30s", "1.s", ".5s", "1e3s", "1S",
        "1sec", "99999999999999999999h", "2562048h",
    ])
func rejectsDurations(text: String) {
    #expect(parseDuration(text) == nil)
}

@Test func formatsDurationsInTheLargestExactUnit() {
    #expect(formatDuration(.milliseconds(250)) == "250ms")
    #expect(formatDuration(.seconds(2)) == "2s")
    #expect(formatDuration(.seconds(90)) == "90s")
    #expect(formatDuration(.seconds(120)) == "2m")
    #expect(formatDuration(.seconds(7200)) == "2h")
    #expect(formatDuration(.seconds(3601)) == "3601s")
    #expect(formatDuration(.milliseconds(1500)) == "1500ms")
    #expect(formatDuration(.zero) == "0s")
    #expect(formatDuration(.microseconds(250)) == "0.25ms")
}

@Test func durationsRoundTrip() {
    for milliseconds in [0, 1, 9, 10, 999, 1000, 1001, 59_999, 60_000, 90_000, 3_599_999, 3_600_000, 86_400_000] {
        let duration = Duration.milliseconds(milliseconds)
        #expect(parseDuration(formatDuration(duration)) == duration, "\(milliseconds) ms")
    }
}

@Test func communities() {
    #expect(parseCommunity("65011:53") == Community(asn: 65011, value: 53))
    #expect(parseCommunity("0:0") == Community(0))
    #expect(parseCommunity("65535:65535") == Community(UInt32.max))
    #expect(parseCommunity("65535:0") == .gracefulShutdown)
    for bad in ["65536:0", "0:65536", "1", "1:2:3", "a:b", "01:1", " 1:1", "", ":", "1:", "-1:1", "1:+1"] {
        #expect(parseCommunity(bad) == nil, "\(bad)")
    }
    #expect(parseCommunity("65011:53")?.description == "65011:53")
}

@Test func largeCommunities() {
    #expect(
        parseLargeCommunity("4294967295:0:1") == LargeCommunity(global: UInt32.max, local1: 0, local2: 1))
    #expect(parseLargeCommunity("65011:0:53")?.description == "65011:0:53")
    for bad in ["4294967296:0:0", "1:2", "1:2:3:4", "1::3", "a:1:2", "00:1:2"] {
        #expect(parseLargeCommunity(bad) == nil, "\(bad)")
    }
}

@Test func editDistance() {
    #expect(Config.editDistance("rpFiltre", "rpFilter") == 1)  // one transposition
    #expect(Config.editDistance("kitten", "sitting") == 3)
    #expect(Config.editDistance("", "abc") == 3)
    #expect(Config.editDistance("abc", "") == 3)
    #expect(Config.editDistance("same", "same") == 0)
    #expect(Config.editDistance("ca", "abc") == 3)  // optimal string alignment, not full Damerau
}

@Test func suggestionsOnlyForPlausibleTypos() {
    let sysctl = ["arpIgnore", "arpAnnounce", "rpFilter", "setAll"]
    #expect(closestMatch(to: "rpFiltre", among: sysctl) == "rpFilter")
    #expect(closestMatch(to: "arpignore", among: sysctl) == "arpIgnore")
    #expect(closestMatch(to: "routerID", among: ["asn", "routerId", "holdTime", "peers"]) == "routerId")
    #expect(closestMatch(to: "flavour", among: ConfigDecoder.peerKeys) == nil)
    #expect(closestMatch(to: "x", among: ["asn"]) == nil)
    #expect(closestMatch(to: "multipler", among: ["minInterval", "multiplier"]) == "multiplier")
}

@Test func listenAddresses() {
    #expect(parseListenAddress("127.0.0.1:9477").map { "\($0.address) \($0.port)" } == "127.0.0.1 9477")
    #expect(parseListenAddress("[::1]:9477").map { "\($0.address) \($0.port)" } == "::1 9477")
    #expect(parseListenAddress("0.0.0.0:1")?.port == 1)
    for bad in [
        "localhost:9477", "::1:9477", "[::1]9477", "[127.0.0.1]:80", "127.0.0.1", "127.0.0.1:", "1.2.3.4:0",
        "1.2.3.4:65536", "1.2.3.4:080", "[::1]:", "[::1",
    ] {
        #expect(parseListenAddress(bad) == nil, "\(bad)")
    }
}

@Test func interfaceNames() {
    #expect(interfaceNameProblem("anycast0") == nil)
    #expect(interfaceNameProblem("a23456789012345") == nil)
    #expect(interfaceNameProblem("a234567890123456") != nil)
    #expect(interfaceNameProblem("ééééééé") == nil)  // 14 bytes
    #expect(interfaceNameProblem("éééééééé") != nil)  // 16 bytes
    for bad in ["", ".", "..", "a/b", "a:b", "a b", "a\tb"] {
        #expect(interfaceNameProblem(bad) != nil, "\(bad)")
    }
}

@Test func dnsNames() {
    for good in [".", "example.com", "example.com.", "_dns._udp.example.", "a-b.c_d"] {
        #expect(isValidDNSName(good), "\(good)")
    }
    let long = String(repeating: "a", count: 64)
    for bad in ["", "..", "a..b", ".a", "a b", long, String(repeating: "a.", count: 127) + "ab"] {
        #expect(!isValidDNSName(bad), "\(bad)")
    }
}

@Test func asnRules() {
    #expect(asnProblem(1) == nil)
    #expect(asnProblem(4_294_967_295) == nil)
    #expect(asnProblem(0) != nil)
    #expect(asnProblem(23456) != nil)
}
