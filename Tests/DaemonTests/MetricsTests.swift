import Foundation
import NIOPosix
import Testing

@testable import Daemon

@Suite struct MetricsTests {
    /// Every line is a comment or `name{labels} value`, and every family has one HELP and one TYPE line
    /// before its samples.
    static func checkExposition(_ text: String) -> [String] {
        var problems: [String] = []
        var described: Set<String> = []
        var typed: Set<String> = []
        var histograms: Set<String> = []
        let sample =
            /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? (-?[0-9.e+]+|NaN|[+-]Inf)$/
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix("# HELP ") {
                let name = String(line.split(separator: " ")[2])
                if !described.insert(name).inserted { problems.append("HELP twice: \(name)") }
            } else if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                if !typed.insert(String(parts[2])).inserted { problems.append("TYPE twice: \(parts[2])") }
                if !["gauge", "counter", "histogram"].contains(parts[3]) { problems.append("bad type: \(line)") }
                if parts[3] == "histogram" { histograms.insert(String(parts[2])) }
            } else if let match = line.wholeMatch(of: sample) {
                var name = String(match.1)
                // A histogram's samples are NAME_bucket, NAME_sum and NAME_count.
                for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
                    let family = String(name.dropLast(suffix.count))
                    if histograms.contains(family) { name = family }
                }
                if !described.contains(name) || !typed.contains(name) { problems.append("no HELP/TYPE: \(name)") }
            } else {
                problems.append("not a sample: \(line)")
            }
        }
        if !text.hasSuffix("\n") { problems.append("no final newline") }
        return problems
    }

    @Test func statusRendersAsPrometheusText() {
        let text = sampleStatus().prometheus()
        #expect(Self.checkExposition(text) == [])
        let lines = Set(text.split(separator: "\n").map(String.init))
        for expected in [
            "anycastd_build_info{version=\"test\"} 1",
            "anycastd_config_valid 0",
            "anycastd_config_errors 1",
            "anycastd_interface_up{interface=\"anycast0\"} 1",
            "anycastd_bgp_peer_up{address=\"10.0.0.1\",peer=\"core1\"} 1",
            "anycastd_bfd_up{address=\"10.0.0.1\",peer=\"core1\"} 1",
            "anycastd_bgp_peer_state{address=\"10.0.0.1\",peer=\"core1\",state=\"Established\"} 1",
            "anycastd_bgp_peer_state{address=\"10.0.0.1\",peer=\"core1\",state=\"Idle\"} 0",
            "anycastd_bgp_peer_state_change_timestamp_seconds{address=\"10.0.0.1\",peer=\"core1\"} 1",
            "anycastd_bgp_peer_established_total{address=\"10.0.0.1\",peer=\"core1\"} 1",
            "anycastd_bgp_peer_prefixes_announced{address=\"10.0.0.1\",peer=\"core1\"} 2",
            "anycastd_bgp_peer_messages_sent_total{address=\"10.0.0.1\",peer=\"core1\"} 7",
            "anycastd_bgp_peer_messages_received_total{address=\"10.0.0.1\",peer=\"core1\"} 5",
            "anycastd_bgp_peer_updates_sent_total{address=\"10.0.0.1\",peer=\"core1\"} 1",
            "anycastd_service_healthy{service=\"dns\"} 1",
            "anycastd_service_drained{service=\"dns\"} 0",
            "anycastd_check_up{check=\"dns 192.0.2.53:53 . SOA\",service=\"dns\"} 1",
            "anycastd_check_runs_total{check=\"dns 192.0.2.53:53 . SOA\",service=\"dns\"} 7",
            "anycastd_check_failures_total{check=\"dns 192.0.2.53:53 . SOA\",service=\"dns\"} 3",
            "anycastd_check_duration_seconds_bucket{check=\"dns 192.0.2.53:53 . SOA\",le=\"0.001\",service=\"dns\"} 4",
            "anycastd_check_duration_seconds_bucket{check=\"dns 192.0.2.53:53 . SOA\",le=\"0.5\",service=\"dns\"} 6",
            "anycastd_check_duration_seconds_bucket{check=\"dns 192.0.2.53:53 . SOA\",le=\"+Inf\",service=\"dns\"} 7",
            "anycastd_check_duration_seconds_sum{check=\"dns 192.0.2.53:53 . SOA\",service=\"dns\"} 0.75",
            "anycastd_check_duration_seconds_count{check=\"dns 192.0.2.53:53 . SOA\",service=\"dns\"} 7",
            "anycastd_prefix_address_present{prefix=\"192.0.2.53/32\",service=\"dns\"} 1",
            "anycastd_prefix_announced_peers{prefix=\"192.0.2.53/32\",service=\"dns\"} 1",
            "anycastd_prefix_graceful_shutdown{prefix=\"192.0.2.53/32\",service=\"dns\"} 0",
        ] {
            #expect(lines.contains(expected), "missing: \(expected)")
        }
    }

    @Test func labelValuesAreEscaped() {
        var status = sampleStatus()
        status.services[0].checks[0].check = "exec /bin/sh -c \"a\\b\"\nnext"
        let text = status.prometheus()
        #expect(Self.checkExposition(text) == [])
        #expect(text.contains("anycastd_check_up{check=\"exec /bin/sh -c \\\"a\\\\b\\\"\\nnext\",service=\"dns\"} 1"))
        #expect(PrometheusWriter.format(0.5) == "0.5")
        #expect(PrometheusWriter.format(1_764_000_000) == "1764000000")
    }

    @Test func listenAddressesSplit() {
        #expect(MetricsServer.split("127.0.0.1:9477")! == ("127.0.0.1", 9477))
        #expect(MetricsServer.split("[::1]:9477")! == ("::1", 9477))
        #expect(MetricsServer.split("[2001:db8::1]:80")! == ("2001:db8::1", 80))
        #expect(MetricsServer.split("127.0.0.1") == nil)
        #expect(MetricsServer.split(":80") == nil)
        #expect(MetricsServer.split("1.2.3.4:70000") == nil)
    }

    /// Sends raw bytes to 127.0.0.1:port and reads until the server closes.
    static func exchange(port: Int, _ request: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw DaemonError("socket: \(errno)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw DaemonError("connect: \(errno)") }
        let bytes = Array(request.utf8)
        guard send(fd, bytes, bytes.count, 0) == bytes.count else { throw DaemonError("send: \(errno)") }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            answer += chunk[0..<n]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    /// Runs blocking socket code on its own thread, never on the cooperative pool the server's scrape
    /// task needs (with two cores, a blocked pool thread can starve it).
    static func onThread(_ body: @escaping @Sendable () throws -> String) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.start()
        }
    }

    @Test func serverAnswersScrapesAndRefusesTheRest() async throws {
        let server = try await MetricsServer.start(listen: "127.0.0.1:0", group: MultiThreadedEventLoopGroup.singleton)
        {
            "anycastd_test_metric 42\n"
        }
        let port = try #require(server.port)
        let scrape = try await Self.onThread {
            try Self.exchange(port: port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        }
        #expect(scrape.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(scrape)")
        #expect(scrape.lowercased().contains("content-type: text/plain; version=0.0.4; charset=utf-8\r\n"))
        #expect(scrape.lowercased().contains("content-length: 24\r\n"))
        #expect(scrape.hasSuffix("\r\n\r\nanycastd_test_metric 42\n"))

        let head = try await Self.onThread {
            try Self.exchange(port: port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        }
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n") && head.hasSuffix("\r\n\r\n"), "\(head)")

        let post = try await Self.onThread {
            try Self.exchange(
                port: port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
        }
        #expect(post.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"), "\(post)")
        #expect(post.lowercased().contains("allow: get, head\r\n"))

        let missing = try await Self.onThread {
            try Self.exchange(port: port, "GET /nothing HTTP/1.0\r\n\r\n")
        }
        #expect(missing.hasPrefix("HTTP/1.0 404 Not Found\r\n"), "\(missing)")

        // Two pipelined requests on one kept-alive connection: both answered, in order.
        let pipelined = try await Self.onThread {
            try Self.exchange(
                port: port,
                "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        }
        #expect(pipelined.components(separatedBy: "HTTP/1.1 200 OK").count == 3, "\(pipelined)")
        #expect(pipelined.hasSuffix("metrics at /metrics\n"))

        await server.stop()
        #expect(throws: DaemonError.self) {
            try Self.exchange(port: port, "GET /metrics HTTP/1.0\r\n\r\n")
        }
    }
}
