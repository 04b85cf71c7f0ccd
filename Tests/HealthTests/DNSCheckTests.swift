// The DNS check over real UDP: against a responder that answers right, wrong or not at all, against a
// closed port, and against a real dnsmasq.
import Config
import Health
import NetAddress
import Testing

#if canImport(Glibc)
    import Glibc
#endif

struct DNSCheckTests {
    func dnsCheck(
        server: IPAddress?, port: Int, name: String = "id.lab", type: String = "TXT", rcodes: [String] = ["NOERROR"],
        timeout: Duration = .milliseconds(300), defaultServer: IPAddress? = nil
    ) -> HealthCheck {
        HealthCheck(
            config: CheckConfig(
                kind: .dns(server: server, port: port, name: name, type: type, rcodes: rcodes), timeout: timeout),
            defaultDNSServer: defaultServer)
    }

    @Test func goodAnswer() {
        let responder = DNSResponder()
        defer { responder.stop() }
        let result = dnsCheck(server: loopback4, port: responder.port).run()
        #expect(result.success, "\(result)")
        #expect(result.detail == "NOERROR, 1 answer")
        #expect(responder.queryCount == 1)
    }

    @Test func goodAnswerOverIPv6() {
        let responder = DNSResponder(v6: true)
        defer { responder.stop() }
        let check = dnsCheck(server: loopback6, port: responder.port)
        #expect(check.description == "dns [::1]:\(responder.port) id.lab. TXT")
        let result = check.run()
        #expect(result.success, "\(result)")
    }

    @Test(arguments: [
        (DNSResponder.Mode.wrongID, "answer has ID"),
        (.wrongQuestion, "answer is for another question"),
        (.servfail, "answer has rcode SERVFAIL"),
        (.truncated, "malformed answer"),
    ])
    func badAnswer(mode: DNSResponder.Mode, reason: String) {
        let responder = DNSResponder(mode: mode)
        defer { responder.stop() }
        // A long timeout: a bad answer must end the check well before it, whatever the machine's load.
        let result = dnsCheck(server: loopback4, port: responder.port, timeout: .seconds(5)).run()
        #expect(!result.success)
        #expect(result.detail.hasPrefix("127.0.0.1:\(responder.port): \(reason)"), "\(result)")
        #expect(result.duration < .milliseconds(2500), "a bad answer ends the check at once: \(result)")
    }

    @Test func servfailAcceptedWhenListed() {
        let responder = DNSResponder(mode: .servfail)
        defer { responder.stop() }
        let result = dnsCheck(server: loopback4, port: responder.port, rcodes: ["NOERROR", "SERVFAIL"]).run()
        #expect(result.success, "\(result)")
    }

    @Test func hungServerFailsAtTheTimeout() {
        let responder = DNSResponder(mode: .silent)
        defer { responder.stop() }
        let result = dnsCheck(server: loopback4, port: responder.port, timeout: .milliseconds(200)).run()
        #expect(!result.success)
        #expect(result.detail == "127.0.0.1:\(responder.port): no answer within 200 ms")
        #expect(result.duration >= .milliseconds(200), "\(result)")
        #expect(result.duration < .milliseconds(1200), "\(result)")
        #expect(responder.queryCount == 1)
    }

    @Test func deadServerFailsAtOnce() {
        let port = closedPort(type: Int32(SOCK_DGRAM.rawValue))
        let result = dnsCheck(server: loopback4, port: port, timeout: .seconds(2)).run()
        #expect(!result.success)
        #expect(result.detail == "127.0.0.1:\(port): port unreachable (nothing listening)")
        #expect(result.duration < .seconds(1), "ICMP port unreachable must end the wait: \(result)")
    }

    @Test(arguments: [loopback4, loopback6])
    func deadServerFailsWithinMillisecondsNotAtTheTimeout(address: IPAddress) {
        // The connected socket gets the ICMP port unreachable as ECONNREFUSED on recv: no timeout is waited.
        let port = closedPort(type: Int32(SOCK_DGRAM.rawValue), v6: address == loopback6)
        let result = dnsCheck(server: address, port: port, timeout: .seconds(5)).run()
        #expect(result.detail.hasSuffix(":\(port): port unreachable (nothing listening)"), "\(result)")
        #expect(!result.success)
        #expect(result.duration < .milliseconds(100), "\(result)")
    }

    @Test func defaultServerIsUsedWhenNoneIsConfigured() {
        let responder = DNSResponder()
        defer { responder.stop() }
        let check = dnsCheck(server: nil, port: responder.port, defaultServer: loopback4)
        #expect(check.dnsServer == loopback4)
        #expect(check.run().success)
    }

    @Test func noServerAtAllIsABadCheck() {
        let result = dnsCheck(server: nil, port: 53).run()
        #expect(!result.success)
        #expect(result.detail.hasPrefix("bad check: no DNS server configured"))
    }

    @Test func badNameIsABadCheck() {
        let result = dnsCheck(server: loopback4, port: 53, name: "a..b").run()
        #expect(!result.success)
        #expect(result.detail == "bad check: DNS name \"a..b\" has an empty label")
    }

    @Test func realDnsmasq() async throws {
        let dnsmasq = try Dnsmasq()
        defer { dnsmasq.stop() }
        let check = dnsCheck(server: loopback4, port: dnsmasq.port, type: "txt")
        // dnsmasq needs a moment to bind; until then the port is unreachable.
        var last = check.run()
        let ready = await waitUntil(seconds: 5) {
            last = check.run()
            return last.success
        }
        #expect(ready, "dnsmasq on port \(dnsmasq.port) never answered: \(last)")
        #expect(last.detail == "NOERROR, 1 answer")

        let refused = dnsCheck(server: loopback4, port: dnsmasq.port, name: "nothere.lab", type: "A").run()
        #expect(!refused.success)
        #expect(refused.detail.hasSuffix("answer has rcode REFUSED"), "\(refused)")

        dnsmasq.stop()
        let dead = check.run()
        #expect(!dead.success)
        #expect(dead.detail.hasSuffix("port unreachable (nothing listening)"), "\(dead)")
    }
}
