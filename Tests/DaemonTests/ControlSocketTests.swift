import BFD
import BGP
import Foundation
import NIOPosix
import Testing

@testable import Daemon

func sampleStatus() -> StatusSnapshot {
    StatusSnapshot(
        version: "test",
        config: ConfigReport(path: "/etc/anycastd/anycastd.json", valid: false, errors: ["x.json:1:2: a: b"]),
        interface: InterfaceReport(name: "anycast0", present: true, up: true), hostDrained: false, stopping: false,
        peers: [
            PeerReport(
                name: "core1", address: "10.0.0.1", asn: 65000, state: .established, since: 1, lastErrorSent: nil,
                lastErrorReceived: "Cease/Administrative Shutdown", prefixesSent: 2, prefixesReceived: 0,
                updatesSent: 1, updatesReceived: 0, messagesSent: 7, messagesReceived: 5, establishedCount: 1,
                bfd: .up)
        ],
        services: [
            ServiceReport(
                name: "dns", healthy: true, drained: false,
                checks: [
                    CheckReport(
                        check: "dns 192.0.2.53:53 . SOA", up: true, successes: 4, failures: 0, lastResult: "NOERROR",
                        runs: 7, failuresTotal: 3, lastFailure: "no answer within 500 ms", lastDurationSeconds: 0.0004,
                        durationBuckets: [DurationBucket(le: 0.001, count: 4), DurationBucket(le: 0.5, count: 6)],
                        durationSumSeconds: 0.75)
                ],
                prefixes: [
                    PrefixReport(
                        prefix: "192.0.2.53/32", addressPresent: true, announcedTo: ["core1"], gracefulShutdown: false,
                        blockedBy: nil)
                ])
        ])
}

@Suite struct ControlSocketTests {
    @Test func requestAndResponseTravelOverTheSocket() async throws {
        let path = "/tmp/acd-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        let server = try await ControlServer.start(path: path, group: MultiThreadedEventLoopGroup.singleton) {
            request in
            switch request.command {
            case .status: ControlResponse(ok: true, status: sampleStatus())
            case .drain: ControlResponse(ok: true, message: "drained \(request.services.joined(separator: ","))")
            case .undrain: ControlResponse(ok: false, message: "not drained")
            case .restart: ControlResponse(ok: true, message: "the next stop is a restart")
            }
        }
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o660)
        let status = try await Task.detached { try ControlClient.send(ControlRequest(command: .status), to: path) }
            .value
        #expect(status.status == sampleStatus())
        let drain = try await Task.detached {
            try ControlClient.send(ControlRequest(command: .drain, services: ["dns", "ntp"]), to: path)
        }.value
        #expect(drain == ControlResponse(ok: true, message: "drained dns,ntp"))
        let restart = try await Task.detached { try ControlClient.send(ControlRequest(command: .restart), to: path) }
            .value
        #expect(restart == ControlResponse(ok: true, message: "the next stop is a restart"))
        await server.stop()
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(throws: DaemonError.self) { try ControlClient.send(ControlRequest(command: .status), to: path) }
    }

    @Test func statusRendersAsTextAndJSON() throws {
        let status = sampleStatus()
        let decoded = try JSONDecoder().decode(StatusSnapshot.self, from: Data(status.json().utf8))
        #expect(decoded == status)
        let text = status.text()
        #expect(text.contains("INVALID (last good state applied): 1 errors"))
        #expect(text.contains("192.0.2.53/32: announced to core1"))
        #expect(text.contains("core1 10.0.0.1 AS65000 Established"))
    }
}
