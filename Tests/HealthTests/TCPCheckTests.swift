// The TCP check against a listening socket, a closed port, and a listener whose queue is full.
import Config
import Health
import NetAddress
import Testing

#if canImport(Glibc)
    import Glibc
#endif

struct TCPCheckTests {
    func tcpCheck(port: Int, timeout: Duration = .milliseconds(300)) -> HealthCheck {
        HealthCheck(
            config: CheckConfig(kind: .tcp(address: loopback4, port: port), timeout: timeout), defaultDNSServer: nil)
    }

    @Test func listening() {
        let listener = TCPListener()
        let check = tcpCheck(port: listener.port)
        #expect(check.description == "tcp 127.0.0.1:\(listener.port)")
        let result = check.run()
        #expect(result.success, "\(result)")
        #expect(result.detail == "connected")
    }

    @Test func refusedOnAClosedPort() {
        let port = closedPort(type: Int32(SOCK_STREAM.rawValue))
        let result = tcpCheck(port: port, timeout: .seconds(2)).run()
        #expect(!result.success)
        #expect(result.detail == "127.0.0.1:\(port): connection refused")
        #expect(result.duration < .seconds(1), "\(result)")
    }

    @Test func deadServiceFailsWithinMillisecondsNotAtTheTimeout() {
        // The kernel answers the SYN with RST: the connect fails at once, whatever the timeout.
        let port = closedPort(type: Int32(SOCK_STREAM.rawValue))
        let result = tcpCheck(port: port, timeout: .seconds(5)).run()
        #expect(!result.success)
        #expect(result.duration < .milliseconds(100), "\(result)")
    }

    @Test func fullAcceptQueueTimesOut() {
        // With backlog 0 the kernel completes one handshake; later SYNs are dropped, so connect hangs.
        let listener = TCPListener(backlog: 0)
        var results: [CheckResult] = []
        for _ in 0..<4 { results.append(tcpCheck(port: listener.port, timeout: .milliseconds(200)).run()) }
        let timedOut = results.filter { $0.detail.hasSuffix("not connected within 200 ms") }
        #expect(!timedOut.isEmpty, "\(results)")
        for result in timedOut {
            #expect(!result.success)
            #expect(result.duration >= .milliseconds(200) && result.duration < .milliseconds(1200), "\(result)")
        }
    }
}
