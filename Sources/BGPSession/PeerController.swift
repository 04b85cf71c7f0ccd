// One configured neighbor: feeds the BGP module's SessionStateMachine with connection events, messages
// and timer expiries, and carries out the actions it returns (connect, send, arm/cancel timers as
// EventLoop scheduled tasks, close, announce). A second connection during OpenSent/OpenConfirm runs a
// second machine until CollisionResolution picks the survivor (RFC 4271 §6.8, RFC 6286). The peer's
// AdjRibOut turns the desired route set into the UPDATEs that make the difference; ReceivedRoutes keeps
// only the counts (bounded by maxPrefixes) and the routes for our own prefixes. A ROUTE-REFRESH while the
// answer to the last one is still being written is coalesced, so a peer that asks in a loop without
// reading costs no memory; the send hold timer (RFC 9687) ends such a session.
// Confined to the speaker's EventLoop; SpeakerCore owns it. RFC 4271 §8, RFC 4724, RFC 2918, RFC 9003,
// RFC 9687, RFC 4486, RFC 7606.
import BGP
import Logging
import NIOCore
import NIOPosix
import NetAddress

final class PeerController: BGPConnectionOwner {
    /// One state machine and the connection it follows.
    final class Session {
        var machine: SessionStateMachine
        /// The connection, from the moment an outbound attempt starts or an inbound one is taken.
        var handler: BGPConnectionHandler?
        /// True while an outbound connect is in flight for `handler`.
        var connecting = false
        var timers: [SessionTimer: Scheduled<Void>] = [:]
        /// When each scheduled task in `timers` runs.
        var scheduledFor: [SessionTimer: NIODeadline] = [:]
        /// When each armed timer is due. Re-arming for later (the hold timer, on every message) only moves
        /// this: the task runs at its old time and schedules itself again for the rest.
        var deadlines: [SessionTimer: NIODeadline] = [:]
        /// Bumped on every schedule/cancel so a timer that fires late is recognised as stale.
        var timerGeneration: [SessionTimer: Int] = [:]

        init(machine: SessionStateMachine) { self.machine = machine }

        func cancel(_ timer: SessionTimer) {
            timers.removeValue(forKey: timer)?.cancel()
            scheduledFor[timer] = nil
            deadlines[timer] = nil
            timerGeneration[timer, default: 0] += 1
        }

        func cancelAllTimers() {
            for timer in SessionTimer.allCases { cancel(timer) }
        }
    }

    /// Why the speaker ends a session.
    enum StopReason {
        /// Cease/Administrative Shutdown with an RFC 9003 message (daemon stopping).
        case shutdown(String)
        /// Cease/Peer De-configured.
        case deconfigured
        /// Cease/Other Configuration Change.
        case configurationChanged
        /// Cease/BFD Down (RFC 9384): the path to the peer failed.
        case bfdDown

        var description: String {
            switch self {
            case .shutdown(let message): "shutdown: \(message)"
            case .deconfigured: "peer de-configured"
            case .configurationChanged: "configuration changed"
            case .bfdDown: "BFD session down"
            }
        }
    }

    private(set) var settings: BGPPeerSettings
    private unowned let core: SpeakerCore
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let clockOrigin = ContinuousClock.now
    /// The session whose state the daemon sees.
    private var primary: Session
    /// A second connection being negotiated while the primary one is past Connect (collision).
    private var candidate: Session?
    /// Every channel not yet closed, so that a stop can wait for all of them.
    private var liveHandlers: [ObjectIdentifier: BGPConnectionHandler] = [:]
    private var stopPromise: EventLoopPromise<Void>?
    private var stopped = false
    private var desired: [IPPrefix: RouteAttributes] = [:]
    private var ribOut = AdjRibOut(context: CodecContext(fourOctetAS: true)) {
        didSet { refreshAnswers = [:] }
    }
    /// The answer to a ROUTE-REFRESH per family, kept until what the peer was told changes: a peer that
    /// asks again and again costs no re-packing.
    private var refreshAnswers: [BGPFamily: [BGPMessage]] = [:]
    private var received: ReceivedRoutes
    /// Families whose ROUTE-REFRESH answer is still being written; another request for one is coalesced.
    private var refreshesInFlight: Set<BGPFamily> = []
    /// See `findLinkLocalNextHop`; nil before the first session and on IPv4 or multihop sessions.
    private var linkLocalNextHop: IPv6Address?
    /// End-of-RIB markers held back on a Graceful Restart session until the speaker releases them (RFC 4724
    /// §4.1: the router keeps the stale routes until it sees them).
    private var heldEndOfRIB: [UpdateMessage] = []
    /// The last error reported, used as the reason of the state change that follows it.
    private var pendingReason: String?
    private var status: BGPPeerStatus

