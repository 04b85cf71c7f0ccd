// The announcement policies on top of the one rule (issue 9), decided here and nowhere else:
// - degraded: a failing `onFailure: "degrade"` check keeps the service announced with its `degraded`
//   attributes (the planner applies them);
// - dampening: every withdraw for failed checks adds 1 to the service's penalty, which halves every
//   `halfLife`; at `suppress` the service stays withdrawn, even while healthy, until the penalty decays below
//   `reuse` or `maxSuppress` has passed (a timer is armed for that instant). Drains and stops add nothing;
// - last resort: a prefix that failed checks or dampening would withdraw is first announced degraded for the
//   drain delay (so hosts that fail at the same instant see each other's degraded routes before deciding),
//   then withdrawn only while some Established peer offers another path to it: one whose next hop is not this
//   host's and that carries none of the service's degraded communities. When the last such path goes, the
//   prefix is announced again, degraded, at once. Drains, stops, missing addresses and a down interface
//   always withdraw.
import Config
import NetAddress
import Reconciler

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A service's flap-dampening penalty.
public struct DampeningState: Sendable, Equatable {
    /// The penalty at `updated`; it halves every half-life from there.
    public var penalty: Double
    public var updated: AgentInstant
    /// When the service was suppressed; nil while it is not.
    public var suppressedSince: AgentInstant?

    public init(penalty: Double, updated: AgentInstant, suppressedSince: AgentInstant? = nil) {
        self.penalty = penalty
        self.updated = updated
        self.suppressedSince = suppressedSince
    }

    /// The penalty decayed to `now`.
    public func penalty(at now: AgentInstant, halfLife: Duration) -> Double {
        let elapsed = max(0, (now - updated).secondsValue)
        return penalty * exp2(-elapsed / max(halfLife.secondsValue, 0.001))
    }

    /// When a suppressed service is announced again: the first whole millisecond at which the penalty is below
    /// `reuse`, or `maxSuppress` after suppression began, whichever comes first. Nil when not suppressed.
    public func reuseAt(_ config: DampeningConfig) -> AgentInstant? {
        guard let since = suppressedSince else { return nil }
        let limit = since + config.maxSuppress
        guard penalty >= config.reuse else { return max(updated, since) }
        let seconds = config.halfLife.secondsValue * log2(penalty / config.reuse)
        guard seconds.isFinite, seconds < limit.secondsValue - updated.secondsValue else { return limit }
        let decayed = updated + .milliseconds(Int64((seconds * 1000).rounded(.up)) + 1)
        return min(decayed, limit)
    }
}

/// What the policies make of one service now: what `anycastd status` and the metrics show.
public struct ServicePolicyState: Sendable, Equatable {
    /// The `degrade` checks that are down.
    public var degradedBy: [String]
    /// The dampening penalty now (0 without dampening).
    public var penalty: Double
    public var suppressed: Bool
    /// When a suppressed service is announced again.
    public var reuseAt: AgentInstant?
    /// The prefixes announced only as the last resort.
    public var lastResort: [IPPrefix]
}

extension AgentCore {
    /// The policies' view of `service` at `now`.
    public func policy(of service: String, now: AgentInstant) -> ServicePolicyState {
        let config = desired?.services.first { $0.name == service }
        let entry = dampening[service]
        let penalty = config?.dampening.flatMap { entry?.penalty(at: now, halfLife: $0.halfLife) } ?? 0
        return ServicePolicyState(
            degradedBy: degradedChecks[service] ?? [], penalty: penalty, suppressed: entry?.suppressedSince != nil,
            reuseAt: config?.dampening.flatMap { entry?.reuseAt($0) },
            lastResort: verdicts.values.filter { $0.service == service && $0.lastResort }.map(\.prefix).sorted())
    }

    // MARK: degraded

    /// Records which degrade checks are down and logs the service's change, once.
    mutating func noteDegradedChecks(_ service: String, _ checks: [String], _ actions: inout [AgentAction]) {
        let before = degradedChecks[service] ?? []
        guard before != checks else { return }
        degradedChecks[service] = checks.isEmpty ? nil : checks
        if checks.isEmpty {
            actions.append(.log(.notice, "\(service): no longer degraded (\(before.joined(separator: ", ")) up)"))
        } else {
            actions.append(.log(.notice, "\(service): degraded (\(checks.joined(separator: ", ")) failing)"))
        }
    }

