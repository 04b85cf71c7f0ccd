// Answers control-socket requests and builds the status snapshot from the agent's state.
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
        case .drain: return await drain(request.services)
        case .undrain: return await undrain(request.services)
        }
    }

    func status() async -> StatusSnapshot {
        let state = desired
        let name = state?.interface.name ?? "anycast0"
        let link = lastObserved.link(named: name)
        let present = lastObserved.prefixes(on: name)
        let established = await announcer.establishedPeers()
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
                let peers = peersAnnouncing(prefix, established: established)
                return PrefixReport(
                    prefix: prefix.description, addressPresent: present.contains(prefix), announcedTo: peers,
                    gracefulShutdown: lastVerdicts[prefix]?.gracefulShutdown ?? false,
                    blockedBy: lastVerdicts[prefix]?.blockedBy)
            }
            return ServiceReport(
                name: service.name, healthy: healthy.contains(service.name),
                drained: drains.contains(service.name) || drains.contains("*"), checks: checks, prefixes: prefixes)
        }
        return StatusSnapshot(
            version: anycastdVersion,
            config: ConfigReport(
                path: options.configPath, valid: configErrors.isEmpty, errors: configErrors.map(\.description)),
            interface: InterfaceReport(name: name, present: link != nil, up: link?.isUp ?? false),
            hostDrained: drains.contains("*"), stopping: stopStarted != nil, peers: await announcer.peerStatus(),
            services: services)
    }
}

extension Duration {
    /// Seconds as a Double, for status and metrics.
    fileprivate var secondsValue: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