    init(settings: BGPPeerSettings, core: SpeakerCore) {
        self.settings = settings
        self.core = core
        self.eventLoop = core.eventLoop
        var logger = core.logger
        logger[metadataKey: "peer"] = "\(settings.name)"
        self.logger = logger
        self.primary = Session(
            machine: SessionStateMachine(configuration: Self.configuration(settings, restarted: core.restarted)))
        self.received = ReceivedRoutes(maxPrefixes: settings.maxPrefixes)
        self.status = BGPPeerStatus(name: settings.name, address: settings.address, state: .idle, since: .now)
        publish()
    }

    static func configuration(_ settings: BGPPeerSettings, restarted: Bool = false) -> SessionConfiguration {
        var configuration = SessionConfiguration(
            localASN: settings.localASN, peerASN: settings.asn, routerID: settings.routerId,
            holdTime: UInt16(clamping: settings.holdTime),
            families: settings.families.sorted().map { BGPFamily(unicast: $0) }, passive: settings.passive,
            connectRetryTime: .milliseconds(Int64(settings.connectRetrySeconds * 1000)),
            openSentHoldTime: SessionConfiguration.openWait(holdTime: UInt16(clamping: settings.holdTime)),
            idleHoldTime: .milliseconds(Int64(settings.connectRetrySeconds * 1000)),
            maxIdleHoldTime: .milliseconds(
                Int64(max(settings.connectRetrySeconds, settings.maximumRetrySeconds) * 1000)))
        if let time = settings.gracefulRestartTime {
            configuration.gracefulRestart = GracefulRestartCapability(
                restarted: restarted, restartTime: time,
                families: configuration.families.map { .init($0, forwardingPreserved: true) })
        }
        return configuration
    }

    // MARK: commands from the speaker

    func start() {
        stopped = false
        feed(.start, to: primary)
    }

    /// New settings that need no new session, or that `reset` is about to apply.
    func reconfigure(_ settings: BGPPeerSettings) {
        self.settings = settings
        received.maxPrefixes = settings.maxPrefixes
    }

    /// Ends the session (Cease/Other Configuration Change by default) and starts over with the current
    /// settings.
    func reset(_ reason: StopReason = .configurationChanged) {
        stop(reason).assumeIsolated().whenComplete { _ in
            self.primary = Session(
                machine: SessionStateMachine(
                    configuration: Self.configuration(self.settings, restarted: self.core.restarted)))
            self.start()
        }
    }

    /// The BFD session to this peer went down: a session past Connect is ended with Cease/BFD Down and
    /// started over (it comes back once the path does); one not yet that far is left alone.
    func bfdDown() {
        switch primary.machine.state {
        case .openSent, .openConfirm, .established:
            logger.notice("BFD session down: resetting the BGP session")
            reset(.bfdDown)
        case .idle, .connect, .active:
            break
        }
    }

    /// The agent's restart is over (RFC 4724 §4.1): End-of-RIB markers held back go out now, after the routes
    /// sent so far, and the OPENs of later sessions carry the R bit clear.
    func restartFinished() {
        primary.machine.setRestarted(false)
        candidate?.machine.setRestarted(false)
        let held = heldEndOfRIB
        heldEndOfRIB = []
        guard !held.isEmpty else { return }
        logger.info(
            "End-of-RIB sent for \(held.compactMap(\.endOfRIBFamily).map(\.description).joined(separator: ", "))")
        send(held.map { .update($0) })
    }