    /// " degraded (...)" for the log line of an announced prefix, or "" when it is announced normally.
    func degradedCause(_ verdict: PrefixVerdict, state: DesiredState) -> String {
        if verdict.lastResort {
            let cause =
                healthy.contains(verdict.service)
                ? "service \(verdict.service) is suppressed (flap dampening)"
                : "service \(verdict.service) is unhealthy"
            return " degraded as the last resort (\(cause); no other path)"
        }
        guard verdict.degraded else { return "" }
        return " degraded (\((degradedChecks[verdict.service] ?? []).joined(separator: ", ")) failing)"
    }

    // MARK: dampening

    /// A withdraw for failed checks: adds 1 to the penalty (not while drained or stopping) and suppresses the
    /// service when the penalty reaches `suppress`.
    mutating func penalize(_ service: String, now: AgentInstant, _ actions: inout [AgentAction]) {
        guard let config = desired?.services.first(where: { $0.name == service })?.dampening,
            stopStarted == nil, !drains.contains(service), !drains.contains("*")
        else { return }
        var entry = dampening[service] ?? DampeningState(penalty: 0, updated: now)
        entry.penalty = entry.penalty(at: now, halfLife: config.halfLife) + 1
        entry.updated = now
        let wasSuppressed = entry.suppressedSince != nil
        if !wasSuppressed, entry.penalty >= config.suppress {
            entry.suppressedSince = now
        }
        dampening[service] = entry
        guard let reuse = entry.reuseAt(config) else { return }
        let when = "announced again in \(formatWait(reuse - now)) at the latest"
        if wasSuppressed {
            actions.append(
                .log(.info, "\(service): penalty \(formatPenalty(entry.penalty)) while suppressed; \(when)"))
        } else {
            actions.append(
                .log(
                    .notice,
                    "\(service): suppressed by flap dampening (penalty \(formatPenalty(entry.penalty)) reached "
                        + "suppress \(formatNumber(config.suppress))); \(when)"))
        }
        arm(reuse, &actions)
    }

    /// Ends suppressions whose penalty decayed below `reuse` or whose `maxSuppress` passed.
    mutating func reuseSuppressed(now: AgentInstant, _ actions: inout [AgentAction]) {
        guard let state = desired else { return }
        for (service, entry) in dampening.sorted(by: { $0.key < $1.key }) {
            guard let config = state.services.first(where: { $0.name == service })?.dampening else { continue }
            let penalty = entry.penalty(at: now, halfLife: config.halfLife)
            guard let since = entry.suppressedSince else {
                if penalty < 0.001 { dampening[service] = nil }
                continue
            }
            if penalty < config.reuse {
                dampening[service] = DampeningState(penalty: penalty, updated: now)
                actions.append(
                    .log(
                        .notice,
                        "\(service): no longer suppressed (penalty \(formatPenalty(penalty)) decayed below reuse "
                            + "\(formatNumber(config.reuse)))"))
            } else if now >= since + config.maxSuppress {
                // As RFC 2439's ceiling would have it: after maxSuppress the penalty is at most `reuse`.
                dampening[service] = DampeningState(penalty: min(penalty, config.reuse), updated: now)
                actions.append(
                    .log(
                        .notice,
                        "\(service): no longer suppressed (maxSuppress \(formatDuration(config.maxSuppress)) "
                            + "reached; penalty lowered to \(formatNumber(config.reuse)))"))
            } else if let reuse = entry.reuseAt(config), reuse > now {
                arm(reuse, &actions)  // still suppressed: make sure a timer is armed for the reuse instant
            }
        }
    }

    mutating func undampen(_ services: [String], request: RequestID, now: AgentInstant, _ actions: inout [AgentAction])
    {
        guard let state = desired else {
            actions.append(.reply(request, ControlReply(ok: false, message: "no configuration loaded")))
            return
        }
        let known = Set(state.services.map(\.name))
        let unknown = services.filter { !known.contains($0) }
        guard unknown.isEmpty else {
            actions.append(.reply(request, Self.unknownServices(unknown)))
            return
        }
        let names = services.isEmpty ? state.services.map(\.name) : services
        var cleared: [String] = []
        for name in names where dampening[name] != nil {
            dampening[name] = nil
            cleared.append(name)
            actions.append(.log(.notice, "\(name): penalty cleared (anycastd undampen)"))
        }
        evaluate(now: now, &actions)
        let message =
            cleared.isEmpty ? "no penalty to clear" : "penalty cleared: \(cleared.joined(separator: ", "))"
        actions.append(.reply(request, ControlReply(ok: true, message: message)))
    }

    // MARK: recheck

