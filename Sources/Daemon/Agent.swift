// The agent: one actor owns the desired state (the last valid configuration) and what was observed, and
// turns every input (configuration edits, SIGHUP, netlink events, timers) into a fresh plan for the host.
// Netlink events only ring a doorbell that holds at most one pending ring, so a burst of events (for
// example the echoes of our own 10,000 address adds) costs one extra dump, not one per event.
import Config
import Foundation
import Logging
import NetAddress
import Netlink
import Reconciler

/// Knobs of a running agent that are not part of the desired-state file.
public struct AgentOptions: Sendable {
    public var configPath: String
    /// Full resync interval, a safety net for missed events. Default 30 s.
    public var resyncInterval: Duration

    public init(configPath: String, resyncInterval: Duration = .seconds(30)) {
        self.configPath = configPath
        self.resyncInterval = resyncInterval
    }
}

/// The long-running reconciler.
public actor Agent {
    let options: AgentOptions
    let logger: Logger
    let netlink: NetlinkSocket
    /// The last configuration that parsed and validated; nil before the first one.
    var desired: DesiredState?
    /// Errors of the last load that failed, cleared by the next good one.
    var configErrors: [ConfigDiagnostic] = []
    var store: StateStore?
    /// Addresses anycastd added to an `existing` interface.
    var owned: Set<IPPrefix> = []
    /// Prefixes removed from the configuration that stay on the interface until the drain delay passed.
    var retiring: [IPPrefix: ContinuousClock.Instant] = [:]
    var lastObserved = ObservedHost()
    /// Reconcile requests; buffering the newest one only coalesces bursts.
    let doorbell: AsyncStream<Void>.Continuation
    private let doorbellStream: AsyncStream<Void>
    var lastWarnings: [String] = []
    var stopping = false

    public init(options: AgentOptions, logger: Logger) throws {
        self.options = options
        self.logger = logger
        do {
            self.netlink = try NetlinkSocket()
        } catch {
            throw DaemonError("netlink: \(error)")
        }
        (doorbellStream, doorbell) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    // MARK: configuration

    /// Loads the file; on success it becomes the desired state, on failure the last good one stays.
    @discardableResult
    func loadConfig(reason: String) -> Bool {
        switch ConfigLoader.load(path: options.configPath) {
        case .failure(let error):
            configErrors = error.diagnostics
            for diagnostic in error.diagnostics { logger.error("\(diagnostic)") }
            if desired != nil {
                logger.error("configuration not applied (\(reason)); keeping the last good state")
            }
            return false
        case .success(let state):
            configErrors = []
            let previous = desired
            if previous == state {
                logger.info("configuration unchanged (\(reason))")
                return true
            }
            adopt(state, previous: previous)
            logger.info(
                "configuration loaded (\(reason)): \(state.services.count) services, \(state.allPrefixes.count) prefixes"
            )
            return true
        }
    }

    private func adopt(_ state: DesiredState, previous: DesiredState?) {
        if store?.directory != state.stateDirectory {
            let store = StateStore(directory: state.stateDirectory)
            self.store = store
            owned = store.loadOwnedAddresses()
        }
        if let previous {
            let removed = Set(previous.allPrefixes).subtracting(state.allPrefixes)
            let deadline = ContinuousClock.now + state.drain.delay
            for prefix in removed where isAnnounced(prefix) {
                retiring[prefix] = deadline
                logger.info(
                    "\(prefix): removed from the configuration; withdrawn, address stays for \(state.drain.delay)")
                scheduleReconcile(at: deadline)
            }
            for prefix in state.allPrefixes { retiring[prefix] = nil }
        }
        desired = state
    }

    /// Whether any peer currently has the prefix; removal then waits for the drain delay.
    func isAnnounced(_ prefix: IPPrefix) -> Bool { false }

    func scheduleReconcile(at deadline: ContinuousClock.Instant) {
        let doorbell = self.doorbell
        Task {
            try? await Task.sleep(until: deadline, clock: .continuous)
            doorbell.yield()
        }
    }

    // MARK: interface

    func observe() throws(NetlinkError) -> ObservedHost {
        ObservedHost(
            links: try netlink.links(), addresses: try netlink.addresses(), ipv4ConfAll: try netlink.ipv4ConfAll())
    }

    func currentTarget(_ state: DesiredState) -> InterfaceTarget {
        let now = ContinuousClock.now
        retiring = retiring.filter { $0.value > now }
        return InterfaceTarget(state, draining: Set(retiring.keys), owned: owned)
    }

    /// Observes the host, plans, applies, and logs what changed. Returns false if anything failed.
    @discardableResult
    func reconcileInterface() -> Bool {
        guard let state = desired else { return false }
        let observed: ObservedHost
        do {
            observed = try observe()
        } catch {
            logger.error("cannot read the host's interfaces: \(error)")
            return false
        }
        lastObserved = observed
        let plan = InterfacePlanner.plan(target: currentTarget(state), observed: observed)
        for error in plan.errors { logger.error("\(error)") }
        if plan.warnings != lastWarnings {
            for warning in plan.warnings { logger.warning("\(warning)") }
            lastWarnings = plan.warnings
        }
        guard !plan.operations.isEmpty else { return plan.errors.isEmpty }
        let results = netlink.apply(plan.operations)
        var ok = plan.errors.isEmpty
        for (operation, result) in zip(plan.operations, results) {
            switch result {
            case .success:
                logger.info("\(operation)")
                record(operation, kind: state.interface.kind)
            case .failure(let error):
                logger.error("\(error)")
                ok = false
            }
        }
        if let refreshed = try? observe() { lastObserved = refreshed }
        if !ok { scheduleReconcile(at: .now + .seconds(1)) }
        return ok
    }

    /// Remembers the addresses added to an existing interface, so only those are ever removed.
    private func record(_ operation: NetlinkOperation, kind: InterfaceKind) {
        guard kind == .existing else { return }
        let before = owned
        switch operation {
        case .addAddress(_, let prefix): owned.insert(prefix)
        case .deleteAddress(_, let prefix): owned.remove(prefix)
        default: return
        }
        guard owned != before, let store else { return }
        do { try store.saveOwnedAddresses(owned) } catch { logger.error("\(error)") }
    }

    /// Whether a netlink event concerns the interfaces anycastd manages.
    func isRelevant(_ event: NetlinkEvent) -> Bool {
        guard let state = desired else { return false }
        let names = Set([state.interface.name] + state.interface.uplinks)
        switch event {
        case .overrun: return true
        case .linkChanged(let link): return names.contains(link.name)
        case .linkRemoved(_, let name): return names.contains(name)
        case .addressAdded(let address), .addressRemoved(let address):
            guard let index = lastObserved.link(named: state.interface.name)?.index else { return true }
            return address.interfaceIndex == index
        }
    }

    // MARK: running

    /// Runs until SIGTERM/SIGINT. Returns the process exit status.
    public func run() async -> Int32 {
        guard loadConfig(reason: "start") else {
            logger.critical("no valid configuration at \(options.configPath); not starting")
            return 78
        }
        let monitor: NetlinkMonitor
        let watcher: ConfigWatcher
        do {
            monitor = try NetlinkMonitor()
            watcher = try ConfigWatcher(path: options.configPath)
        } catch {
            logger.critical("\(error)")
            return 1
        }
        reconcileInterface()
        SystemdNotify.send("READY=1\nSTATUS=running")

        let doorbell = self.doorbell
        let events = monitor.events()
        let changes = watcher.changes()
        let interval = options.resyncInterval
        return await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in events where await self.isRelevant(event) {
                    if event == .overrun { self.logger.warning("netlink events lost (ENOBUFS); full resync") }
                    doorbell.yield()
                }
            }
            group.addTask {
                for await _ in changes { await self.loadConfig(reason: "file changed"); doorbell.yield() }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    doorbell.yield()
                }
            }
            if let watchdog = SystemdNotify.watchdogInterval {
                group.addTask {
                    while !Task.isCancelled {
                        SystemdNotify.send("WATCHDOG=1")
                        try? await Task.sleep(for: watchdog)
                    }
                }
            }
            group.addTask {
                for await _ in self.doorbellStream {
                    await self.reconcileInterface()
                }
            }
            for await signal in SignalSource.signals() {
                switch signal {
                case .reload:
                    loadConfig(reason: "SIGHUP")
                    doorbell.yield()
                case .stop:
                    logger.info("stopping")
                    SystemdNotify.send("STOPPING=1")
                    monitor.stop()
                    watcher.stop()
                    group.cancelAll()
                    return 0
                }
            }
            return 0
        }
    }
}