    func setRoutes(_ routes: [IPPrefix: RouteAttributes]) {
        desired = routes
        received.ownPrefixes = Set(routes.keys)
        let updates = ribOut.setDesired(resolvedRoutes())
        send(updates.map { .update($0) })
    }

    /// Withdraws everything, ends every connection with the NOTIFICATION for `reason` and completes once
    /// all of them are closed.
    func stop(_ reason: StopReason) -> EventLoopFuture<Void> {
        stopped = true
        if ribOut.isActive { send(ribOut.setDesired([:]).map { .update($0) }) }
        let notification: NotificationMessage? =
            switch reason {
            case .shutdown: nil  // the machine sends Cease/2 with the message itself
            case .deconfigured: .cease(subcode: NotificationMessage.CeaseSubcode.peerDeconfigured)
            case .configurationChanged: .cease(subcode: NotificationMessage.CeaseSubcode.otherConfigurationChange)
            case .bfdDown: .cease(subcode: NotificationMessage.CeaseSubcode.bfdDown)
            }
        var message: String?
        if case .shutdown(let text) = reason { message = text }
        for session in [candidate, primary].compactMap({ $0 }) {
            if let notification, let handler = session.handler, !handler.connectingOnly(session) {
                status.lastErrorSent = notification.description
                handler.sendNotificationAndClose(notification)
            }
            pendingReason = reason.description
            feed(.stop(shutdownMessage: message), to: session)
        }
        if let pending = stopPromise { return pending.futureResult }
        let promise = eventLoop.makePromise(of: Void.self)
        if liveHandlers.isEmpty {
            promise.succeed()
        } else {
            stopPromise = promise
        }
        return promise.futureResult
    }

    func noteFailure(_ text: String) {
        status.lastFailure = text
        publish()
    }

    // MARK: feeding the state machine

    private func now() -> Duration { ContinuousClock.now - clockOrigin }

    private func feed(
        _ event: SessionEvent, to session: Session, dropping drop: (SessionAction) -> Bool = { _ in false }
    ) {
        let actions = session.machine.handle(event, now: now(), jitter: Double.random(in: 0...1))
        session.handler?.codec = session.machine.codecContext
        for action in actions where !drop(action) {
            execute(action, for: session)
        }
        settleSessions()
        publish()
    }

    private func execute(_ action: SessionAction, for session: Session) {
        switch action {
        case .connect:
            connect(session)
        case .cancelConnect:
            if session.connecting, let handler = session.handler {
                session.handler = nil
                session.connecting = false
                handler.close()
            }
        case .sendMessage(let message):
            guard let handler = session.handler, !session.connecting, !handler.isClosing else { return }
            if case .notification(let notification) = message {
                status.lastErrorSent = notification.description
                status.messagesOut += 1
                handler.sendNotificationAndClose(notification)
            } else {
                status.messagesOut += handler.send([message])
            }
        case .armTimer(let timer, let duration):
            arm(timer, duration, for: session)
        case .cancelTimer(let timer):
            session.cancel(timer)
        case .closeConnection:
            if let handler = session.handler {
                session.handler = nil
                session.connecting = false
                // A NOTIFICATION just queued closes the connection itself once it is out.
                if !handler.isClosing { handler.close() }
            }
        case .reportStateChange(_, let new):
            if new == .established {
                // Before the state change is announced, so that observers see the new session's facts.
                status.establishedCount += 1
                status.inbound = session.machine.direction == .inbound
                status.lastFailure = nil
            }
            if session === primary { setState(Self.state(new)) }
        case .reportError(let error):
            switch error.direction {
            case .sent: status.lastErrorSent = error.notification?.description
            case .received: status.lastErrorReceived = error.notification?.description
            case .local: status.lastFailure = error.reason
            }
            pendingReason = error.description
            logger.notice("\(error)")
        case .announceAll:
            established(session)
        case .peerRefreshRequested(let family):
            status.routeRefreshesIn += 1
            // The answer still being written already carries every route (and the differences since
            // are queued behind it): another copy would only pile up in memory.
            guard !refreshesInFlight.contains(family) else {
                status.routeRefreshesCoalesced += 1
                break
            }
            let messages = refreshAnswers[family] ?? ribOut.refresh(family).map { BGPMessage.update($0) }
            refreshAnswers[family] = messages
            logger.debug("ROUTE-REFRESH \(family): re-sending \(messages.count) messages")
            if let handler = primary.handler, !messages.isEmpty {
                refreshesInFlight.insert(family)
                send(messages) { [weak self] in
                    guard let self, self.primary.handler === handler else { return }
                    self.refreshesInFlight.remove(family)
                }
            }
            if let addressFamily = family.addressFamily {
                core.emit(.routeRefresh(peer: settings.name, family: addressFamily))
            }
        }
    }