    mutating func recheck(_ services: [String], request: RequestID, _ actions: inout [AgentAction]) {
        guard let state = desired else {
            actions.append(.reply(request, ControlReply(ok: false, message: "no configuration loaded")))
            return
        }
        let known = Set(state.services.map(\.name))
        let unknown = services.filter { !known.contains($0) }
        guard unknown.isEmpty else {
            actions.append(.reply(request, Self.unknownServices(unknown)))
            return
        }
        let names = services.isEmpty ? state.services.map(\.name) : services
        let checked = names.filter { name in state.services.contains { $0.name == name && !$0.checks.isEmpty } }
        guard !checked.isEmpty else {
            actions.append(.reply(request, ControlReply(ok: true, message: "no checks to run")))
            return
        }
        actions.append(.log(.info, "recheck requested: \(checked.joined(separator: ", "))"))
        actions.append(.runChecks(Set(checked)))
        actions.append(
            .reply(
                request,
                ControlReply(
                    ok: true,
                    message: "checks of \(checked.joined(separator: ", ")) run now; results count toward rise/fall")
            ))
    }

    // MARK: last resort

    /// Which last-resort candidates stay announced (degraded), and for the others the path that lets them go.
    mutating func decideLastResort(
        _ verdicts: [PrefixVerdict], state: DesiredState, now: AgentInstant, _ actions: inout [AgentAction]
    ) -> (kept: Set<IPPrefix>, otherPath: [IPPrefix: String]) {
        let services = Dictionary(state.services.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let own = hostAddresses(state)
        var kept: Set<IPPrefix> = []
        var other: [IPPrefix: String] = [:]
        var candidates: [IPPrefix: AgentInstant] = [:]
        for verdict in verdicts where verdict.lastResortCandidate {
            guard let service = services[verdict.service], service.lastResort else { continue }
            let since = lastResortSince[verdict.prefix] ?? now
            candidates[verdict.prefix] = since
            let settled = now >= since + state.drain.delay
            if settled, let via = otherPath(to: verdict.prefix, of: service, own: own) {
                other[verdict.prefix] = via
                continue
            }
            kept.insert(verdict.prefix)
            if !settled { arm(since + state.drain.delay, &actions) }
        }
        lastResortSince = candidates
        return (kept, other)
    }

    /// A path some Established peer offers for `prefix` that is another host's and not degraded, described.
    func otherPath(to prefix: IPPrefix, of service: ServiceConfig, own: Set<IPAddress>) -> String? {
        let communities = Set((service.degraded?.communities ?? []).map(\.value))
        let large = Set(service.degraded?.largeCommunities ?? [])
        for (peer, prefixes) in receivedPaths.sorted(by: { $0.key < $1.key }) where established.contains(peer) {
            for path in prefixes[prefix] ?? [] {
                guard let hop = path.nextHop, !own.contains(hop) else { continue }
                if path.communities.contains(where: communities.contains) { continue }
                if path.largeCommunities.contains(where: large.contains) { continue }
                return "\(hop) from \(peer)"
            }
        }
        return nil
    }

    /// Addresses that are this host's: the router ID, the sessions' local addresses and next hops as
    /// configured, and the anycast prefixes themselves. A path with one of them as next hop is not another
    /// host's.
    func hostAddresses(_ state: DesiredState) -> Set<IPAddress> {
        var own: Set<IPAddress> = [.v4(state.bgp.routerId)]
        for peer in state.bgp.peers {
            if let local = peer.localAddress { own.insert(local) }
            if let v4 = peer.nextHop.ipv4 { own.insert(.v4(v4)) }
            if let v6 = peer.nextHop.ipv6 { own.insert(.v6(v6)) }
        }
        for prefix in state.allPrefixes { own.insert(prefix.address) }
        return own
    }

    /// Forgets policy state of services that left the file or turned a policy off.
    mutating func forgetPolicies(of state: DesiredState) {
        let byName = Dictionary(state.services.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        dampening = dampening.filter { byName[$0.key]?.dampening != nil }
        degradedChecks = degradedChecks.filter { byName[$0.key]?.checks.contains { $0.onFailure == .degrade } == true }
    }
}

/// A wait in whole seconds, rounded up, for log lines: "45s", "1m36s", "2h0m5s".
func formatWait(_ duration: Duration) -> String {
    let total = Int64(duration.secondsValue.rounded(.up))
    let (hours, minutes, seconds) = (total / 3600, total % 3600 / 60, total % 60)
    if hours > 0 { return "\(hours)h\(minutes)m\(seconds)s" }
    return minutes > 0 ? "\(minutes)m\(seconds)s" : "\(seconds)s"
}

/// A penalty with at most two decimals: "3", "2.5", "0.99".
func formatPenalty(_ value: Double) -> String { formatNumber((value * 100).rounded() / 100) }

extension Duration {
    /// Seconds as a Double.
    var secondsValue: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
