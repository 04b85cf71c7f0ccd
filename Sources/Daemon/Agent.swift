// The agent: one actor owns the desired state (the last valid configuration), what netlink observed,
// service health, drains and what each peer was given, and turns every input (configuration edits,
// SIGHUP, netlink events, health changes, control commands, timers) into a fresh plan at once.
// Netlink events only ring a doorbell that holds at most one pending ring, so a burst of events (for
// example the echoes of our own 10,000 address adds) costs one extra dump, not one per event.
import Config
import FoundationEssentials
import Health
import Logging
import NetAddress
import Netlink
import Reconciler

#if canImport(Glibc)
    import Glibc
#endif

/// Knobs of a running agent that are not part of the desired-state file.
public struct AgentOptions: Sendable {
    public var configPath: String
    /// Full resync interval, a safety net for missed events. Default 30 s.
    public var resyncInterval: Duration
    /// The link kind created for `interface.kind` "dummy"; tests on kernels without dummy use "ifb".
    public var linkKind: String

    public init(configPath: String, resyncInterval: Duration = .seconds(30), linkKind: String = "dummy") {
        self.configPath = configPath
        self.resyncInterval = resyncInterval
        self.linkKind = linkKind
    }
}

/// The long-running reconciler.
public actor Agent {
    let options: AgentOptions
    let logger: Logger
    let netlink: NetlinkSocket
    let announcer: any Announcer
    let health: HealthMonitor
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
    var lastWarnings: [String] = []
    /// Services whose checks are all up.
    var healthy: Set<String> = []
    /// Drained services, persisted; `*` is the whole host.
    var drains: Set<String> = []
    /// When each drain began in this process; a drain restored from disk has none (already withdrawn).
    var drainStarted: [String: ContinuousClock.Instant] = [:]
    /// When a graceful stop began.
    var stopStarted: ContinuousClock.Instant?
    /// What each peer was last told to have.
    var lastRoutes: [String: [IPPrefix: Announcement]] = [:]
    var lastVerdicts: [IPPrefix: PrefixVerdict] = [:]
    /// The `metrics.listen` endpoint while the agent runs; nil when not configured or not bound.
    var metricsServer: MetricsServer?
    var metricsApplying = false
    var metricsDirty = false
    /// The last bind failure, logged once until it changes.
    var metricsFailure: String?
    /// True from the start of `run()`: only a running agent serves metrics.
    var serving = false
    /// Reconcile requests; buffering the newest one only coalesces bursts.
    let doorbell: AsyncStream<Void>.Continuation
    let doorbellStream: AsyncStream<Void>
    /// Deadlines armed by `scheduleWakeUp`, served by one timer task owned by `run()`.
    let wakeUps: AsyncStream<ContinuousClock.Instant>.Continuation
    let wakeUpStream: AsyncStream<ContinuousClock.Instant>
    /// The configuration file as it was when last read; the resync reads it again if it differs.
    var configFingerprint: FileFingerprint?
    /// Armed once a graceful stop told the routers; kept until the process ends.
    var stopDeadline: StopDeadline?

    public init(options: AgentOptions, logger: Logger, announcer: any Announcer = NoAnnouncer()) throws {
        self.options = options
        self.logger = logger
        self.announcer = announcer
        self.health = HealthMonitor()
        do {
            self.netlink = try NetlinkSocket()
        } catch {
            throw DaemonError("netlink: \(error)")
        }
        (doorbellStream, doorbell) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        (wakeUpStream, wakeUps) = AsyncStream.makeStream(of: ContinuousClock.Instant.self)
    }

    // MARK: configuration

    /// Loads the file; on success it becomes the desired state, on failure the last good one stays.
    @discardableResult
    func loadConfig(reason: String) async -> Bool {
        // Taken before reading, so an edit during the read differs at the next resync.
        configFingerprint = FileFingerprint.of(options.configPath)
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
            if desired == state {
                logger.info("configuration unchanged (\(reason))")
                return true
            }
            await adopt(state)
            logger.info(
                "configuration loaded (\(reason)): \(state.services.count) services, \(state.allPrefixes.count) prefixes, \(state.bgp.peers.count) peers"
            )
            return true
        }
    }

    /// Makes a valid configuration the desired state. Prefixes that left it and were announced stay on the
    /// interface for the drain delay, so routers converge before the address goes.
    func adopt(_ state: DesiredState) async {
        if store?.directory != state.stateDirectory {
            let store = StateStore(directory: state.stateDirectory)
            self.store = store
            owned = store.loadOwnedAddresses()
            drains = store.loadDrains()
            for drain in drains.sorted() {
                logger.notice("\(drain == "*" ? "host" : drain): drained (kept from before the restart)")
            }
        }
        if let previous = desired {
            let removed = Set(previous.allPrefixes).subtracting(state.allPrefixes)
            let established = await announcer.establishedPeers()
            let deadline = ContinuousClock.now + state.drain.delay
            for prefix in removed.sorted() {
                let announced = !peersAnnouncing(prefix, established: established).isEmpty
                guard announced else { continue }
                retiring[prefix] = deadline
                logger.info(
                    "\(prefix): removed from the configuration; withdrawn, address removed in \(formatDuration(state.drain.delay))"
                )
                scheduleWakeUp(at: deadline)
            }
            for prefix in state.allPrefixes { retiring[prefix] = nil }
        }
        desired = state
        // A service without checks is healthy from the start; the others start down until they rise.
        for service in state.services where service.checks.isEmpty { healthy.insert(service.name) }
        health.update(
            services: state.services.map { service in
                (name: service.name, checks: service.checks, defaultDNSServer: service.prefixes.first?.address)
            })
        await announcer.configure(state)
        if serving { await applyMetricsListener() }
    }

    /// Serves metrics where the desired state says, moving or stopping the endpoint when that changed. A
    /// port that cannot be bound is logged (once) and tried again at the next resync.
    func applyMetricsListener() async {
        guard !metricsApplying else {
            metricsDirty = true
            return
        }
        metricsApplying = true
        defer { metricsApplying = false }
        repeat {
            metricsDirty = false
            let wanted = serving ? desired?.metrics.listen : nil
            if metricsServer?.listen == wanted, metricsServer != nil || wanted == nil { continue }
            if let old = metricsServer {
                metricsServer = nil
                await old.stop()
                logger.info("metrics: no longer serving \(old.listen)")
            }
            guard let wanted else {
                metricsFailure = nil
                continue
            }
            do {
                metricsServer = try await MetricsServer.start(
                    listen: wanted, group: .singletonMultiThreadedEventLoopGroup
                ) { [self] in await self.status().prometheus() }
                metricsFailure = nil
                logger.info("metrics: serving http://\(wanted)/metrics")
            } catch {
                let text = "metrics.listen \(wanted): cannot listen: \(error); retrying at each resync"
                if text != metricsFailure { logger.error("\(text)") }
                metricsFailure = text
            }
        } while metricsDirty
    }

    /// Rings the doorbell at a deadline (drain delays, retries); the timer task of `run()` sleeps until it.
    func scheduleWakeUp(at deadline: ContinuousClock.Instant) {
        wakeUps.yield(deadline)
    }

    /// Whether the configuration file differs from when it was last read (the resync's last resort for
    /// changes the watch could not see).
    func configFileChanged() -> Bool {
        FileFingerprint.of(options.configPath) != configFingerprint
    }

    // MARK: one pass

    /// Repairs the interface, then re-evaluates the announcement rule.
    func reconcile() async {
        reconcileInterface()
        await updateAnnouncements()
    }

    func healthChanged(_ service: ServiceHealth) async {
        let was = healthy.contains(service.name)
        if service.isUp { healthy.insert(service.name) } else { healthy.remove(service.name) }
        if was != service.isUp || service.checks.isEmpty {
            let detail = service.checks.map { "\($0.description): \($0.lastResult ?? "no result yet")" }
                .joined(separator: "; ")
            logger.notice(
                "\(service.name): \(service.isUp ? "healthy" : "unhealthy")\(detail.isEmpty ? "" : " (\(detail))")")
        }
        await updateAnnouncements()
    }

    // MARK: running

    /// Runs until SIGTERM/SIGINT. Returns the process exit status.
    public func run() async -> Int32 {
        // Signals first: loading a large state file can take a while, and SIGTERM must not kill the agent
        // meanwhile (it is handled, as a graceful stop, once the loop below runs).
        let signals = SignalSource.signals()
        guard await loadConfig(reason: "start"), let state = desired else {
            logger.critical("no valid configuration at \(options.configPath); not starting")
            return ExitStatus.config
        }
        let monitor: NetlinkMonitor
        let watcher: ConfigWatcher
        let control: ControlServer
        do {
            monitor = try NetlinkMonitor()
            watcher = try ConfigWatcher(path: options.configPath)
            control = try await ControlServer.start(
                path: state.control.socket, group: .singletonMultiThreadedEventLoopGroup
            ) {
                [self] request in await self.handle(request)
            }
        } catch {
            logger.critical("\(error)")
            return ExitStatus.failure
        }
        serving = true
        await applyMetricsListener()
        await reconcile()
        SystemdNotify.send("READY=1\nSTATUS=running")

        let doorbell = self.doorbell
        let events = monitor.events()
        let changes = watcher.changes()
        let interval = options.resyncInterval
        let healthEvents = health.events
        let sessionEvents = announcer.sessionEvents
        let wakeUps = wakeUpStream
        let (finishes, finish) = AsyncStream.makeStream(of: Int32.self)
        let (stopRequests, requestStop) = AsyncStream.makeStream(of: Void.self)
        let status = await withTaskGroup(of: Int32?.self) { group -> Int32 in
            group.addTask {
                for await event in events where await self.observed(event) { doorbell.yield() }
                return nil
            }
            group.addTask {
                for await _ in changes {
                    await self.loadConfig(reason: "file changed")
                    doorbell.yield()
                }
                return nil
            }
            group.addTask {
                for await service in healthEvents { await self.healthChanged(service) }
                return nil
            }
            group.addTask {
                for await _ in sessionEvents { doorbell.yield() }
                return nil
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    if await self.configFileChanged() {
                        await self.loadConfig(reason: "file changed, noticed at resync")
                    }
                    doorbell.yield()
                    if await self.metricsServer == nil { await self.applyMetricsListener() }
                }
                return nil
            }
            // The one timer: a sleeping child per armed deadline, all ended with the group.
            group.addTask {
                await withDiscardingTaskGroup { timers in
                    for await deadline in wakeUps {
                        timers.addTask {
                            try? await Task.sleep(until: deadline, clock: .continuous)
                            doorbell.yield()
                        }
                    }
                }
                return nil
            }
            if let watchdog = SystemdNotify.watchdogInterval {
                group.addTask {
                    while !Task.isCancelled {
                        SystemdNotify.send("WATCHDOG=1")
                        try? await Task.sleep(for: watchdog)
                    }
                    return nil
                }
            }
            group.addTask {
                for await _ in self.doorbellStream { await self.reconcile() }
                return nil
            }
            group.addTask {
                for await _ in stopRequests {
                    await self.gracefulStop()
                    finish.yield(ExitStatus.ok)
                    break
                }
                return nil
            }
            group.addTask {
                var stopRequested = false
                for await signal in signals {
                    switch signal {
                    case .reload:
                        watcher.rearm()
                        await self.loadConfig(reason: "SIGHUP")
                        doorbell.yield()
                    case .stop where stopRequested:
                        self.logger.warning("second stop signal: exiting at once")
                        finish.yield(ExitStatus.ok)
                    case .stop:
                        stopRequested = true
                        requestStop.yield()
                    }
                }
                return nil
            }
            for await code in finishes {
                group.cancelAll()
                return code
            }
            return ExitStatus.ok
        }
        monitor.stop()
        watcher.stop()
        health.stop()
        serving = false
        await applyMetricsListener()
        await control.stop()
        return status
    }

    /// The stop sequence: the drain sequence for everything, then Cease/Administrative Shutdown.
    /// Addresses and the interface stay, so services bound to them keep answering.
    func gracefulStop() async {
        SystemdNotify.send("STOPPING=1")
        let established = await announcer.establishedPeers()
        let announced = !peersAnnouncing(nil, established: established).isEmpty
        stopStarted = .now
        let delay = desired?.drain.delay ?? .zero
        if announced {
            let graceful = desired?.drain.gracefulShutdown == true
            logger.notice(
                "stopping: \(graceful ? "GRACEFUL_SHUTDOWN now, withdrawing" : "withdrawing now, waiting") \(formatDuration(delay))"
            )
            await updateAnnouncements()
            try? await Task.sleep(for: delay)
            // A second stop signal cancelled the wait: exit at once, as asked.
            if Task.isCancelled { return }
            await updateAnnouncements()
        } else {
            logger.notice("stopping: nothing announced")
        }
        await announcer.shutdown(message: "anycastd stopping")
        logger.notice("stopped")
        // Routers already know; nothing left to do may keep the process alive (see StopDeadline).
        stopDeadline = StopDeadline(seconds: 3, status: ExitStatus.ok)
    }
}
