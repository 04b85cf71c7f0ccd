import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import Daemon

/// Counts scrapes across threads.
final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    func increment() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}

/// Scrapers and control clients that misbehave: they must be bounded in memory, descriptors and time.
@Suite struct ClientLimitsTests {
    /// Runs blocking socket code on its own thread, never on the cooperative pool the servers' tasks need.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.start()
        }
    }

    static func metricsServer(
        _ limits: MetricsServer.Limits, calls: Counter? = nil, text: String = "anycastd_test_metric 42\n"
    ) async throws -> MetricsServer {
        try await MetricsServer.start(
            listen: "127.0.0.1:0", group: MultiThreadedEventLoopGroup.singleton, limits: limits
        ) {
            calls?.increment()
            return text
        }
    }

    /// Bug 4: 100,000 pipelined GET /metrics from a client that never reads took the agent to 714 MB.
    /// (Seen failing before the fix: all 20,000 requests were read and answered into memory, and the
    /// connection was never closed.)
    @Test func aPipeliningClientThatNeverReadsHoldsOneResponseAndIsClosed() async throws {
        var limits = MetricsServer.Limits()
        limits.timeout = .milliseconds(500)
        let calls = Counter()
        let server = try await Self.metricsServer(
            limits, calls: calls, text: String(repeating: "x", count: 65536) + "\n")
        defer { Task { await server.stop() } }
        let port = server.port ?? 0
        let (sent, closed) = try await Self.onThread {
            let client = try RawClient(tcpPort: port, receiveBuffer: 4096)
            let sent = client.sendRepeatedly("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", count: 20000)
            return (sent, client.waitForClose(timeoutMilliseconds: 10_000))
        }
        #expect(closed, "the connection of a client that does not read must be closed")
        let answered = calls.value
        // Kernel buffers take a few 64 KiB responses; everything else waits unread in the kernel.
        #expect(answered < 200, "\(answered) responses made for \(sent) requests sent")
    }

    /// An idle scraper (connected, sending nothing) is closed after the timeout.
    @Test func idleMetricsConnectionsAreClosed() async throws {
        var limits = MetricsServer.Limits()
        limits.timeout = .milliseconds(200)
        let server = try await Self.metricsServer(limits)
        defer { Task { await server.stop() } }
        let port = server.port ?? 0
        let closed = try await Self.onThread {
            let client = try RawClient(tcpPort: port)
            // Half a request head (slowloris): it does not reset the timer.
            try client.send("GET /metrics HTTP/1.1\r\n")
            return client.waitForClose(timeoutMilliseconds: 5000)
        }
        #expect(closed)
        // A kept-alive client is answered, then closed once idle.
        let answer = try await Self.onThread {
            let client = try RawClient(tcpPort: port)
            try client.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            return client.readToEnd(timeoutMilliseconds: 5000)
        }
        #expect(answer.closed && answer.text.hasSuffix("anycastd_test_metric 42\n"), "\(answer)")
    }

    /// Bug 5: connections above the cap are accepted and closed at once, so they cannot take descriptors.
    @Test func metricsConnectionsAboveTheCapAreRefused() async throws {
        var limits = MetricsServer.Limits()
        limits.maxConnections = 4
        limits.timeout = .seconds(60)
        let server = try await Self.metricsServer(limits)
        defer { Task { await server.stop() } }
        let port = server.port ?? 0
        let held = try await Self.onThread { try (0..<4).map { _ in try RawClient(tcpPort: port) } }
        // The four are admitted once each answers a request.
        for client in held {
            let answer = try await Self.onThread {
                try client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                return client.readToEnd(timeoutMilliseconds: 300).text
            }
            #expect(answer.hasPrefix("HTTP/1.1 200 OK"))
        }
        let refused = try await Self.onThread {
            try (0..<6).map { _ in try RawClient(tcpPort: port).waitForClose(timeoutMilliseconds: 5000) }
        }
        #expect(refused == Array(repeating: true, count: 6))
        #expect(
            server.connections.open == 4 && server.connections.refused == 6, "\(String(describing: server.connections))"
        )
        withExtendedLifetime(held) {}
    }

    /// After answering 400 (and 413 for a body over the limit) the server closes the connection.
    /// (Seen failing before the fix: the 400 came, but the connection stayed open.)
    @Test func badRequestsAreAnsweredAndClosed() async throws {
        var limits = MetricsServer.Limits()
        limits.timeout = .seconds(60)
        let server = try await Self.metricsServer(limits)
        defer { Task { await server.stop() } }
        let port = server.port ?? 0
        for (request, status) in [
            ("NOT HTTP AT ALL\r\n\r\n", "400"),
            ("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 20000))\r\n\r\n", "400"),
            ("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n", "413"),
        ] {
            let answer = try await Self.onThread {
                let client = try RawClient(tcpPort: port)
                try client.send(request)
                return client.readToEnd(timeoutMilliseconds: 5000)
            }
            #expect(answer.text.hasPrefix("HTTP/1.1 \(status) "), "\(answer.text)")
            #expect(answer.closed, "connection left open after \(status)")
        }
    }

    static func controlServer(_ limits: ControlServer.Limits) async throws -> ControlServer {
        let path = "/tmp/acd-clients-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        return try await ControlServer.start(path: path, group: MultiThreadedEventLoopGroup.singleton, limits: limits) {
            _ in ControlResponse(ok: true, message: "fine")
        }
    }

    /// Idle control clients held their descriptors for ever; now they are closed after the timeout, and
    /// those above the cap at once. (Seen failing before the fix: the idle client was never closed.)
    @Test func idleAndExcessControlClientsAreClosed() async throws {
        var limits = ControlServer.Limits()
        limits.timeout = .seconds(2)
        limits.maxConnections = 2
        let server = try await Self.controlServer(limits)
        defer { Task { await server.stop() } }
        let path = server.path
        let (idle, excess) = try await Self.onThread {
            let first = try RawClient(unixPath: path)
            let second = try RawClient(unixPath: path)
            // The second has sent half its line: it is held, but only until the timeout.
            try second.send("{\"command\":")
            // Children are admitted on their own event loops: wait until both hold their places, so the third
            // connection is the one above the cap.
            let admitted = monotonicDeadline(milliseconds: 3000)
            while server.connections.open < 2, !admitted.passed { sched_yield() }
            let excess = try RawClient(unixPath: path)
            let excessClosed = excess.waitForClose(timeoutMilliseconds: 1000)
            return ([first, second].map { $0.waitForClose(timeoutMilliseconds: 5000) }, excessClosed)
        }
        #expect(excess)
        #expect(idle == [true, true])
        #expect(server.connections.refused >= 1)
        let status = try await Self.onThread {
            try ControlClient.send(ControlRequest(command: .status), to: path)
        }
        #expect(status.message == "fine")
    }

    /// A request line over the limit is answered with an error and closed.
    @Test func anOverlongControlRequestIsAnError() async throws {
        var limits = ControlServer.Limits()
        limits.maxRequestBytes = 1024
        let server = try await Self.controlServer(limits)
        defer { Task { await server.stop() } }
        let path = server.path
        let answer = try await Self.onThread {
            let client = try RawClient(unixPath: path)
            try client.send(String(repeating: "x", count: 4096))
            return client.readToEnd(timeoutMilliseconds: 5000)
        }
        #expect(answer.closed)
        #expect(answer.text == "{\"message\":\"request line over 1024 bytes\",\"ok\":false}\n")
    }
}

/// A deadline on CLOCK_MONOTONIC for busy waits in tests.
struct MonotonicDeadline {
    let nanos: UInt64
    var passed: Bool { DispatchTime.now().uptimeNanoseconds >= nanos }
}

func monotonicDeadline(milliseconds: UInt64) -> MonotonicDeadline {
    MonotonicDeadline(nanos: DispatchTime.now().uptimeNanoseconds + milliseconds * 1_000_000)
}
