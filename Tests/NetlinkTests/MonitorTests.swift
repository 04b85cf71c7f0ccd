// Privileged tests of NetlinkMonitor in a fresh network namespace: another socket's address and link
// changes arrive as events within 100 ms, and stop() ends the stream promptly.
import Foundation
import NetAddress
import Synchronization
import Testing

@testable import Netlink

/// Collects a monitor's events with the instant each arrived, from one consuming task.
final class EventLog: Sendable {
    private let entries = Mutex<[(event: NetlinkEvent, at: ContinuousClock.Instant)]>([])
    private let finished = Mutex(false)

    init(_ stream: AsyncStream<NetlinkEvent>) {
        Task { [self] in
            for await event in stream {
                let now = ContinuousClock.now
                entries.withLock { $0.append((event, now)) }
            }
            finished.withLock { $0 = true }
        }
    }

    var hasFinished: Bool { finished.withLock { $0 } }

    /// How long after `start` the first event matching `predicate` arrived, waiting up to `limit`.
    func latency(
        after start: ContinuousClock.Instant, within limit: Duration, _ predicate: (NetlinkEvent) -> Bool
    ) async -> Duration? {
        let deadline = start + limit + .milliseconds(500)
        while ContinuousClock.now < deadline {
            let hit = entries.withLock { entries in entries.first { $0.at >= start && predicate($0.event) }?.at }
            if let hit { return hit - start }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return nil
    }
}

extension NamespaceTests {
    @Suite struct MonitorTests {
        /// Latency is a benchmark figure, not a test assertion: this only checks that each event arrives.
        @Test func seesAddressAndLinkChangesMadeByAnotherSocket() async throws {
            let (monitor, socket, index) = try await inNewNetworkNamespace {
                let socket = try NetlinkSocket()
                let results = socket.apply(
                    [.createDummy(name: "acd0"), .setLinkUp(name: "acd0", up: true)], dummyKind: "ifb")
                guard results.allSatisfy({ $0.error == nil }) else { throw TestFailure("setup failed: \(results)") }
                let index = try socket.link(named: "acd0")?.index ?? -1
                return (try NetlinkMonitor(), socket, index)
            }
            let log = EventLog(monitor.events())
            // A second socket makes the changes, as another program would.
            let prefix = IPPrefix("2001:db8::7/128")!
            var start = ContinuousClock.now
            #expect(socket.apply([.addAddress(name: "acd0", prefix: prefix)]).first?.error == nil)
            let added = await log.latency(after: start, within: .seconds(5)) {
                if case .addressAdded(let address) = $0 {
                    address.prefix == prefix && address.interfaceIndex == index
                } else {
                    false
                }
            }
            #expect(
                added != nil, "address added seen after \(String(describing: added))")

            start = ContinuousClock.now
            #expect(socket.apply([.deleteAddress(name: "acd0", prefix: prefix)]).first?.error == nil)
            let removed = await log.latency(after: start, within: .seconds(5)) {
                if case .addressRemoved(let address) = $0 { address.prefix == prefix } else { false }
            }
            #expect(
                removed != nil,
                "address removed seen after \(String(describing: removed))"
            )

            start = ContinuousClock.now
            #expect(socket.apply([.setLinkUp(name: "acd0", up: false)]).first?.error == nil)
            let down = await log.latency(after: start, within: .seconds(5)) {
                if case .linkChanged(let link) = $0 {
                    link.name == "acd0" && !link.isUp && link.kind == "ifb"
                } else {
                    false
                }
            }
            #expect(down != nil, "link down seen after \(String(describing: down))")

            start = ContinuousClock.now
            #expect(socket.apply([.deleteLink(name: "acd0")]).first?.error == nil)
            let gone = await log.latency(after: start, within: .seconds(5)) {
                $0 == .linkRemoved(index: index, name: "acd0")
            }
            #expect(gone != nil, "link removal seen after \(String(describing: gone))")
            monitor.stop()
        }

        @Test func lostEventsBecomeOverrunAndTheMonitorKeepsGoing() async throws {
            let (monitor, socket) = try await inNewNetworkNamespace {
                try run("ip", "link", "add", "ifb0", "type", "ifb")
                // The smallest buffer the kernel allows holds a handful of notifications, and the reader
                // dawdles 300 ms at its first wake-up, so a burst of 2,000 must overflow it.
                let firstRead = Mutex(true)
                let monitor = try NetlinkMonitor(receiveBufferBytes: 1) {
                    if firstRead.withLock({ first in
                        defer { first = false }; return first
                    }) {
                        usleep(300_000)
                    }
                }
                return (monitor, try NetlinkSocket())
            }
            let log = EventLog(monitor.events())
            var start = ContinuousClock.now
            let burst = (0..<2000).map {
                NetlinkOperation.addAddress(name: "ifb0", prefix: IPPrefix("10.78.\($0 / 250).\($0 % 250 + 1)/32")!)
            }
            #expect(socket.apply(burst).allSucceeded)
            let overrun = await log.latency(after: start, within: .seconds(1)) { $0 == .overrun }
            #expect(overrun != nil, "ENOBUFS is reported as .overrun")
            // After the overrun, later events still arrive. The minimum-size buffer may drop a link event as
            // part of a second overrun while the reader drains the rest of the burst, so the link is
            // toggled again until an "up" arrives (a few rounds at most), instead of waiting a fixed time.
            // A liveness check, not a latency one: the teardown of earlier tests' namespaces can hold the
            // kernel's rtnl lock for a while.
            var up: Duration?
            for _ in 0..<10 where up == nil {
                start = ContinuousClock.now
                #expect(socket.apply([.setLinkUp(name: "ifb0", up: false)]).allSucceeded)
                #expect(socket.apply([.setLinkUp(name: "ifb0", up: true)]).allSucceeded)
                up = await log.latency(after: start, within: .seconds(1)) {
                    if case .linkChanged(let link) = $0 { link.name == "ifb0" && link.isUp } else { false }
                }
            }
            #expect(up != nil, "events keep coming after an overrun")
            monitor.stop()
        }

        @Test func stopEndsTheStreamPromptly() async throws {
            let monitor = try await inNewNetworkNamespace { try NetlinkMonitor() }
            let log = EventLog(monitor.events())
            let start = ContinuousClock.now
            monitor.stop()
            let stopTook = ContinuousClock.now - start
            #expect(stopTook < .seconds(2), "stop() took \(stopTook)")
            let deadline = ContinuousClock.now + .seconds(1)
            while !log.hasFinished && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
            #expect(log.hasFinished, "the event stream ends after stop()")
            monitor.stop()  // a second stop is harmless
        }
    }
}
