// The anycastd command line: the daemon (`reconcile`) and the tools around it.
import ArgumentParser
import Config
import Daemon
import Foundation
import Logging

let defaultConfigPath = "/etc/anycastd/anycastd.json"
let anycastdVersion = "0.1.0"

@main
struct Anycastd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anycastd",
        abstract: "Announce anycast service addresses over BGP while the local service is healthy.",
        version: anycastdVersion,
        subcommands: [Reconcile.self, Check.self, Version.self]
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

    @Option(help: "Seconds between full resyncs (a safety net; events drive everything else).")
    var resyncInterval: Int = 30

    @Flag(name: .shortAndLong, help: "Log debug detail.")
    var verbose = false

    func run() async throws {
        StderrLogHandler.bootstrap(level: verbose ? .debug : .info)
        let logger = Logger(label: "anycastd")
        let agent: Agent
        do {
            agent = try Agent(
                options: AgentOptions(configPath: options.config, resyncInterval: .seconds(resyncInterval)),
                logger: logger)
        } catch {
            logger.critical("\(error)")
            throw ExitCode(ExitStatus.failure)
        }
        let status = once || dryRun ? await agent.reconcileOnce(dryRun: dryRun) : await agent.run()
        if status != 0 { throw ExitCode(status) }
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
        case .failure(let error):
            for diagnostic in error.diagnostics {
                FileHandle.standardError.write(Data("\(diagnostic)\n".utf8))
            }
            throw ExitCode(ExitStatus.config)
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() { print("anycastd \(anycastdVersion)") }
}
