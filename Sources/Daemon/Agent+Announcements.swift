// The announcement side of the agent: drain and stop phases derived from when they began, the one rule
// evaluated by AnnouncementPlanner, one log line per prefix whose verdict changed, and the routes handed
// to the announcer (which sends only differences).
import Config
import NetAddress
import Reconciler

extension Agent {
    /// Drain or stop phase of each service now: GRACEFUL_SHUTDOWN for the drain delay (when enabled), then
    /// withdrawn. A drain restored from disk is withdrawn from the start.
    func phases(_ state: DesiredState, now: ContinuousClock.Instant = .now) -> [String: ServicePhase] {
        var phases: [String: ServicePhase] = [:]
        for service in state.services {
            let started: ContinuousClock.Instant?
            if let stopStarted {
                started = stopStarted
            } else if drains.contains(service.name) || drains.contains("*") {
                started = [drainStarted[service.name], drainStarted["*"]].compactMap { $0 }.max()
            } else {
                continue
            }
            if state.drain.gracefulShutdown, let started, now < started + state.drain.delay {
                phases[service.name] = .gracefulShutdown
            } else {
                phases[service.name] = .withdrawn
            }
        }
        return phases
    }

    /// The established peers that were last handed `prefix` (all prefixes when nil), sorted.
    func peersAnnouncing(_ prefix: IPPrefix?, established: Set<String>) -> [String] {
        lastRoutes.filter { peer, routes in
            established.contains(peer) && (prefix.map { routes[$0] != nil } ?? !routes.isEmpty)
        }.keys.sorted()
    }

    /// Evaluates the rule for every prefix and hands the result to the announcer.
    func updateAnnouncements() async {
        guard let state = desired else { return }
        let link = lastObserved.link(named: state.interface.name)
        let inputs = AnnouncementInputs(
            state: state, interfaceUp: link?.isUp ?? false,
            presentPrefixes: lastObserved.prefixes(on: state.interface.name),
            healthyServices: healthy, phases: phases(state))
        let verdicts = Dictionary(
            AnnouncementPlanner.verdicts(inputs).map { ($0.prefix, $0) }, uniquingKeysWith: { first, _ in first })
        for (prefix, verdict) in verdicts.sorted(by: { $0.key < $1.key }) where lastVerdicts[prefix] != verdict {
            if let reason = verdict.blockedBy {
                logger.info("\(prefix): \(lastVerdicts[prefix] == nil ? "not announced" : "withdrawn") (\(reason))")
            } else {
                logger.info("\(prefix): announced\(verdict.gracefulShutdown ? " with GRACEFUL_SHUTDOWN" : "")")
            }
        }
        lastVerdicts = verdicts
        let routes = AnnouncementPlanner.plan(inputs)
        guard routes != lastRoutes else { return }
        lastRoutes = routes
        await announcer.announce(routes)
    }

    /// Starts draining services (all when empty: the host) and persists it.
    func drain(_ services: [String]) async -> ControlResponse {
        guard let state = desired else { return ControlResponse(ok: false, message: "no configuration loaded") }
        let names = services.isEmpty ? ["*"] : services
        let known = Set(state.services.map(\.name))
        let unknown = names.filter { $0 != "*" && !known.contains($0) }
        guard unknown.isEmpty else {
            return .unknownServices(unknown)
        }
        let now = ContinuousClock.now
        for name in names where !drains.contains(name) {
            drains.insert(name)
            drainStarted[name] = now
            logger.notice("\(name == "*" ? "host" : name): drain requested")
        }
        saveDrains()
        scheduleWakeUp(at: now + state.drain.delay)
        await updateAnnouncements()
        let how =
            state.drain.gracefulShutdown
            ? "announced with GRACEFUL_SHUTDOWN now, withdrawn in \(formatDuration(state.drain.delay))"
            : "withdrawn now"
        let what = services.isEmpty ? "host" : services.joined(separator: ", ")
        return ControlResponse(ok: true, message: "draining \(what): \(how)")
    }

    /// Ends drains (all of them when empty) and persists it.
    func undrain(_ services: [String]) async -> ControlResponse {
        // Like drain, names must be services (configured, or still drained from before): an unknown name is
        // an error, not a log line.
        let known = Set((desired?.services ?? []).map(\.name)).union(drains)
        let unknown = services.filter { $0 != "*" && !known.contains($0) }
        guard unknown.isEmpty else {
            return .unknownServices(unknown)
        }
        let names = services.isEmpty ? drains : Set(services)
        let notDrained = names.subtracting(drains)
        for name in names {
            drains.remove(name)
            drainStarted[name] = nil
            logger.notice("\(name == "*" ? "host" : name): undrained")
        }
        saveDrains()
        await updateAnnouncements()
        if !services.isEmpty, !notDrained.isEmpty {
            return ControlResponse(ok: true, message: "not drained: \(notDrained.sorted().joined(separator: ", "))")
        }
        return ControlResponse(
            ok: true, message: "undrained \(services.isEmpty ? "everything" : services.joined(separator: ", "))")
    }

    private func saveDrains() {
        guard let store else { return }
        do { try store.saveDrains(drains) } catch { logger.error("\(error)") }
    }
}
