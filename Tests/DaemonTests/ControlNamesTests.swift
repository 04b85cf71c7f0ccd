import Foundation
import Logging
import Synchronization
import Testing

@testable import Daemon

/// Collects log lines in memory.
final class CapturedLog: Sendable {
    let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
}

struct CaptureLogHandler: LogHandler {
    let log: CapturedLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        let message = "\(event.message)"
        log.lines.withLock { $0.append(message) }
    }
}

/// Service names from the control socket are outside input.
@Suite struct ControlNamesTests {
    static func agent(log: CapturedLog) async throws -> Agent {
        let directory = "/tmp/acd-clients-names-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let config = """
            {
              "interface": { "name": "lo", "kind": "existing" },
              "services": [ { "name": "dns", "prefixes": ["192.0.2.53/32"] } ],
              "stateDirectory": "\(directory)/state",
              "control": { "socket": "\(directory)/anycastd.sock" }
            }
            """
        try config.write(toFile: "\(directory)/anycastd.json", atomically: true, encoding: .utf8)
        let agent = try Agent(
            options: AgentOptions(configPath: "\(directory)/anycastd.json"),
            logger: Logger(label: "test") { _ in CaptureLogHandler(log: log) })
        #expect(await agent.loadConfig(reason: "test"))
        return agent
    }

    /// 6,000 unknown names gave 6,000 "undrained" lines, and a name with a newline forged a log line.
    /// (Seen failing before the fix: undrain answered ok and logged each name raw.)
    @Test func undrainOfUnknownNamesIsAnErrorAndLogsNothing() async throws {
        let log = CapturedLog()
        let agent = try await Self.agent(log: log)
        let before = log.all.count
        let names = (0..<6000).map { "svc\($0)" }
        let many = await agent.handle(ControlRequest(command: .undrain, services: names))
        #expect(!many.ok)
        #expect(
            many.message == "unknown service: svc0, svc1, svc2, svc3, svc4, svc5, svc6, svc7, svc8, svc9 and 5990 more")
        let forged = await agent.handle(
            ControlRequest(command: .undrain, services: ["dns\nerror: host drained by admin"]))
        #expect(forged == ControlResponse(ok: false, message: "unknown service: dns\\nerror: host drained by admin"))
        let drainForged = await agent.handle(ControlRequest(command: .drain, services: ["x\ny"]))
        #expect(drainForged == ControlResponse(ok: false, message: "unknown service: x\\ny"))
        #expect(log.all.count == before, "\(log.all.dropFirst(before).prefix(3))")
        // Known names still work.
        #expect(await agent.handle(ControlRequest(command: .drain, services: ["dns"])).ok)
        #expect(await agent.handle(ControlRequest(command: .undrain, services: ["dns"])).ok)
    }
}
