// Graceful Restart of the agent itself (RFC 4724), the restarting side, as the core decides it:
// - which stops are restarts: after `anycastd restart` the next stop (within `RestartState.intentLifetime`)
//   leaves the sessions to the routers: no withdraw, no Cease; the routers that negotiated Graceful Restart
//   keep the routes, stale, for the restart time. A crash is a restart by nature. Every other stop drains.
// - the restart marker in the state directory: written at start, removed only by a stop that drained, so
//   the next start knows it follows a restart or a crash (the R bit of the capability);
// - the deferral (§4.1): End-of-RIB goes to Graceful Restart peers only once every service has its first
//   health verdict and the interface was observed, so the routes the router holds stale are replaced (or,
//   for a service that came back unhealthy, flushed by the End-of-RIB), never flushed before they are
//   known; at the latest at the shortest restart time minus a margin after the start.
import Config

/// Graceful Restart facts of this run of the agent.
public struct RestartState: Sendable, Equatable {
    /// How long `anycastd restart` makes the next stop a restart: long enough for a package upgrade
    /// (prerm, unpacking, postinst), short enough that a stop hours later drains as it should.
    public static let intentLifetime = Duration.seconds(600)

    /// The restart marker was in the state directory at start (the R bit is set until `finished`).
    public var restarted = false
    /// When the first configuration was adopted; the End-of-RIB deadline counts from here.
    public var startedAt: AgentInstant?
    /// Services whose checks reached a first verdict (up, or down after `fall` failures).
    public var verdictsKnown: Set<String> = []
    /// An observation of the interface was handled that needed no repair first.
    public var interfaceObserved = false
    /// End-of-RIB went to the Graceful Restart peers (and to every later session at once).
    public var finished = false
    /// When `anycastd restart` asked for the next stop to be a restart.
    public var requestedAt: AgentInstant?

    public init() {}

    /// Whether the next stop at `now` is a restart.
    public func stopIsRestart(now: AgentInstant) -> Bool {
        requestedAt.map { now < $0 + Self.intentLifetime } ?? false
    }

    /// The End-of-RIB deadline for a restart time: that time minus a margin (a quarter, at most 10 s), so
    /// End-of-RIB reaches the router before it gives up on the stale routes itself.
    public static func deferral(restartTime: Duration) -> Duration {
        restartTime - min(.seconds(10), restartTime / 4)
    }
}

extension AgentCore {
    /// The Graceful Restart part of every event: records first verdicts, the start and the marker, and
    /// sends End-of-RIB once it is due. Runs after the event's own actions, so the routes precede it.
    mutating func restartStep(after event: AgentEvent, now: AgentInstant, _ actions: inout [AgentAction]) {
        switch event {
        case .configurationAdopted(let state, let restored):
            for service in state.services where service.checks.isEmpty { restart.verdictsKnown.insert(service.name) }
            if restart.startedAt == nil, let restored {
                restart.startedAt = now
                restart.restarted = restored.restarted
                actions.append(.saveRestartMarker(true))
                if restored.restarted {
                    actions.append(
                        .log(
                            .notice,
                            "restarted after leaving the sessions to the routers (restart marker in "
                                + "\(restored.directory)): Graceful Restart peers get End-of-RIB after the first "
                                + "health verdicts"))
                }
            }
        case .health(let service, let up, _, _) where up:
            restart.verdictsKnown.insert(service)
        case .healthVerdict(let service):
            restart.verdictsKnown.insert(service)
        case .interfaceObserved:
            if !actions.contains(where: { if case .applyInterface = $0 { true } else { false } }) {
                restart.interfaceObserved = true
            }
        default:
            break
        }
        finishRestartIfDue(now: now, &actions)
    }

