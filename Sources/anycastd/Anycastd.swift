// The anycastd command line: the daemon (`reconcile`) and the tools around it.
import ArgumentParser
import Config
import Daemon
import FoundationEssentials
import Health
import Logging
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

let defaultConfigPath = "/etc/anycastd/anycastd.json"

@main
struct Anycastd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anycastd",
        abstract: "Announce anycast service addresses over BGP while the local service is healthy.",
        version: anycastdVersion,
        subcommands: [
            Reconcile.self, Check.self, Status.self, Drain.self, Undrain.self, Restart.self, Version.self,
            PrintSchema.self,
        ]
    )
}

struct ConfigOption: ParsableArguments {
    @Option(name: [.short, .long], help: "The desired-state file.")
    var config: String = defaultConfigPath
}

struct Reconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make the host match the desired state, and keep it so until stopped.")

    @OptionGroup var options: ConfigOption

    @Flag(help: "Apply the desired state once and exit.")
    var once = false

    @Flag(help: "Print the plan and change nothing.")
    var dryRun = false

    @Option(
        help: "Time between full resyncs, such as 30s or 5m (a safety net; events drive everything else).",
        transform: { text in
            guard let duration = parseDuration(text) ?? Int(text).map({ Duration.seconds($0) }), duration > .zero else {
                throw ValidationError("'\(text)' is not a duration (such as 30s, 500ms or 5m)")
            }
            return duration
        })
    var resyncInterval: Duration = .seconds(30)

    @Option(help: .hidden)
    var testLinkKind: String = "dummy"

    @Flag(name: .shortAndLong, help: "Log debug detail.")
    var verbose = false

    func run() async throws {
        StderrLogHandler.bootstrap(level: verbose ? .debug : .info)
        let logger = Logger(label: "anycastd")
        let agent: Agent
        let daemon = !(once || dryRun)
        // Helpers that exec checks leave behind outside their process group are re-parented to the agent,
        // which kills and reaps them; the agent starts no other children.
        if daemon, let failure = HealthMonitor.adoptCheckOrphans(ownsAllChildren: true) {
            logger.warning(
                "cannot become a child subreaper (\(failure)): exec check helpers that leave their process group outlive their check"
            )
        }
        do {
            agent = try Agent(
                options: AgentOptions(
                    configPath: options.config, resyncInterval: resyncInterval, linkKind: testLinkKind),
                logger: logger,
                announcer: daemon
                    ? BGPAnnouncer(group: .singletonMultiThreadedEventLoopGroup, logger: logger) : NoAnnouncer())
        } catch {
            logger.critical("\(error)")
            throw ExitCode(ExitStatus.failure)
        }
        let status = once || dryRun ? await agent.reconcileOnce(dryRun: dryRun) : await agent.run()
        // Exit here: nothing else is left to finish, and threads of libraries must not hold the process.
        Glibc.exit(status)
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate the desired-state file; print every error with its position. Exits 78 when invalid.")

    @OptionGroup var options: ConfigOption

    @Argument(help: "The file to check (instead of --config).")
    var file: String?

    func run() throws {
        let path = file ?? options.config
        switch ConfigLoader.load(path: path) {
        case .success(let state):
            print(
                "\(path): ok (\(state.services.count) services, \(state.allPrefixes.count) prefixes, \(state.bgp.peers.count) peers)"
            )
            // A warning, not an error: the file is valid, but its checks cannot all keep their interval.
            if let warning = HealthMonitor.capacityWarning(checks: state.services.flatMap(\.checks)) {
                let bytes = (try? Data(contentsOf: URL(fileURLWithPath: path))).map { [UInt8]($0) } ?? []
                let position = ConfigLoader.topLevelKeyPosition("services", in: bytes).map { "\($0):" } ?? ""
                printError("\(path):\(position) services: warning: \(warning)\n")
            }
        case .failure(let error):
            for diagnostic in error.diagnostics {
                printError("\(diagnostic)\n")
            }
            throw ExitCode(ExitStatus.config)
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() { print("anycastd \(anycastdVersion)") }
}

/// The schema is embedded in the binary, so it matches the reader of exactly this version.
struct PrintSchema: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema (2020-12) of the desired-state file, for editors and CI checks.")
    func run() { print(ConfigSchema.json) }
}

/// Where the control socket is: `--socket`, else the configuration's `control.socket`, else the default.
struct ControlOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "The desired-state file (to find the control socket).")
    var config: String = defaultConfigPath

    @Option(help: "The control socket (default: control.socket from the configuration).")
    var socket: String?

    func socketPath() -> String {
        if let socket { return socket }
        if case .success(let state) = ConfigLoader.load(path: config) { return state.control.socket }
        return ControlConfig().socket
    }

    func send(_ request: ControlRequest) throws -> ControlResponse {
        do {
            return try ControlClient.send(request, to: socketPath())
        } catch {
            printError("anycastd: \(error)\n")
            throw ExitCode(ExitStatus.unavailable)
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show peers, services, health and announcements.")

    @OptionGroup var control: ControlOptions

    @Flag(help: "Print the status as JSON.")
    var json = false

    func run() throws {
        let response = try control.send(ControlRequest(command: .status))
        guard let status = response.status else {
            printError("anycastd: \(response.message ?? "no status")\n")
            throw ExitCode(ExitStatus.failure)
        }
        print(json ? status.json() : status.text())
    }
}

struct Drain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Withdraw services (all when none given) from every peer, gracefully; kept across restarts.")

    @OptionGroup var control: ControlOptions

    @Argument(help: "Services to drain; none means the whole host.")
    var services: [String] = []

    func run() throws { try report(control.send(ControlRequest(command: .drain, services: services))) }
}

struct Undrain: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "End drains (all when no service is given).")

    @OptionGroup var control: ControlOptions

    @Argument(help: "Services to undrain; none means every drain, the host's included.")
    var services: [String] = []

    func run() throws { try report(control.send(ControlRequest(command: .undrain, services: services))) }
}

struct Restart: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make the next stop a restart: no withdraw, no Cease; Graceful Restart routers keep the routes.",
        discussion: """
            The agent keeps running; the next stop within 10 minutes (systemctl restart, a package upgrade) \
            leaves the routes to the routers, which keep them while the agent comes back. Refused when no \
            peer has Graceful Restart.
            """)

    @OptionGroup var control: ControlOptions

    func run() throws { try report(control.send(ControlRequest(command: .restart))) }
}

func report(_ response: ControlResponse) throws {
    guard response.ok else {
        printError("anycastd: \(response.message ?? "request failed")\n")
        throw ExitCode(ExitStatus.failure)
    }
    if let message = response.message { print(message) }
}

/// Writes one line to standard error.
func printError(_ text: String) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}
