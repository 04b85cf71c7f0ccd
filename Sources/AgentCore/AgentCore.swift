// The agent's decisions as a value type, as the BGP and BFD state machines are: feed it an event and the
// instant it happened (`handle(_:now:)`), carry out the actions it returns. It owns every fact the agent
// decides on, once: the desired state, what netlink observed, each service's health verdict, drains and
// whether they are on disk, the drain and stop phases, prefixes retiring after removal from the file, the
// sessions that are Established, the routes each peer was given and the verdict of the one rule for each
// prefix. `anycastd status` reads these facts from here. No sockets, no clock, no libmnl: the Agent actor
// (Daemon) is the shell that observes, applies, persists, sleeps until timers and talks to the speaker.
//
// Sequences it implements (README, anycastd(8)):
// - drain: GRACEFUL_SHUTDOWN 65535:0 for the drain delay when enabled (RFC 8326), then withdraw; the
//   control client is answered once the drain is on disk (or told that it is not);
// - stop: the drain sequence for everything, then NOTIFICATION Cease/Administrative Shutdown (RFC 9003) and
//   exit; a second stop exits at once; during the GRACEFUL_SHUTDOWN phase the checks run fast and the first
//   failure withdraws (a service stopped together with the agent stops drawing traffic at once);
// - removal from the file: withdraw, wait the drain delay, only then remove the address;
// - restart (`anycastd restart`, then a stop; or a crash): no withdraw, no Cease, and after the next start
//   End-of-RIB only once every service has its first health verdict (GracefulRestart.swift, RFC 4724).
import Config
import NetAddress
import NetlinkTypes
import Reconciler

/// An instant on the shell's monotonic clock, as a Duration since any fixed origin (as the BGP FSM takes it).
public typealias AgentInstant = Duration

/// The drain state read from disk at start (or when the state directory changes).
public enum RestoredDrains: Sendable, Equatable {
    /// The file was read: these services are drained (`*` is the host); empty when there was no file.
    case drains(Set<String>)
    /// The file exists but cannot be trusted; the host stays drained (fail safe) and status says why.
    case unreadable(String)
}

/// What the state directory held when it was opened.
public struct RestoredState: Sendable, Equatable {
    public var directory: String
    public var drains: RestoredDrains
    /// Addresses anycastd added to an `existing` interface.
    public var owned: Set<IPPrefix>
    /// Lines of the ownership file that were not prefixes, logged and dropped.
    public var ignoredOwned: [String]
    /// The restart marker was there: the agent last left its sessions without draining (a restart or a crash).
    public var restarted: Bool

    public init(
        directory: String, drains: RestoredDrains, owned: Set<IPPrefix> = [], ignoredOwned: [String] = [],
        restarted: Bool = false
    ) {
        self.directory = directory
        self.drains = drains
        self.owned = owned
        self.ignoredOwned = ignoredOwned
        self.restarted = restarted
    }
}

/// What happened to a BGP session, as the speaker and BFD report it.
public enum PeerEvent: Sendable, Equatable {
    /// The session reached Established.
    case established
    /// The session left Established (or never reached it); the reason when known.
    case down(String?)
    /// The peer's BFD session went Down: the BGP session must be reset at once.
    case bfdDown
}

/// Which state file a persistence result is about.
public enum PersistedFile: Sendable, Equatable {
    case drains
    case ownedAddresses
}

/// Whether a state file reached the disk.
public enum PersistResult: Sendable, Equatable {
    case ok
    case failed(String)
}

/// A control request's identity, so its reply can wait for the disk.
public typealias RequestID = UInt64

/// An answer to a control client.
public struct ControlReply: Sendable, Equatable {
    public var ok: Bool
    public var message: String

    public init(ok: Bool, message: String) {
        self.ok = ok
        self.message = message
    }
}

/// Log severity of a decision.
public enum LogLevel: Sendable, Equatable {
    case debug, info, notice, warning, error
}