    /// What `anycastd status` says about Graceful Restart now; nil when there is nothing to say.
    public func restartStatus(now: AgentInstant) -> String? {
        var parts: [String] = []
        if restart.startedAt != nil, !restart.finished {
            let waiting = servicesAwaitingVerdict
            parts.append(
                "End-of-RIB held until "
                    + (waiting.isEmpty
                        ? "the interface is observed"
                        : "the first verdicts of "
                            + waiting.joined(separator: ", ")))
        }
        if let requested = restart.requestedAt, restart.stopIsRestart(now: now) {
            let left = Duration.seconds((requested + RestartState.intentLifetime - now).components.seconds)
            parts.append("the next stop is a restart (anycastd restart; \(formatDuration(left)) left)")
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    /// The services still without a first verdict, sorted.
    public var servicesAwaitingVerdict: [String] {
        (desired?.services ?? []).map(\.name).filter { !restart.verdictsKnown.contains($0) }.sorted()
    }

    private mutating func finishRestartIfDue(now: AgentInstant, _ actions: inout [AgentAction]) {
        guard !restart.finished, !stopped, let state = desired, let started = restart.startedAt else { return }
        // An observation or a repair is under way: the routes it leads to must go out first.
        if actions.contains(where: {
            if case .observe = $0 { true } else if case .applyInterface = $0 { true } else { false }
        }) {
            return
        }
        let times = state.bgp.peers.compactMap { state.bgp.gracefulRestart(for: $0)?.restartTime }
        guard let shortest = times.min() else {
            finishRestart(nil, &actions)
            return
        }
        let waiting = servicesAwaitingVerdict
        if restart.interfaceObserved, waiting.isEmpty {
            finishRestart("every service has its first health verdict", &actions)
            return
        }
        let deadline = started + RestartState.deferral(restartTime: shortest)
        if now >= deadline {
            let what = waiting.isEmpty ? "the interface" : waiting.joined(separator: ", ")
            let after = formatDuration(RestartState.deferral(restartTime: shortest))
            finishRestart(
                "no verdict yet for \(what) \(after) after the start (restartTime \(formatDuration(shortest)) minus "
                    + "a margin)", &actions)
            return
        }
        arm(deadline, &actions)
    }

    private mutating func finishRestart(_ reason: String?, _ actions: inout [AgentAction]) {
        restart.finished = true
        if let reason { actions.append(.log(.notice, "Graceful Restart: End-of-RIB to the routers (\(reason))")) }
        actions.append(.finishRestart)
    }

    /// `anycastd restart`: refused without a Graceful Restart peer (the stop would withdraw at once, which is
    /// worse than a drain) and while stopping; otherwise the next stop within the intent's lifetime is a restart.
    mutating func requestRestart(request: RequestID, now: AgentInstant, _ actions: inout [AgentAction]) {
        guard let state = desired else {
            actions.append(.reply(request, ControlReply(ok: false, message: "no configuration loaded")))
            return
        }
        guard stopStarted == nil else {
            actions.append(.reply(request, ControlReply(ok: false, message: "already stopping")))
            return
        }
        let peers = state.bgp.peers.filter { state.bgp.gracefulRestart(for: $0) != nil }.map(\.name)
        guard !peers.isEmpty else {
            actions.append(
                .reply(
                    request,
                    ControlReply(
                        ok: false,
                        message: "no peer has Graceful Restart (bgp.gracefulRestart): the routers would withdraw at "
                            + "once; the next stop drains as usual")))
            return
        }
        restart.requestedAt = now
        let others = state.bgp.peers.map(\.name).filter { !peers.contains($0) }
        var message =
            "the next stop within \(formatDuration(RestartState.intentLifetime)) is a restart: routes stay at "
            + peers.joined(separator: ", ") + " (Graceful Restart)"
        if !others.isEmpty {
            message += "; \(others.joined(separator: ", ")) without Graceful Restart withdraw when the sessions close"
        }
        actions.append(.log(.notice, "restart requested: \(message)"))
        actions.append(.reply(request, ControlReply(ok: true, message: message)))
    }

    /// A stop after `anycastd restart`: exit at once, leaving the routes to the routers. False when this stop
    /// is not a restart (then it drains).
    mutating func restartStop(now: AgentInstant, _ actions: inout [AgentAction]) -> Bool {
        guard stopStarted == nil, restart.stopIsRestart(now: now) else { return false }
        stopStarted = now
        stopped = true
        actions.append(
            .log(
                .notice, "stopping for a restart: routes left to the routers (Graceful Restart), no withdraw, no Cease")
        )
        actions.append(.handOverSessions)
        actions.append(.exit(0))
        return true
    }
}
