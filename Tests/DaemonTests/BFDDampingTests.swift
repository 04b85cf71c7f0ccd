// BFDController with real BFD sessions on loopback addresses of their own (127.77.14.1 to .3, port 3784):
// it damps BFD-driven BGP resets (RFC 5882 §3.2): a router side that goes AdminDown four times in a row
// ends BGP three times, the fourth Down is held off and shown; and a key file that cannot be read on a
// reload leaves the running session alone.
import BFD
import BFDSession
import Config
import Foundation
import Logging
import NetAddress
import Synchronization
import Testing

@testable import Daemon

@Suite struct BFDDampingTests {
    /// Polls `condition` every 10 ms for at most 10 s; the bound only keeps a broken test from hanging.
    /// Suspends between polls: the controller's state changes arrive on a task that needs the pool.
    private func eventually(_ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    /// Issue 14: five spoofed AdminDowns a second kept BGP down. Before damping, each of the four Downs
    /// ended the BGP session.
    @Test func fourthDownInAMinuteDoesNotResetBGP() async throws {
        let local = IPAddress("127.77.14.1")!
        let router = IPAddress("127.77.14.2")!
        let resets = Mutex(0)
        let controller = BFDController(
            logger: Logger(label: "test"), onDown: { _ in resets.withLock { $0 += 1 } }, onChange: { _ in })
        defer { controller.shutdown() }
        controller.configure([
            PeerConfig(
                name: "r1", address: router, asn: 65000, localAddress: local,
                bfd: BFDConfig(minInterval: .milliseconds(100), multiplier: 3))
        ])
        let routerSide = try BFDSpeaker()
        defer { routerSide.shutdown() }
        let fast = Duration.milliseconds(100)
        try routerSide.startSession(peer: local, local: router, desiredMinTxInterval: fast, requiredMinRxInterval: fast)
        var problems: [String] = []
        for cycle in 1...4 {
            if try await !eventually({ controller.state(of: "r1") == .up }) {
                problems.append("cycle \(cycle): not Up")
            }
            routerSide.setAdminDown(true, peer: local, local: router)
            if try await !eventually({ controller.state(of: "r1") == .down }) {
                problems.append("cycle \(cycle): not Down")
            }
            routerSide.setAdminDown(false, peer: local, local: router)
        }
        #expect(problems == [])
        #expect(try await eventually { resets.withLock { $0 } == 3 })
        #expect(resets.withLock { $0 } == 3)
        let held = try #require(controller.resetsHeldOff(of: "r1"))
        #expect(held > .seconds(25) && held <= .seconds(30))
    }

    /// Bad input loses nothing: a key file that is gone when the configuration is applied again is logged,
    /// and the session keeps running with the key it has (before, the session was stopped).
    @Test func unreadableKeyKeepsTheRunningSession() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bfd-key-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let keyFile = directory.appendingPathComponent("key").path
        try Data("s3cret\n".utf8).write(to: URL(fileURLWithPath: keyFile))
        let controller = BFDController(logger: Logger(label: "test"), onDown: { _ in }, onChange: { _ in })
        defer { controller.shutdown() }
        let peers = [
            PeerConfig(
                name: "r2", address: IPAddress("127.77.14.4")!, asn: 65000, localAddress: IPAddress("127.77.14.3")!,
                bfd: BFDConfig(
                    authentication: BFDAuthenticationConfig(kind: .meticulousKeyedSHA1, keyFile: keyFile)))
        ]
        controller.configure(peers)
        #expect(controller.state(of: "r2") == .down)
        try FileManager.default.removeItem(atPath: keyFile)
        controller.configure(peers)
        #expect(controller.state(of: "r2") == .down)
    }
}