/// One path a peer offers the host for one of the host's own prefixes (several per prefix with ADD-PATH,
/// RFC 7911): what the last-resort rule needs to tell another host's healthy path from a degraded one.
public struct ReceivedPath: Sendable, Hashable {
    /// The path's next hop (NEXT_HOP, or MP_REACH_NLRI's first next hop); nil when it had none.
    public var nextHop: IPAddress?
    /// AS_PATH flattened (AS_SETs included), first AS first.
    public var asPath: [UInt32]
    public var communities: [UInt32]
    public var largeCommunities: [LargeCommunity]

    public init(
        nextHop: IPAddress?, asPath: [UInt32] = [], communities: [UInt32] = [], largeCommunities: [LargeCommunity] = []
    ) {
        self.nextHop = nextHop
        self.asPath = asPath
        self.communities = communities
        self.largeCommunities = largeCommunities
    }
}

/// Everything that can happen to the agent.
public enum AgentEvent: Sendable, Equatable {
    /// A configuration that parsed and validated; `restored` when its state directory was (re)opened.
    case configurationAdopted(DesiredState, restored: RestoredState?)
    /// What netlink shows now; `repair` plans the interface (a reconcile pass), else only the routes follow.
    case interfaceObserved(ObservedHost, repair: Bool)
    /// The results of the last `applyInterface`, in the same order.
    case interfaceApplied([NetlinkOperation], [NetlinkError?])
    /// A service's checks reached a verdict (after rise/fall); `detail` says what the checks saw. `up` is
    /// whether its `withdraw` checks are all up; `degradedBy` names its `degrade` checks that are down.
    case health(service: String, up: Bool, detail: String, degradedBy: [String] = [])
    case peer(String, PeerEvent)
    /// `anycastd drain` (an empty list is the host).
    case drainRequested([String], request: RequestID)
    /// `anycastd undrain` (an empty list is everything).
    case undrainRequested([String], request: RequestID)
    /// SIGTERM or SIGINT.
    case stopRequested
    case persisted(PersistedFile, PersistResult)
    /// A timer armed by `armTimer` is due.
    case timerFired
    /// Every path `peer` now offers for `prefix` (one of the host's own prefixes); empty when it offers
    /// none, and for each of the peer's prefixes when its session goes down.
    case receivedPaths(peer: String, prefix: IPPrefix, paths: [ReceivedPath])
    /// `anycastd recheck` (an empty list is every service).
    case recheckRequested([String], request: RequestID)
    /// `anycastd undampen` (an empty list is every service).
    case undampenRequested([String], request: RequestID)
    /// A service's checks reached their first verdict without changing its state (down after `fall`
    /// failures); an up verdict arrives as `health` alone.
    case healthVerdict(service: String)
    /// `anycastd restart`: the next stop is a restart (see GracefulRestart.swift).
    case restartRequested(request: RequestID)
}

/// Everything the shell carries out for the core.
public enum AgentAction: Sendable, Equatable {
    /// Apply these netlink operations in one batch, then feed `interfaceApplied` and a fresh observation.
    case applyInterface([NetlinkOperation])
    /// Observe the host and feed `interfaceObserved(_, repair: true)`.
    case observe
    /// The complete set of routes each configured peer should have now (only differences reach the wire).
    case setRoutes([String: [IPPrefix: Announcement]])
    /// Write the drained services (`*` is the host), then feed `persisted(.drains, _)`.
    case persistDrains(Set<String>)
    /// Write the addresses owned on an `existing` interface, then feed `persisted(.ownedAddresses, _)`.
    case persistOwnedAddresses(Set<IPPrefix>)
    /// Feed `timerFired` at this instant.
    case armTimer(at: AgentInstant)
    case log(LogLevel, String)
    case reply(RequestID, ControlReply)
    /// Run these services' checks now (`anycastd recheck`); the verdicts arrive as `health` events.
    case runChecks(Set<String>)
    /// A stop began with a GRACEFUL_SHUTDOWN phase: run every check now, then at its fastInterval (10 ms
    /// without one), and take a check down at its first failure. A service stopped together with the agent
    /// is then withdrawn at once instead of drawing traffic for the rest of the phase.
    case checkClosely
    /// Reset the BGP session with this peer (BFD saw the path fail).
    case resetSession(peer: String, reason: String)
    /// Send NOTIFICATION Cease/Administrative Shutdown with this message to every peer and close.
    case shutdownSessions(message: String)
    case exit(Int32)
    /// Graceful Restart: send the End-of-RIB markers held back and clear the R bit (the restart is over).
    case finishRestart
    /// A restart: leave the sessions to the routers (no withdraw, no Cease; BFD AdminDown), then `exit`.
    case handOverSessions
    /// Write (true) or remove (false) the restart marker in the state directory; failures are logged only.
    case saveRestartMarker(Bool)
}