    /// After every event: resolve collisions, promote the candidate when the primary is gone, drop dead
    /// candidates.
    private func settleSessions() {
        guard let other = candidate else { return }
        if let which = CollisionResolution.loser(
            older: Self.contender(primary), newer: Self.contender(other), localIdentifier: settings.routerId,
            localASN: settings.localASN)
        {
            let loser = which == .older ? primary : other
            logger.info("connection collision: closing the \(loser.machine.direction?.rawValue ?? "") connection")
            feed(.collisionLost, to: loser)
            return
        }
        if other.machine.state == .idle || other.handler == nil {
            // A candidate only follows the inbound connection it was made for: without it, it is done.
            other.cancelAllTimers()
            candidate = nil
        } else if primary.machine.state == .idle || !primary.machine.isStarted {
            // The candidate's connection is the one left: it becomes the session the daemon sees.
            primary.cancelAllTimers()
            primary = other
            candidate = nil
            setState(Self.state(other.machine.state))
        }
    }

    private static func contender(_ session: Session) -> CollisionResolution.Contender {
        let open = session.machine.negotiated?.peerOpen
        return CollisionResolution.Contender(
            state: session.machine.state, direction: session.machine.direction, peerIdentifier: open?.identifier,
            peerASN: open?.asn)
    }

    private func arm(_ timer: SessionTimer, _ duration: Duration, for session: Session) {
        let (seconds, attoseconds) = duration.components
        let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        let deadline = NIODeadline.now() + .nanoseconds(max(0, nanoseconds))
        session.deadlines[timer] = deadline
        // A task that runs no later than the new deadline re-schedules itself then: a peer's every message
        // (which re-arms the hold timer) costs no task.
        if session.timers[timer] != nil, let scheduled = session.scheduledFor[timer], scheduled <= deadline { return }
        schedule(timer, at: deadline, for: session)
    }

