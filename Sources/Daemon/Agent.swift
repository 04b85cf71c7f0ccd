// The agent: a thin actor around AgentCore, which owns every decision and fact (desired state, what netlink
// observed, health verdicts, drains, phases, retiring prefixes, sessions, routes, verdicts). The actor turns
// each input (configuration edits, SIGHUP, netlink events, health verdicts, session events, control
// commands, timers) into an event with `ContinuousClock.now` and carries out the actions that come back:
// netlink batches, routes to the speaker, state files, timers, logs, replies, Cease, exit.
// Netlink events only ring a doorbell that holds at most one pending ring, so a burst of events (for
// example the echoes of our own 10,000 address adds) costs one extra dump, not one per event.
import AgentCore
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
    /// Every decision and the facts behind them; see AgentCore.
    var core: AgentCore
    /// The origin of the core's instants.
    let origin = ContinuousClock.now
    /// Errors of the last load that failed, cleared by the next good one.
    var configErrors: [ConfigDiagnostic] = []
    var store: StateStore?
    /// The state directory's lock, held while the agent runs, so a second agent refuses to start.
    var stateLock: StateLock?
    /// Control replies the core produced, by request, until the request's handler picks them up.
    var replies: [RequestID: ControlReply] = [:]
    var nextRequest: RequestID = 1
    /// Where an `exit` action goes while `run()` runs.
    var exitRequests: AsyncStream<Int32>.Continuation?
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
        self.core = AgentCore(linkKind: options.linkKind)
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
    func loadConfig(reason: String, startServices: Bool = true) async -> Bool {
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
            await adopt(state, startServices: startServices)
            logger.info(
                "configuration loaded (\(reason)): \(state.services.count) services, \(state.allPrefixes.count) prefixes, \(state.bgp.peers.count) peers"
            )
            return true
        }
    }

    /// The last configuration adopted; nil before the first one.
    var desired: DesiredState? { core.desired }

    /// Makes a valid configuration the desired state. Prefixes that left it and were announced stay on the
    /// interface for the drain delay, so routers converge before the address goes (the core decides). With
    /// `startServices` false (`reconcile --once`/`--dry-run`) no check runs and no session starts.
    func adopt(_ state: DesiredState, startServices: Bool = true) async {
        var restored: RestoredState?
        if store?.directory != state.stateDirectory {
            let store = StateStore(directory: state.stateDirectory)
            self.store = store
            restored = store.restore()
        }
        guard startServices else {
            _ = core.handle(.configurationAdopted(state, restored: restored), now: now)
            return
        }
        health.update(
            services: state.services.map { service in
                (name: service.name, checks: service.checks, defaultDNSServer: service.prefixes.first?.address)
            })
        // The R bit must be in the very first OPEN, so it is set before any session starts.
        if let restored, core.restart.startedAt == nil { announcer.setRestarted(restored.restarted) }
        await announcer.configure(state)
        await feed(.configurationAdopted(state, restored: restored))
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
                    listen: wanted, group: .singletonMultiThreadedEventLoopGroup, logger: logger
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

    /// The core's instant for now.
    var now: AgentInstant { ContinuousClock.now - origin }

    /// Feeds the timer event at a core instant (drain delays, retries, the end of a stop); the timer task of
    /// `run()` sleeps until it.
    func scheduleTimer(at instant: AgentInstant) {
        wakeUps.yield(origin + instant)
    }

    /// Whether the configuration file differs from when it was last read (the resync's last resort for
    /// changes the watch could not see).
    func configFileChanged() -> Bool {
        FileFingerprint.of(options.configPath) != configFingerprint
    }

    // MARK: one pass

    /// Observes the host and lets the core repair the interface and re-evaluate the announcement rule.
    func reconcile() async {
        guard core.desired != nil else { return }
        await perform(.observe)
    }

    func healthChanged(_ service: ServiceHealth) async {
        let detail = service.checks.map { "\($0.description): \($0.lastResult ?? "no result yet")" }
            .joined(separator: "; ")
        await feed(.health(service: service.name, up: service.isUp, detail: detail))
        if service.verdictKnown, !service.isUp { await feed(.healthVerdict(service: service.name)) }
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
        do {
            stateLock = try StateStore(directory: state.stateDirectory).lock()
        } catch {
            logger.critical("\(error); not starting")
            return ExitStatus.failure
        }
        let descriptors = DescriptorLimit.raise()
        logger.info("descriptor limit \(descriptors.soft) (hard \(descriptors.hard))")
        let monitor: NetlinkMonitor
        let watcher: ConfigWatcher
        let control: ControlServer
        do {
            monitor = try NetlinkMonitor()
            watcher = try ConfigWatcher(path: options.configPath)
            control = try await ControlServer.start(
                path: state.control.socket, group: .singletonMultiThreadedEventLoopGroup, logger: logger
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
        let announcer = self.announcer
        let wakeUps = wakeUpStream
        let (finishes, finish) = AsyncStream.makeStream(of: Int32.self)
        exitRequests = finish
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
                for await event in sessionEvents { await self.feed(.peer(event.peer, event.event)) }
                return nil
            }
            group.addTask {
                await announcer.forwardSessionEvents()
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
                            await self.feed(.timerFired)
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
                for await signal in signals {
                    switch signal {
                    case .reload:
                        watcher.rearm()
                        await self.loadConfig(reason: "SIGHUP")
                        doorbell.yield()
                    case .stop:
                        await self.stopRequested()
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

    /// SIGTERM/SIGINT: the core runs the drain sequence for everything, then Cease/Administrative Shutdown
    /// (a second one exits at once). Addresses and the interface stay, so services bound to them keep answering.
    func stopRequested() async {
        if core.stopStarted == nil { SystemdNotify.send("STOPPING=1") }
        await feed(.stopRequested)
    }
}