/// Where a drain or stop stands, for status.
public enum DrainPersistence: Sendable, Equatable {
    /// The drains in memory are the ones on disk.
    case persisted
    /// The last write failed: the drains are in effect but a restart would lose them.
    case notPersisted(String)
    /// The drain file could not be read at start; the host is drained until `anycastd undrain`.
    case unreadable(String)
}

/// The agent's decisions; see the file header.
public struct AgentCore: Sendable {
    /// The link kind created for `interface.kind` "dummy" (tests on kernels without dummy use "ifb").
    public var linkKind: String
    /// The last configuration adopted; nil before the first one.
    public private(set) var desired: DesiredState?
    /// The state directory whose files were restored.
    public private(set) var stateDirectory: String?
    public private(set) var observed = ObservedHost()
    /// Services whose checks are all up (after rise/fall); a service without checks is healthy.
    public private(set) var healthy: Set<String> = []
    /// Drained services; `*` is the whole host.
    public private(set) var drains: Set<String> = []
    /// When each drain began in this process; a drain restored from disk has none (withdrawn from the start).
    public private(set) var drainStarted: [String: AgentInstant] = [:]
    public private(set) var drainPersistence = DrainPersistence.persisted
    /// When the graceful stop began.
    public internal(set) var stopStarted: AgentInstant?
    /// Prefixes removed from the file that stay on the interface until this instant.
    public private(set) var retiring: [IPPrefix: AgentInstant] = [:]
    /// Addresses anycastd added to an `existing` interface (only those are ever removed).
    public private(set) var owned: Set<IPPrefix> = []
    /// Peers whose sessions are Established.
    public private(set) var established: Set<String> = []
    /// The paths each peer offers for the host's own prefixes (`receivedPaths` events).
    public private(set) var receivedPaths: [String: [IPPrefix: [ReceivedPath]]] = [:]
    /// What each peer was last told to have.
    public private(set) var routes: [String: [IPPrefix: Announcement]] = [:]
    /// The rule's verdict for each prefix at the last evaluation.
    public private(set) var verdicts: [IPPrefix: PrefixVerdict] = [:]
    /// Instants at which a timer is armed.
    public private(set) var timers: Set<AgentInstant> = []
    /// Interface warnings and errors last logged, so each is logged once until it changes.
    public private(set) var interfaceProblems: [String] = []
    /// The `degrade` checks that are down, per service (only services with some).
    public internal(set) var degradedChecks: [String: [String]] = [:]
    /// Flap dampening per service with a penalty (only services whose `dampening` is on).
    public internal(set) var dampening: [String: DampeningState] = [:]
    /// When each prefix became a last-resort candidate (withdrawn for failed checks or dampening).
    public internal(set) var lastResortSince: [IPPrefix: AgentInstant] = [:]
    /// Whether the stop sequence finished (Cease sent, exit requested).
    public internal(set) var stopped = false
    /// Graceful Restart of the agent itself (GracefulRestart.swift).
    public internal(set) var restart = RestartState()
    /// Control replies waiting for the drain file to reach the disk.
    private var pendingReplies: [(RequestID, String)] = []
    /// When drains that could not be saved were last written again (a full disk may have room now).
    private var lastDrainRetry: AgentInstant?
    /// Each peer group's count of Established peers and of peers when it was last logged (PeerGroups.swift).
    var groupCountsLogged: [String: [Int]] = [:]

