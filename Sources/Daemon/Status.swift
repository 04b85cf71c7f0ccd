// One status model, several renderers (JSON for tools, text for people), as bgpctl does: the agent fills
// a StatusSnapshot and `anycastd status` prints it.
import BFD
import BGP
import FoundationEssentials

/// The whole agent at one instant.
public struct StatusSnapshot: Codable, Sendable, Equatable {
    public var version: String
    public var config: ConfigReport
    public var interface: InterfaceReport
    public var hostDrained: Bool
    public var stopping: Bool
    public var peers: [PeerReport]
    public var services: [ServiceReport]
    /// False when a save failed or the drain file was unreadable: a restart would not restore the agent's
    /// drains and owned addresses as they are now.
    public var statePersisted: Bool
    /// Why not, one line each.
    public var stateErrors: [String]
    /// Seconds until each pending timer (drain delays, retiring addresses, the end of a stop, retries).
    public var timers: [Double]?
    /// Graceful Restart in progress: End-of-RIB held back, or the next stop made a restart; nil otherwise.
    public var gracefulRestart: String?

    public init(
        version: String, config: ConfigReport, interface: InterfaceReport, hostDrained: Bool, stopping: Bool,
        peers: [PeerReport], services: [ServiceReport], statePersisted: Bool = true, stateErrors: [String] = []
    ) {
        self.version = version
        self.config = config
        self.interface = interface
        self.hostDrained = hostDrained
        self.stopping = stopping
        self.peers = peers
        self.services = services
        self.statePersisted = statePersisted
        self.stateErrors = stateErrors
    }
}

public struct ConfigReport: Codable, Sendable, Equatable {
    public var path: String
    /// False when the last edit was rejected; the last good state is still applied.
    public var valid: Bool
    public var errors: [String]
}

public struct InterfaceReport: Codable, Sendable, Equatable {
    public var name: String
    public var present: Bool
    public var up: Bool
}

public struct PeerReport: Codable, Sendable, Equatable {
    public var name: String
    public var address: String
    public var asn: UInt32
    public var state: SessionState
    /// When the state last changed (seconds since the Unix epoch).
    public var since: Double?
    public var lastErrorSent: String?
    public var lastErrorReceived: String?
    public var prefixesSent: Int
    public var prefixesReceived: Int
    public var updatesSent: Int
    public var updatesReceived: Int
    /// BGP messages of every type, both ways.
    public var messagesSent: Int
    public var messagesReceived: Int
    /// Times the session reached Established since the agent started.
    public var establishedCount: Int
    /// The BFD session's state (JSON "Up", "Down", "Init", "AdminDown"); nil when the peer has no BFD.
    public var bfd: BFDState? = nil
    /// Seconds for which BFD-driven BGP resets stay held off (damped, RFC 5882 §3.2); nil when they are not.
    public var bfdResetsHeldOff: Int? = nil
    /// UPDATEs from the peer treated as withdraw (RFC 7606) since the agent started.
    public var treatAsWithdraw: Int = 0
}

public struct CheckReport: Codable, Sendable, Equatable {
    public var check: String
    public var up: Bool
    /// Successes in a row.
    public var successes: Int
    /// Failures in a row.
    public var failures: Int
    public var lastResult: String
    /// Runs since the check started (or last changed), and how many of them failed.
    public var runs: Int = 0
    public var failuresTotal: Int = 0
    /// The reason of the most recent failed run, kept after later successes.
    public var lastFailure: String? = nil
    public var lastDurationSeconds: Double? = nil
    /// The run-time histogram: cumulative run counts for each upper bound in seconds, and the sum.
    public var durationBuckets: [DurationBucket] = []
    public var durationSumSeconds: Double = 0
}

/// One bucket of a run-time histogram: runs that took at most `le` seconds.
public struct DurationBucket: Codable, Sendable, Equatable {
    public var le: Double
    public var count: Int
}

public struct PrefixReport: Codable, Sendable, Equatable {
    public var prefix: String
    public var addressPresent: Bool
    public var announcedTo: [String]
    public var gracefulShutdown: Bool
    /// Why the prefix is not announced, when it is not.
    public var blockedBy: String?
}

public struct ServiceReport: Codable, Sendable, Equatable {
    public var name: String
    public var healthy: Bool
    public var drained: Bool
    public var checks: [CheckReport]
    public var prefixes: [PrefixReport]
    /// "active", "gracefulShutdown" (drain or stop, still announced with GRACEFUL_SHUTDOWN) or "withdrawn".
    public var phase: String? = nil
}

extension StatusSnapshot {
    /// Stable, indented JSON for `anycastd status --json`.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// A short human summary for `anycastd status`.
    public func text() -> String {
        var lines: [String] = []
        let configLine = config.valid ? "ok" : "INVALID (last good state applied): \(config.errors.count) errors"
        lines.append("anycastd \(version)  config \(config.path): \(configLine)")
        for error in config.errors { lines.append("  \(error)") }
        let interfaceState = !interface.present ? "missing" : interface.up ? "up" : "down"
        lines.append("interface \(interface.name): \(interfaceState)\(hostDrained ? "  HOST DRAINED" : "")")
        if !statePersisted {
            lines.append("state: NOT PERSISTED (the state directory does not hold the drains as they are now)")
            for error in stateErrors { lines.append("  \(error)") }
        }
        if stopping { lines.append("stopping") }
        if let gracefulRestart { lines.append("graceful restart: \(gracefulRestart)") }
        lines.append("peers:")
        for peer in peers {
            var line = "  \(peer.name) \(peer.address) AS\(peer.asn) \(peer.state.rawValue) sent \(peer.prefixesSent)"
            if let bfd = peer.bfd { line += "  BFD \(bfd)" }
            if let held = peer.bfdResetsHeldOff { line += " (damped: resets held off \(held)s)" }
            if peer.treatAsWithdraw > 0 { line += "  treat-as-withdraw \(peer.treatAsWithdraw)" }
            if let error = peer.lastErrorReceived { line += "  last received: \(error)" }
            if let error = peer.lastErrorSent { line += "  last sent: \(error)" }
            lines.append(line)
        }
        lines.append("services:")
        for service in services {
            let health = service.healthy ? "healthy" : "unhealthy"
            let phase = service.phase.flatMap { $0 == "active" ? nil : ", \($0)" } ?? ""
            lines.append("  \(service.name): \(health)\(service.drained ? ", drained" : "")\(phase)")
            for check in service.checks {
                lines.append("    check \(check.check): \(check.up ? "up" : "down") (\(check.lastResult))")
            }
            for prefix in service.prefixes {
                let where_ =
                    prefix.announcedTo.isEmpty
                    ? "not announced" : "announced to \(prefix.announcedTo.joined(separator: ", "))"
                let why = prefix.blockedBy.map { " (\($0))" } ?? ""
                let graceful = prefix.gracefulShutdown ? " with GRACEFUL_SHUTDOWN" : ""
                lines.append("    \(prefix.prefix): \(where_)\(graceful)\(why)")
            }
        }
        if let timers, !timers.isEmpty {
            lines.append("timers pending: " + timers.map { "\(($0 * 10).rounded() / 10)s" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }
}