    private func schedule(_ timer: SessionTimer, at deadline: NIODeadline, for session: Session) {
        session.timers.removeValue(forKey: timer)?.cancel()
        session.timerGeneration[timer, default: 0] += 1
        let generation = session.timerGeneration[timer, default: 0]
        session.scheduledFor[timer] = deadline
        session.timers[timer] = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            guard session.timerGeneration[timer] == generation else { return }
            session.timers[timer] = nil
            session.scheduledFor[timer] = nil
            guard let due = session.deadlines[timer] else { return }
            if due > .now() {
                self.schedule(timer, at: due, for: session)
                return
            }
            session.deadlines[timer] = nil
            guard session === self.primary || session === self.candidate else { return }
            self.feed(.timerFired(timer), to: session)
        }
    }

    // MARK: connections

    private func connect(_ session: Session) {
        guard !stopped, session.handler == nil else { return }
        let handler = BGPConnectionHandler(
            id: core.makeConnectionID(), inbound: false, codec: session.machine.codecContext, logger: logger)
        handler.owner = self
        session.handler = handler
        session.connecting = true
        liveHandlers[ObjectIdentifier(handler)] = handler
        let bound = NIOLoopBound(handler, eventLoop: eventLoop)
        // Give up on a SYN before the machine's connect retry timer starts the next attempt.
        let timeout = TimeAmount.milliseconds(Int64(max(0.5, min(10, settings.connectRetrySeconds * 0.9)) * 1000))
        BGPConnector.connect(on: eventLoop, settings: settings, connectTimeout: timeout) { channel in
            do {
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(BGPFrameDecoder()))
                try channel.pipeline.syncOperations.addHandler(bound.value)
                return channel.eventLoop.makeSucceededVoidFuture()
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }.assumeIsolated().whenComplete { result in
            guard case .failure(let error) = result else { return }
            self.liveHandlers[ObjectIdentifier(handler)] = nil
            self.checkStopped()
            guard session.handler === handler else { return }  // abandoned meanwhile
            session.handler = nil
            session.connecting = false
            self.logger.debug("connect to \(self.settings.address) failed: \(error)")
            self.feed(.tcpFailed(reason: "\(error)"), to: session)
        }
    }

    func acceptInbound(_ channel: any Channel) -> EventLoopFuture<Void> {
        guard !stopped, primary.machine.isStarted else { return channel.close() }
        let session: Session
        switch primary.machine.state {
        case .connect, .active:
            if primary.handler != nil, primary.connecting {
                // Both sides connecting at once: our attempt goes on and the peer's connection is
                // negotiated beside it; once OPENs are exchanged CollisionResolution keeps one (§6.8).
                // Refusing or dropping either one here lets two active speakers fail in step, forever.
                guard candidate == nil else { return channel.close() }
                session = makeCandidate()
            } else {
                session = primary
            }
        case .openSent, .openConfirm, .established:
            guard candidate == nil else { return channel.close() }
            session = makeCandidate()
        case .idle:
            // Idle (back-off after an error) refuses connections (RFC 4271 §8.2.2).
            return channel.close()
        }
        let handler = BGPConnectionHandler(
            id: core.makeConnectionID(), inbound: true, codec: session.machine.codecContext, logger: logger)
        handler.owner = self
        session.handler = handler
        session.connecting = false
        liveHandlers[ObjectIdentifier(handler)] = handler
        let peer = settings.address
        let socket = BGPSession.socketSettings(settings)
        guard let provider = channel as? any SocketOptionProvider else { return channel.close() }
        return BGPSocketOptions.setConnectionOptions(provider, peer: peer, settings: socket).assumeIsolated()
            .flatMapThrowing {
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(BGPFrameDecoder()))
                try channel.pipeline.syncOperations.addHandler(handler)
            }.flatMapError { error in
                self.logger.warning("inbound connection from \(peer): \(error)")
                self.noteFailure("inbound: \(error)")
                self.liveHandlers[ObjectIdentifier(handler)] = nil
                if session.handler === handler { session.handler = nil }
                return channel.close()
            }.nonisolated()
    }

    /// A second machine for an inbound connection that arrives while the primary one has its own
    /// connection or attempt. Started only to leave Idle: it must not connect out, it follows the inbound.
    private func makeCandidate() -> Session {
        let second = Session(
            machine: SessionStateMachine(configuration: Self.configuration(settings, restarted: core.restarted)))
        let actions = second.machine.handle(.start, now: now())
        for action in actions {
            if case .connect = action { continue }
            execute(action, for: second)
        }
        publish()
        candidate = second
        return second
    }

    private func session(of handler: BGPConnectionHandler) -> Session? {
        if primary.handler === handler { return primary }
        if let candidate, candidate.handler === handler { return candidate }
        return nil
    }

    func connectionActive(_ handler: BGPConnectionHandler) {
        guard let session = session(of: handler) else {
            handler.close()  // an attempt abandoned while it was connecting
            return
        }
        session.connecting = false
        logger.debug("connection \(handler.id) \(handler.inbound ? "from" : "to") \(settings.address) up")
        feed(.tcpConnected(handler.inbound ? .inbound : .outbound), to: session)
    }

    func connection(_ handler: BGPConnectionHandler, received decoded: DecodedMessage) {
        guard let session = session(of: handler) else { return }
        status.messagesIn += 1
        if case .update(let update) = decoded.message, session === primary, session.machine.state == .established {
            status.updatesIn += 1
            if let limit = countReceived(update, disposition: decoded.disposition) {
                logger.warning("peer sent more than \(limit.limit) \(limit.family) prefixes (maxPrefixes): resetting")
                feed(.prefixLimitExceeded(family: limit.family, limit: limit.limit), to: session)
                return
            }
        }
        feed(.messageReceived(decoded.message), to: session)
    }

    func connection(_ handler: BGPConnectionHandler, sendWaiting: Bool) {
        guard let session = session(of: handler) else { return }
        if session === primary { status.sendQueueBytes = handler.pendingBytes }
        feed(sendWaiting ? .sendBlocked : .sendUnblocked, to: session)
    }

    func connection(_ handler: BGPConnectionHandler, failedToDecode error: BGPDecodeError) {
        guard let session = session(of: handler) else { return }
        logger.warning("malformed message from peer: \(error)")
        feed(.decodeError(error), to: session)
    }

    func connection(_ handler: BGPConnectionHandler, closedWith error: (any Error)?) {
        liveHandlers[ObjectIdentifier(handler)] = nil
        defer { checkStopped() }
        guard let session = session(of: handler) else { return }
        session.handler = nil
        session.connecting = false
        feed(.tcpClosed(reason: error.map { "\($0)" } ?? "closed by the peer"), to: session)
    }

    private func checkStopped() {
        guard liveHandlers.isEmpty, let promise = stopPromise else { return }
        stopPromise = nil
        promise.succeed()
    }

    // MARK: routes

    private func established(_ session: Session) {
        if session !== primary {
            // The candidate won: it is the session from now on; an attempt of the old one still in
            // flight is abandoned.
            primary.cancelAllTimers()
            if let pending = primary.handler {
                primary.handler = nil
                primary.connecting = false
                pending.close()
            }
            primary = session
            candidate = nil
        }
        received.sessionEnded()
        refreshesInFlight = []
        linkLocalNextHop = findLinkLocalNextHop(session)
        ribOut = AdjRibOut(context: session.machine.codecContext)
        _ = ribOut.setDesired(resolvedRoutes())
        setState(.established)
        var updates = ribOut.announceAll()
        heldEndOfRIB = []
        if core.holdingEndOfRIB, session.machine.gracefulRestartNegotiated {
            // RFC 4724 §4.1: the routes go out as they become known; End-of-RIB only once the agent knows them
            // all, so that the router replaces its stale routes instead of flushing them.
            heldEndOfRIB = updates.filter { $0.endOfRIBFamily != nil }
            updates.removeAll { $0.endOfRIBFamily != nil }
        }
        logger.info(
            "established (\(session.machine.direction?.rawValue ?? "?")), hold \(session.machine.negotiated?.holdTime ?? 0) s, sending \(updates.count) UPDATEs\(heldEndOfRIB.isEmpty ? "" : ", End-of-RIB held until the first health verdicts")"
        )
        send(updates.map { .update($0) })
    }

    /// The desired routes with next hops filled in for the current session (see `resolve`).
    private func resolvedRoutes() -> [IPPrefix: RouteAttributes] {
        let local = primary.handler?.localAddress?.ipAddress ?? settings.localAddress
        return Self.resolve(desired, settings: settings, localAddress: local, linkLocal: linkLocalNextHop)
    }

    /// The interface's link-local address to send next to "next hop self" for IPv6 routes: only on an
    /// IPv6 session whose peer is on-link (RFC 2545 §3). Found once per session, when it is established.
    private func findLinkLocalNextHop(_ session: Session) -> IPv6Address? {
        guard case .v6(let local)? = session.handler?.localAddress?.ipAddress, case .v6(let peer) = settings.address
        else { return nil }
        return LinkLocalNextHop.lookup(local: local, peer: peer)
    }

    /// The desired routes with the next hops filled in: an unspecified next hop (or one of the other
    /// family) becomes the configured next hop for the prefix's family, else the session's own address;
    /// IPv6 routes whose next hop is the session's own address also carry `linkLocal` when given.
    static func resolve(
        _ routes: [IPPrefix: RouteAttributes],
        settings: BGPPeerSettings,
        localAddress: IPAddress?,
        linkLocal: IPv6Address? = nil
    ) -> [IPPrefix: RouteAttributes] {
        var result: [IPPrefix: RouteAttributes] = [:]
        for (prefix, attributes) in routes {
            var resolved = attributes
            if attributes.nextHop.isUnspecified || attributes.nextHop.family != prefix.family {
                switch prefix.family {
                case .ipv4:
                    if let hop = settings.ipv4NextHop {
                        resolved.nextHop = .v4(hop)
                    } else if let localAddress, localAddress.family == .ipv4 {
                        resolved.nextHop = localAddress
                    }
                case .ipv6:
                    if let hop = settings.ipv6NextHop {
                        resolved.nextHop = .v6(hop)
                    } else if let localAddress, localAddress.family == .ipv6 {
                        resolved.nextHop = localAddress
                        resolved.linkLocalNextHop = linkLocal
                    }
                }
            }
            result[prefix] = resolved
        }
        return result
    }

    /// Sends on the Established session (nothing otherwise: AdjRibOut remembers the desired set).
    private func send(_ messages: [BGPMessage], written done: (() -> Void)? = nil) {
        guard !messages.isEmpty, primary.machine.state == .established, let handler = primary.handler else {
            done?()
            return
        }
        let written = handler.send(messages, written: done)
        status.sendQueueBytes = handler.pendingBytes
        status.messagesOut += written
        status.updatesOut += messages.prefix(written).filter { if case .update = $0 { true } else { false } }.count
        refreshSentCounters()
        publish()
    }

    /// Counts one UPDATE; returns the family and limit when the peer went over maxPrefixes.
    private func countReceived(
        _ update: UpdateMessage, disposition: UpdateDisposition
    ) -> (family: BGPFamily, limit: UInt32)? {
        let outcome = received.apply(update, disposition: disposition)
        status.treatAsWithdraw = received.treatAsWithdrawCount
        for family in AddressFamily.allCases {
            status.families[family, default: BGPFamilyCounters()].prefixesReceived = received.count(family)
        }
        switch outcome {
        case .accepted:
            return nil
        case .firstTreatAsWithdraw(let reason):
            logger.warning("UPDATE treated as withdraw (RFC 7606): \(reason); more of this kind are only counted")
            return nil
        case .limitExceeded(let family, let limit):
            return (family, limit)
        }
    }

    private func refreshSentCounters() {
        var counts: [AddressFamily: Int] = [:]
        for prefix in ribOut.advertised.keys { counts[prefix.family, default: 0] += 1 }
        for family in AddressFamily.allCases {
            status.families[family, default: BGPFamilyCounters()].prefixesSent = counts[family] ?? 0
        }
    }

    // MARK: status

    static func state(_ state: SessionState) -> BGPSessionState { state }

    private func setState(_ state: BGPSessionState) {
        guard state != status.state else { return }
        let from = status.state
        if from == .established {
            ribOut.reset()
            heldEndOfRIB = []
            received.sessionEnded()
            refreshesInFlight = []
            status.families = [:]
            status.sendQueueBytes = 0
        }
        status.state = state
        status.since = .now
        let reason = state == .established ? nil : pendingReason
        pendingReason = nil
        if from == .established { logger.notice("session down: \(reason ?? "")") }
        publish()
        core.emit(.stateChanged(peer: settings.name, from: from, to: state, reason: reason))
    }

    private func publish() {
        core.publish(status)
    }

    /// The UPDATEs a fresh session to `settings` would carry for `routes` (for encoder oracle tests).
    static func initialUpdates(settings: BGPPeerSettings, routes: [IPPrefix: RouteAttributes]) -> [UpdateMessage] {
        var rib = AdjRibOut(
            context: CodecContext(
                fourOctetAS: true, families: Set(settings.families.map { BGPFamily(unicast: $0) }),
                isInternal: settings.asn == settings.localASN))
        _ = rib.setDesired(resolve(routes, settings: settings, localAddress: settings.localAddress))
        return rib.announceAll()
    }
}

extension BGPConnectionHandler {
    /// True while `session` still waits for this outbound connection to come up.
    fileprivate func connectingOnly(_ session: PeerController.Session) -> Bool {
        session.connecting && !inbound
    }
}
