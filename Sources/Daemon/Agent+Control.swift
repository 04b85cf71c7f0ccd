// Answers control-socket requests through the core and builds the status snapshot from the core's facts
// (verdicts, phases, drains and whether they are on disk, sessions, timers), plus the per-check details
// the health monitor keeps and the per-session counters the speaker keeps.
import AgentCore
import Config
import Health
import NetAddress
import Reconciler

/// The version reported by `anycastd version` and in status.
public let anycastdVersion = "0.1.0"

extension Agent {
    func handle(_ request: ControlRequest) async -> ControlResponse {
        switch request.command {
        case .status: return ControlResponse(ok: true, status: await status())
        case .drain: return await self.request { .drainRequested(request.services, request: $0) }
        case .undrain: return await self.request { .undrainRequested(request.services, request: $0) }
        case .restart: return await self.request { .restartRequested(request: $0) }
        }
    }

    func status() async -> StatusSnapshot {
        let state = core.desired
        let now = self.now
        let name = state?.interface.name ?? "anycast0"
        let link = core.observed.link(named: name)
        let present = core.observed.prefixes(on: name)
        let phases = core.phases(now: now)
        let health = Dictionary(self.health.snapshot().map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let services = (state?.services ?? []).map { service in
            let checks = (health[service.name]?.checks ?? []).map {
                CheckReport(
                    check: $0.description, up: $0.isUp, successes: $0.successesInRow, failures: $0.failuresInRow,
                    lastResult: $0.lastResult ?? "no result yet", runs: $0.runs, failuresTotal: $0.failures,
                    lastFailure: $0.lastFailure, lastDurationSeconds: $0.lastDuration.map(\.secondsValue),
                    durationBuckets: zip(CheckStatus.durationBucketBounds, $0.durationCounts).map {
                        DurationBucket(le: $0.secondsValue, count: $1)
                    },
                    durationSumSeconds: $0.durationSum.secondsValue)
            }
            let prefixes = service.prefixes.map { prefix in
                PrefixReport(
                    prefix: prefix.description, addressPresent: present.contains(prefix),
                    announcedTo: core.peersAnnouncing(prefix),
                    gracefulShutdown: core.verdicts[prefix]?.gracefulShutdown ?? false,
                    blockedBy: core.verdicts[prefix]?.blockedBy)
            }
            var report = ServiceReport(
                name: service.name, healthy: core.healthy.contains(service.name),
                drained: core.drains.contains(service.name) || core.drains.contains("*"), checks: checks,
                prefixes: prefixes)
            report.phase = (phases[service.name] ?? .active).name
            return report
        }
        let asns = Dictionary((state?.bgp.peers ?? []).map { ($0.name, $0.asn) }, uniquingKeysWith: { a, _ in a })
        var snapshot = StatusSnapshot(
            version: anycastdVersion,
            config: ConfigReport(
                path: options.configPath, valid: configErrors.isEmpty, errors: configErrors.map(\.description)),
            interface: InterfaceReport(name: name, present: link != nil, up: link?.isUp ?? false),
            hostDrained: core.drains.contains("*"), stopping: core.stopStarted != nil,
            peers: await announcer.peerStatus().map { peer in
                var peer = peer
                peer.asn = asns[peer.name] ?? peer.asn
                return peer
            },
            services: services)
        switch core.drainPersistence {
        case .persisted: break
        case .notPersisted(let reason):
            snapshot.statePersisted = false
            snapshot.stateErrors = [reason]
        case .unreadable(let reason):
            snapshot.statePersisted = false
            snapshot.stateErrors = [
                "drain state unreadable: \(reason); the host stays drained until `anycastd undrain`"
            ]
        }
        snapshot.gracefulRestart = core.restartStatus(now: now)
        snapshot.timers = core.timers.sorted().map { instant in
            let left = instant - now
            return Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18
        }
        return snapshot
    }
}

extension ServicePhase {
    /// The phase as status shows it.
    var name: String {
        switch self {
        case .active: "active"
        case .gracefulShutdown: "gracefulShutdown"
        case .withdrawn: "withdrawn"
        }
    }
}

extension Duration {
    /// Seconds as a Double, for status and metrics.
    fileprivate var secondsValue: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
