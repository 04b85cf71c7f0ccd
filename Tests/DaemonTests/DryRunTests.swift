// `anycastd reconcile --dry-run` is documented to change nothing: it must not run a health check (an exec
// check is an arbitrary program), start a session or write state. Runs on `lo` as an existing interface,
// so it needs no namespace; reading netlink needs no privileges.
import Foundation
import Logging
import NetAddress
import Testing

@testable import Daemon

@Suite struct DryRunTests {
    @Test func dryRunRunsNoCheckAndWritesNothing() async throws {
        let directory = "/tmp/acd-core-dryrun-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let marker = "\(directory)/check-ran"
        let path = "\(directory)/anycastd.json"
        let config = """
            {
              "interface": { "name": "lo", "kind": "existing" },
              "services": [ { "name": "dns", "prefixes": ["192.0.2.153/32"],
                "checks": [ { "exec": { "command": ["/bin/sh", "-c", "echo ran > \(marker)"] },
                              "interval": "100ms", "timeout": "50ms", "rise": 1 } ] } ],
              "stateDirectory": "\(directory)/state",
              "control": { "socket": "\(directory)/anycastd.sock" }
            }
            """
        try config.write(toFile: path, atomically: false, encoding: .utf8)
        let agent = try Agent(options: AgentOptions(configPath: path), logger: Logger(label: "dry-run-test"))
        let status = await agent.reconcileOnce(dryRun: true)
        #expect(status == ExitStatus.ok)
        // The health monitor was never given the service, so no check thread exists to run the program.
        #expect(await agent.health.snapshot().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/state"))
        let plan = await agent.core.interfacePlan(now: .zero)
        #expect(plan?.operations.contains(.addAddress(name: "lo", prefix: IPPrefix("192.0.2.153/32")!)) == true)
    }
}