    public init(linkKind: String = "dummy") { self.linkKind = linkKind }

    // MARK: one event

    /// Handles one event at `now` and returns what the shell must do, in order.
    public mutating func handle(_ event: AgentEvent, now: AgentInstant) -> [AgentAction] {
        var actions = handleEvent(event, now: now)
        restartStep(after: event, now: now, &actions)
        return actions
    }

    private mutating func handleEvent(_ event: AgentEvent, now: AgentInstant) -> [AgentAction] {
        var actions: [AgentAction] = []
        timers = timers.filter { $0 > now }
        switch event {
        case .configurationAdopted(let state, let restored):
            adopt(state, restored: restored, now: now, &actions)
            actions.append(.observe)
        case .interfaceObserved(let host, let repair):
            observed = host
            if repair { retryUnsavedDrains(now: now, &actions) }
            if repair, let plan = planInterface(now: now, &actions), !plan.operations.isEmpty {
                actions.append(.applyInterface(plan.operations))
                return actions  // the routes follow the observation made after applying
            }
            evaluate(now: now, &actions)
        case .interfaceApplied(let operations, let errors):
            applied(operations, errors, now: now, &actions)
        case .health(let service, let up, let detail, let degradedBy):
            let was = healthy.contains(service)
            if up { healthy.insert(service) } else { healthy.remove(service) }
            if was != up {
                actions.append(
                    .log(.notice, "\(service): \(up ? "healthy" : "unhealthy")\(detail.isEmpty ? "" : " (\(detail))")"))
            }
            if was, !up { penalize(service, now: now, &actions) }
            noteDegradedChecks(service, degradedBy, &actions)
            evaluate(now: now, &actions)
        case .peer(let peer, let event):
            switch event {
            case .established: established.insert(peer)
            case .down: established.remove(peer)
            case .bfdDown:
                established.remove(peer)
                actions.append(.log(.warning, "peer \(peer): BFD Down; resetting the BGP session"))
                actions.append(.resetSession(peer: peer, reason: "BFD Down"))
            }
            logPeerGroupChanges(&actions)
            evaluate(now: now, &actions)
        case .drainRequested(let services, let request):
            drain(services, request: request, now: now, &actions)
        case .undrainRequested(let services, let request):
            undrain(services, request: request, now: now, &actions)
        case .stopRequested:
            if !restartStop(now: now, &actions) { stop(now: now, &actions) }
        case .persisted(let file, let result):
            persisted(file, result, &actions)
        case .timerFired:
            if stopStarted != nil, !stopped { finishStopIfDue(now: now, &actions) }
            if !stopped { actions.append(.observe) }
        case .receivedPaths(let peer, let prefix, let paths):
            receivedPaths[peer, default: [:]][prefix] = paths.isEmpty ? nil : paths
            if receivedPaths[peer]?.isEmpty == true { receivedPaths[peer] = nil }
            if lastResortSince[prefix] != nil { evaluate(now: now, &actions) }
        case .recheckRequested(let services, let request):
            recheck(services, request: request, &actions)
        case .undampenRequested(let services, let request):
            undampen(services, request: request, now: now, &actions)
        case .healthVerdict: break  // restartStep records it
        case .restartRequested(let request):
            requestRestart(request: request, now: now, &actions)
        }
        return actions
    }

    // MARK: configuration

    private mutating func adopt(
        _ state: DesiredState, restored: RestoredState?, now: AgentInstant, _ actions: inout [AgentAction]
    ) {
        if let restored {
            stateDirectory = restored.directory
            owned = restored.owned
            for line in restored.ignoredOwned {
                actions.append(.log(.warning, "\(restored.directory)/owned-addresses: ignored line \"\(line)\""))
            }
            switch restored.drains {
            case .drains(let set):
                drains = set
                drainPersistence = .persisted
                for drain in set.sorted() {
                    actions.append(
                        .log(.notice, "\(drain == "*" ? "host" : drain): drained (kept from before the restart)"))
                }
            case .unreadable(let reason):
                drains = ["*"]
                drainPersistence = .unreadable(reason)
                actions.append(
                    .log(
                        .error,
                        "drain state unreadable: \(reason); the host stays drained to be safe until `anycastd undrain`"
                    ))
            }
            drainStarted = [:]
        }
        if let previous = desired {
            let removed = Set(previous.allPrefixes).subtracting(state.allPrefixes)
            let deadline = now + state.drain.delay
            for prefix in removed.sorted() where !peersAnnouncing(prefix).isEmpty {
                retiring[prefix] = deadline
                actions.append(
                    .log(
                        .info,
                        "\(prefix): removed from the configuration; withdrawn, address removed in \(formatDuration(state.drain.delay))"
                    ))
                arm(deadline, &actions)
            }
            for prefix in state.allPrefixes { retiring[prefix] = nil }
            let peers = Set(state.bgp.peers.map(\.name))
            established = established.intersection(peers)
        }
        desired = state
        logPeerGroupChanges(&actions)
        for service in state.services where service.checks.isEmpty { healthy.insert(service.name) }
        forgetPolicies(of: state)
    }

    // MARK: interface

    /// The interface target now: the file's prefixes plus those still retiring, and what anycastd owns.
    public func interfaceTarget(now: AgentInstant) -> InterfaceTarget? {
        guard let state = desired else { return nil }
        let draining = Set(retiring.filter { $0.value > now }.keys)
        var target = InterfaceTarget(state, draining: draining, owned: owned)
        target.linkKind = linkKind
        return target
    }

    /// The interface plan for the last observation (also what `reconcile --dry-run` prints).
    public func interfacePlan(now: AgentInstant) -> InterfacePlan? {
        interfaceTarget(now: now).map { InterfacePlanner.plan(target: $0, observed: observed) }
    }

    private mutating func planInterface(now: AgentInstant, _ actions: inout [AgentAction]) -> InterfacePlan? {
        retiring = retiring.filter { $0.value > now }
        guard let plan = interfacePlan(now: now) else { return nil }
        if plan.warnings + plan.errors != interfaceProblems {
            for error in plan.errors { actions.append(.log(.error, error)) }
            for warning in plan.warnings { actions.append(.log(.warning, warning)) }
            interfaceProblems = plan.warnings + plan.errors
        }
        return plan
    }

    private mutating func applied(
        _ operations: [NetlinkOperation], _ errors: [NetlinkError?], now: AgentInstant, _ actions: inout [AgentAction]
    ) {
        let before = owned
        var failed = false
        for (operation, error) in zip(operations, errors) {
            if let error {
                actions.append(.log(.error, error.description))
                failed = true
                continue
            }
            actions.append(.log(.info, operation.description))
            guard desired?.interface.kind == .existing else { continue }
            switch operation {
            case .addAddress(_, let prefix) where prefix.isRemovableHostPrefix: owned.insert(prefix)
            case .deleteAddress(_, let prefix): owned.remove(prefix)
            default: break
            }
        }
        if owned != before { actions.append(.persistOwnedAddresses(owned)) }
        if failed { arm(now + .seconds(1), &actions) }
    }

    // MARK: the rule

    /// Drain or stop phase of each service at `now`: GRACEFUL_SHUTDOWN for the drain delay (when enabled),
    /// then withdrawn. A drain restored from disk is withdrawn from the start.
    public func phases(now: AgentInstant) -> [String: ServicePhase] {
        guard let state = desired else { return [:] }
        var phases: [String: ServicePhase] = [:]
        for service in state.services {
            let started: AgentInstant?
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

    /// The Established peers that were last handed `prefix` (any prefix when nil), sorted.
    public func peersAnnouncing(_ prefix: IPPrefix?) -> [String] {
        routes.filter { peer, routes in
            established.contains(peer) && (prefix.map { routes[$0] != nil } ?? !routes.isEmpty)
        }.keys.sorted()
    }

    /// Evaluates the rule once for every prefix; logs changed verdicts, hands changed routes to the speaker.
    mutating func evaluate(now: AgentInstant, _ actions: inout [AgentAction]) {
        guard let state = desired else { return }
        let link = observed.link(named: state.interface.name)
        reuseSuppressed(now: now, &actions)
        var inputs = AnnouncementInputs(
            state: state, interfaceUp: link?.isUp ?? false,
            presentPrefixes: observed.prefixes(on: state.interface.name), healthyServices: healthy,
            phases: phases(now: now), degradedServices: Set(degradedChecks.keys),
            suppressedServices: Set(dampening.filter { $0.value.suppressedSince != nil }.keys))
        var list = AnnouncementPlanner.verdicts(inputs)
        let lastResort = decideLastResort(list, state: state, now: now, &actions)
        if !lastResort.kept.isEmpty {
            inputs.lastResort = lastResort.kept
            list = AnnouncementPlanner.verdicts(inputs)
        }
        for index in list.indices {
            if let reason = list[index].blockedBy, let via = lastResort.otherPath[list[index].prefix] {
                list[index].blockedBy = "\(reason); another path via \(via)"
            }
        }
        let next = Dictionary(list.map { ($0.prefix, $0) }, uniquingKeysWith: { first, _ in first })
        for (prefix, verdict) in next.sorted(by: { $0.key < $1.key }) where verdicts[prefix] != verdict {
            if let reason = verdict.blockedBy {
                actions.append(
                    .log(.info, "\(prefix): \(verdicts[prefix] == nil ? "not announced" : "withdrawn") (\(reason))"))
            } else {
                let how = verdict.gracefulShutdown ? " with GRACEFUL_SHUTDOWN" : ""
                actions.append(.log(.info, "\(prefix): announced\(how)\(degradedCause(verdict, state: state))"))
            }
        }
        verdicts = next
        let planned = AnnouncementPlanner.plan(inputs, verdicts: list)
        guard planned != routes else { return }
        routes = planned
        actions.append(.setRoutes(planned))
    }

    // MARK: drains

    private mutating func drain(
        _ services: [String], request: RequestID, now: AgentInstant, _ actions: inout [AgentAction]
    ) {
        guard let state = desired else {
            actions.append(.reply(request, ControlReply(ok: false, message: "no configuration loaded")))
            return
        }
        let names = services.isEmpty ? ["*"] : services
        let known = Set(state.services.map(\.name))
        let unknown = names.filter { $0 != "*" && !known.contains($0) }
        guard unknown.isEmpty else {
            actions.append(.reply(request, Self.unknownServices(unknown)))
            return
        }
        for name in names where !drains.contains(name) {
            drains.insert(name)
            drainStarted[name] = now
            actions.append(.log(.notice, "\(name == "*" ? "host" : name): drain requested"))
        }
        arm(now + state.drain.delay, &actions)
        evaluate(now: now, &actions)
        let how =
            state.drain.gracefulShutdown
            ? "announced with GRACEFUL_SHUTDOWN now, withdrawn in \(formatDuration(state.drain.delay))"
            : "withdrawn now"
        let what = services.isEmpty ? "host" : services.joined(separator: ", ")
        pendingReplies.append((request, "draining \(what): \(how)"))
        actions.append(.persistDrains(drains))
    }

    /// The answer to names that are not services: at most ten, escaped, so a client cannot flood or forge.
    static func unknownServices(_ names: [String]) -> ControlReply {
        let shown = names.prefix(10).map(\.escapedForLog).joined(separator: ", ")
        let more = names.count > 10 ? " and \(names.count - 10) more" : ""
        return ControlReply(ok: false, message: "unknown service: \(shown)\(more)")
    }

    private mutating func undrain(
        _ services: [String], request: RequestID, now: AgentInstant, _ actions: inout [AgentAction]
    ) {
        // Like drain, names must be services (configured, or still drained from before): an unknown name is an
        // error, not a log line.
        let known = Set((desired?.services ?? []).map(\.name)).union(drains)
        let unknown = services.filter { $0 != "*" && !known.contains($0) }
        guard unknown.isEmpty else {
            actions.append(.reply(request, Self.unknownServices(unknown)))
            return
        }
        let names = services.isEmpty ? drains : Set(services)
        let notDrained = names.subtracting(drains)
        for name in names.sorted() where drains.contains(name) {
            drains.remove(name)
            drainStarted[name] = nil
            actions.append(.log(.notice, "\(name == "*" ? "host" : name): undrained"))
        }
        evaluate(now: now, &actions)
        let message =
            !services.isEmpty && !notDrained.isEmpty
            ? "not drained: \(notDrained.sorted().joined(separator: ", "))"
            : "undrained \(services.isEmpty ? "everything" : services.joined(separator: ", "))"
        pendingReplies.append((request, message))
        actions.append(.persistDrains(drains))
    }

    /// Writes drains that could not be saved again, at most every 10 s, at a reconcile pass.
    private mutating func retryUnsavedDrains(now: AgentInstant, _ actions: inout [AgentAction]) {
        guard case .notPersisted = drainPersistence else { return }
        if let last = lastDrainRetry, now < last + .seconds(10) { return }
        lastDrainRetry = now
        actions.append(.persistDrains(drains))
    }

    private mutating func persisted(_ file: PersistedFile, _ result: PersistResult, _ actions: inout [AgentAction]) {
        switch (file, result) {
        case (.ownedAddresses, .ok): break
        case (.ownedAddresses, .failed(let reason)):
            actions.append(.log(.error, "cannot save the owned addresses: \(reason)"))
        case (.drains, .ok):
            drainPersistence = .persisted
            for (request, message) in pendingReplies {
                actions.append(.reply(request, ControlReply(ok: true, message: message)))
            }
            pendingReplies = []
        case (.drains, .failed(let reason)):
            if drainPersistence != .notPersisted(reason) || !pendingReplies.isEmpty {
                actions.append(.log(.error, "drain state not saved (\(reason)); in effect until the agent restarts"))
            }
            drainPersistence = .notPersisted(reason)
            for (request, message) in pendingReplies {
                actions.append(
                    .reply(
                        request,
                        ControlReply(
                            ok: false,
                            message: "\(message); but NOT persisted (\(reason)): a restart would forget it")))
            }
            pendingReplies = []
        }
    }

    // MARK: stop

    private mutating func stop(now: AgentInstant, _ actions: inout [AgentAction]) {
        if stopStarted != nil {
            actions.append(.log(.warning, "second stop signal: exiting at once"))
            stopped = true
            actions.append(.exit(0))
            return
        }
        let announced = !peersAnnouncing(nil).isEmpty
        stopStarted = now
        let delay = desired?.drain.delay ?? .zero
        guard announced else {
            actions.append(.log(.notice, "stopping: nothing announced"))
            evaluate(now: now, &actions)
            finishStop(&actions)
            return
        }
        let graceful = desired?.drain.gracefulShutdown == true && delay > .zero
        actions.append(
            .log(
                .notice,
                graceful
                    ? "stopping: GRACEFUL_SHUTDOWN now, withdrawing \(formatDuration(delay)); a service whose check fails before then is withdrawn at once"
                    : "stopping: withdrawing now, waiting \(formatDuration(delay))"
            ))
        if graceful { actions.append(.checkClosely) }
        evaluate(now: now, &actions)
        arm(now + delay, &actions)
    }

    private mutating func finishStopIfDue(now: AgentInstant, _ actions: inout [AgentAction]) {
        guard let started = stopStarted, now >= started + (desired?.drain.delay ?? .zero) else {
            evaluate(now: now, &actions)
            return
        }
        evaluate(now: now, &actions)
        finishStop(&actions)
    }

    private mutating func finishStop(_ actions: inout [AgentAction]) {
        stopped = true
        actions.append(.shutdownSessions(message: "anycastd stopping"))
        actions.append(.saveRestartMarker(false))
        actions.append(.log(.notice, "stopped"))
        actions.append(.exit(0))
    }

    // MARK: timers

    mutating func arm(_ instant: AgentInstant, _ actions: inout [AgentAction]) {
        guard timers.insert(instant).inserted else { return }
        actions.append(.armTimer(at: instant))
    }
}
