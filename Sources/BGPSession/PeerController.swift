// One configured neighbor: its connections (outbound, inbound, at most one of each), the session state
// machine that runs over them, timers (EventLoop scheduled tasks), reconnect back-off with jitter,
// collision resolution (RFC 4271 §6.8, RFC 6286), and its AdjRibOut, which turns the desired route set
// into the UPDATEs that make the difference. Confined to the speaker's EventLoop; SpeakerCore owns it.
// RFC 4271 §8 (FSM), RFC 4724 (End-of-RIB), RFC 2918 (refresh), RFC 9003 (shutdown message).
import BGP
import Logging
import NIOCore
import NIOPosix
import NetAddress

final class PeerController: BGPConnectionOwner {
    /// The per-connection part of the RFC 4271 FSM.
    enum ConnectionState {
        /// TCP is up, our OPEN is out, waiting for the peer's OPEN.
        case openSent
        /// OPENs exchanged, our KEEPALIVE is out, waiting for the peer's first KEEPALIVE.
        case openConfirm(OpenMessage)
        /// Routes flow.
        case established(OpenMessage)
    }

    final class Connection {
        let handler: BGPConnectionHandler
        var state: ConnectionState = .openSent
        var holdTime = 0
        var holdTimer: Scheduled<Void>?
        var keepaliveTimer: Scheduled<Void>?
        /// A NOTIFICATION we sent on this connection (for the close reason).
        var sentNotification: NotificationMessage?
        /// A NOTIFICATION the peer sent on it.
        var receivedNotification: NotificationMessage?
        var failure: String?

        init(handler: BGPConnectionHandler) { self.handler = handler }

        func cancelTimers() {
            holdTimer?.cancel()
            keepaliveTimer?.cancel()
            holdTimer = nil
            keepaliveTimer = nil
        }
    }

    /// The hold time while waiting for the peer's OPEN (RFC 4271 §8.2.2: "large value", 4 minutes).
    static let openSentHoldTime = 240

    private(set) var settings: BGPPeerSettings
    private unowned let core: SpeakerCore
    private let eventLoop: any EventLoop
    private var logger: Logger
    private var connections: [Int: Connection] = [:]
    private var connecting = false
    private var retryTask: Scheduled<Void>?
    private var retryDelay: Double
    private var stopped = false
    private var stopPromise: EventLoopPromise<Void>?
    private var desired: [IPPrefix: RouteAttributes] = [:]
    private var ribOut = AdjRibOut(context: CodecContext(fourOctetAS: true))
    private var receivedPrefixes: [AddressFamily: Set<IPPrefix>] = [:]
    private var status: BGPPeerStatus

    init(settings: BGPPeerSettings, core: SpeakerCore) {
        self.settings = settings
        self.core = core
        self.eventLoop = core.eventLoop
        self.retryDelay = settings.connectRetrySeconds
        var logger = core.logger
        logger[metadataKey: "peer"] = "\(settings.name)"
        self.logger = logger
        self.status = BGPPeerStatus(
            name: settings.name, address: settings.address, state: .idle, since: .now)
        publish()
    }

    // MARK: commands from the speaker

    func start() {
        stopped = false
        if settings.passive {
            setState(.active, reason: nil)
        } else {
            connect()
        }
    }

    /// New settings that do not need a new session (or before `reset`).
    func reconfigure(_ settings: BGPPeerSettings) {
        self.settings = settings
    }

    /// Tears the session down with `notification` and starts over with the current settings.
    func reset(notification: NotificationMessage, reason: String) {
        retryTask?.cancel()
        retryTask = nil
        closeAll(notification: notification, reason: reason)
        retryDelay = settings.connectRetrySeconds
        scheduleConnect(after: 0.2)
    }

    func setRoutes(_ routes: [IPPrefix: RouteAttributes]) {
        desired = routes
        let updates = ribOut.setDesired(resolvedRoutes())
        send(updates: updates)
    }

    /// Withdraws everything, sends `notification` and closes; the future completes when all closed.
    func stop(notification: NotificationMessage, reason: String) -> EventLoopFuture<Void> {
        stopped = true
        retryTask?.cancel()
        retryTask = nil
        if established != nil {
            send(updates: ribOut.setDesired([:]))
        }
        let promise = eventLoop.makePromise(of: Void.self)
        if connections.isEmpty {
            setState(.idle, reason: reason)
            promise.succeed()
        } else {
            stopPromise = promise
            closeAll(notification: notification, reason: reason)
        }
        return promise.futureResult
    }

    func noteFailure(_ text: String) {
        status.lastFailure = text
        publish()
    }

    // MARK: connections

    private var established: Connection? {
        connections.values.first { if case .established = $0.state { true } else { false } }
    }

    private func connect() {
        guard !stopped, !settings.passive, !connecting else { return }
        // One connection at a time from our side: while the peer's own connection is in progress or up,
        // connecting as well only provokes a collision (and some peers, such as ExaBGP 4.2, mishandle it).
        guard connections.isEmpty else { return }
        connecting = true
        if established == nil { setState(.connect, reason: nil) }
        let handler = BGPConnectionHandler(
            id: core.makeConnectionID(), inbound: false, codec: CodecContext(fourOctetAS: true), logger: logger)
        handler.owner = self
        let bound = NIOLoopBound(handler, eventLoop: eventLoop)
        BGPConnector.connect(
            on: eventLoop, settings: settings, connectTimeout: .seconds(Int64(max(3, min(30, settings.holdTime / 3))))
        ) { channel in
            do {
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(BGPFrameDecoder()))
                try channel.pipeline.syncOperations.addHandler(bound.value)
                return channel.eventLoop.makeSucceededVoidFuture()
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }.assumeIsolated().whenComplete { result in
            self.connecting = false
            if case .failure(let error) = result {
                self.logger.debug("connect to \(self.settings.address) failed: \(error)")
                self.status.lastFailure = "connect: \(error)"
                if self.established == nil && self.connections.isEmpty {
                    self.setState(.active, reason: "connect failed: \(error)")
                }
                self.scheduleRetry(afterError: true)
            }
        }
    }

    func acceptInbound(_ channel: any Channel) -> EventLoopFuture<Void> {
        guard !stopped else { return channel.close() }
        // An inbound connection while another inbound one exists: keep the newer, the peer gave up on
        // the old one (it restarted).
        for connection in connections.values where connection.handler.inbound {
            if case .established = connection.state { continue }
            connection.handler.close()
        }
        let handler = BGPConnectionHandler(
            id: core.makeConnectionID(), inbound: true, codec: CodecContext(fourOctetAS: true), logger: logger)
        handler.owner = self
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
            return channel.close()
        }.nonisolated()
    }

    func connectionActive(_ handler: BGPConnectionHandler) {
        guard connections[handler.id] == nil else { return }
        let connection = Connection(handler: handler)
        connections[handler.id] = connection
        if stopped {
            handler.close()
            return
        }
        logger.debug("connection \(handler.id) \(handler.inbound ? "from" : "to") \(settings.address) up")
        let open = OpenMessage(
            asn: settings.localASN, holdTime: UInt16(settings.holdTime), identifier: settings.routerId,
            families: settings.families.sorted().map { BGPFamily(unicast: $0) })
        sendOn(connection, [.open(open)])
        armHold(connection, seconds: Self.openSentHoldTime)
        if established == nil { setState(.openSent, reason: nil) }
    }

    func connection(_ handler: BGPConnectionHandler, received decoded: DecodedMessage) {
        guard let connection = connections[handler.id] else { return }
        status.messagesIn += 1
        let message = decoded.message
        switch (connection.state, message) {
        case (_, .notification(let notification)):
            connection.receivedNotification = notification
            status.lastErrorReceived = notification.description
            logger.notice("NOTIFICATION from peer: \(notification)")
            handler.close()
        case (.openSent, .open(let open)):
            receivedOpen(open, on: connection)
        case (.openConfirm(let open), .keepalive):
            establish(connection, open: open)
        case (.established, .keepalive):
            restartHold(connection)
        case (.established, .update(let update)):
            restartHold(connection)
            status.updatesIn += 1
            countReceived(update, disposition: decoded.disposition)
        case (.established(let open), .routeRefresh(let refresh)):
            restartHold(connection)
            guard refresh.subtype == 0, open.families.contains(refresh.family),
                settings.families.contains(where: { BGPFamily(unicast: $0) == refresh.family })
            else { break }
            status.routeRefreshesIn += 1
            let updates = ribOut.refresh(refresh.family)
            logger.info("ROUTE-REFRESH \(refresh.family): re-sending \(updates.count) UPDATEs")
            send(updates: updates)
            if let family = refresh.family.addressFamily {
                core.emit(.routeRefresh(peer: settings.name, family: family))
            }
        default:
            // RFC 4271 §8.2.2: any other message in this state is an FSM error.
            let subcode: UInt8
            switch connection.state {
            case .openSent: subcode = 1
            case .openConfirm: subcode = 2
            case .established: subcode = 3
            }
            fail(connection, NotificationMessage(code: NotificationMessage.Code.fsm, subcode: subcode),
                reason: "unexpected \(message.typeName)")
        }
        publish()
    }

    func connection(_ handler: BGPConnectionHandler, failedToDecode error: BGPDecodeError) {
        guard let connection = connections[handler.id] else { return }
        logger.warning("malformed message from peer: \(error)")
        fail(connection, error.notification, reason: error.reason)
    }

    func connection(_ handler: BGPConnectionHandler, closedWith error: (any Error)?) {
        guard let connection = connections.removeValue(forKey: handler.id) else { return }
        connection.cancelTimers()
        let wasEstablished: Bool
        if case .established = connection.state { wasEstablished = true } else { wasEstablished = false }
        let reason =
            connection.failure
            ?? connection.receivedNotification.map { "NOTIFICATION received: \($0)" }
            ?? connection.sentNotification.map { "NOTIFICATION sent: \($0)" }
            ?? error.map { "connection lost: \($0)" } ?? "connection closed by peer"
        logger.debug("connection \(handler.id) closed: \(reason)")
        if wasEstablished {
            ribOut.reset()
            receivedPrefixes = [:]
            logger.notice("session down: \(reason)")
        }
        if connections.isEmpty {
            setState(stopped ? .idle : (settings.passive ? .active : .idle), reason: reason)
            if let promise = stopPromise {
                stopPromise = nil
                promise.succeed()
            }
        } else if wasEstablished, let other = connections.values.first {
            if case .openConfirm = other.state { setState(.openConfirm, reason: reason) } else {
                setState(.openSent, reason: reason)
            }
        }
        guard !stopped else { return }
        // A clean close after a working session reconnects fast; errors back off.
        let cleanRestart = wasEstablished && connection.sentNotification == nil
        scheduleRetry(afterError: !cleanRestart)
    }

    // MARK: the session state machine

    private func receivedOpen(_ open: OpenMessage, on connection: Connection) {
        if let error = validate(open) {
            fail(connection, error.notification, reason: error.reason)
            return
        }
        // Collision (RFC 4271 §6.8): another connection to the same peer past OpenSent, or one in
        // OpenSent whose peer we now know to be the same router.
        for other in connections.values where other !== connection {
            if case .established = other.state {
                fail(
                    connection, .cease(subcode: NotificationMessage.CeaseSubcode.connectionCollisionResolution),
                    reason: "collision: a session is already established")
                return
            }
            let keepOurs = Self.localWinsCollision(
                localID: settings.routerId, remoteID: open.identifier, localASN: settings.localASN,
                remoteASN: open.asn)
            // The winner keeps the connection it opened: ours is the outbound one.
            let loser = (keepOurs == connection.handler.inbound) ? connection : other
            fail(
                loser, .cease(subcode: NotificationMessage.CeaseSubcode.connectionCollisionResolution),
                reason: "connection collision, keeping the \(keepOurs ? "outbound" : "inbound") connection")
            if loser === connection { return }
        }
        let hold = min(settings.holdTime, Int(open.holdTime))
        connection.holdTime = hold
        connection.state = .openConfirm(open)
        connection.handler.codec = CodecContext(
            fourOctetAS: open.supportsFourOctetAS,
            families: open.families.intersection(settings.families.map { BGPFamily(unicast: $0) }),
            isInternal: settings.asn == settings.localASN)
        sendOn(connection, [.keepalive])
        armHold(connection, seconds: hold)
        armKeepalive(connection)
        if established == nil { setState(.openConfirm, reason: nil) }
    }

    /// RFC 4271 §6.2 checks, as the NOTIFICATION to send.
    private func validate(_ open: OpenMessage) -> BGPDecodeError? {
        if open.version != BGPConstants.version {
            return BGPDecodeError(
                code: 2, subcode: 1, data: [0, BGPConstants.version], reason: "OPEN version \(open.version)")
        }
        if open.asn != settings.asn {
            return BGPDecodeError(
                code: 2, subcode: 2, data: [UInt8(open.myAS >> 8), UInt8(open.myAS & 0xFF)],
                reason: "peer says AS \(open.asn), configured \(settings.asn)")
        }
        if open.holdTime == 1 || open.holdTime == 2 {
            return BGPDecodeError(code: 2, subcode: 6, reason: "hold time \(open.holdTime) (must be 0 or >= 3)")
        }
        if open.identifier.isUnspecified
            || (settings.asn == settings.localASN && open.identifier == settings.routerId)
        {
            return BGPDecodeError(code: 2, subcode: 3, reason: "BGP identifier \(open.identifier)")
        }
        return nil
    }

    /// RFC 4271 §6.8 with RFC 6286: the side with the higher identifier (then the higher ASN) keeps the
    /// connection it opened.
    static func localWinsCollision(localID: IPv4Address, remoteID: IPv4Address, localASN: UInt32, remoteASN: UInt32)
        -> Bool
    {
        if localID != remoteID { return localID > remoteID }
        return localASN > remoteASN
    }

    private func establish(_ connection: Connection, open: OpenMessage) {
        connection.state = .established(open)
        restartHold(connection)
        // Anything else still around for this peer loses (RFC 4271 §6.8).
        for other in connections.values where other !== connection {
            fail(
                other, .cease(subcode: NotificationMessage.CeaseSubcode.connectionCollisionResolution),
                reason: "collision: the other connection reached Established")
        }
        retryDelay = settings.connectRetrySeconds
        status.establishedCount += 1
        status.inbound = connection.handler.inbound
        status.lastFailure = nil
        ribOut.reset()
        ribOut = AdjRibOut(context: connection.handler.codec)
        _ = ribOut.setDesired(resolvedRoutes())
        setState(.established, reason: nil)
        let updates = ribOut.announceAll()
        logger.info(
            "established (\(connection.handler.inbound ? "inbound" : "outbound")), hold \(connection.holdTime) s, sending \(updates.count) UPDATEs"
        )
        send(updates: updates)
    }

    /// Sends a NOTIFICATION on one connection and closes it.
    private func fail(_ connection: Connection, _ notification: NotificationMessage, reason: String) {
        connection.failure = "\(reason) (sent \(notification))"
        connection.sentNotification = notification
        connection.cancelTimers()
        status.lastErrorSent = notification.description
        status.messagesOut += 1
        logger.notice("sending NOTIFICATION \(notification): \(reason)")
        connection.handler.sendNotificationAndClose(notification)
        publish()
    }

    private func closeAll(notification: NotificationMessage, reason: String) {
        for connection in connections.values {
            fail(connection, notification, reason: reason)
        }
    }

    // MARK: timers

    private func armHold(_ connection: Connection, seconds: Int) {
        connection.holdTimer?.cancel()
        connection.holdTimer = nil
        guard seconds > 0 else { return }
        let id = connection.handler.id
        connection.holdTimer = eventLoop.assumeIsolated().scheduleTask(in: .seconds(Int64(seconds))) {
            guard let connection = self.connections[id] else { return }
            self.fail(
                connection, NotificationMessage(code: NotificationMessage.Code.holdTimerExpired, subcode: 0),
                reason: "hold timer expired (\(seconds) s without a message)")
        }
    }

    private func restartHold(_ connection: Connection) {
        armHold(connection, seconds: connection.holdTime)
    }

    private func armKeepalive(_ connection: Connection) {
        connection.keepaliveTimer?.cancel()
        connection.keepaliveTimer = nil
        guard connection.holdTime > 0 else { return }
        let interval = TimeAmount.milliseconds(Int64(connection.holdTime) * 1000 / 3)
        let id = connection.handler.id
        connection.keepaliveTimer = eventLoop.assumeIsolated().scheduleTask(in: interval) {
            guard let connection = self.connections[id] else { return }
            self.sendOn(connection, [.keepalive])
            self.armKeepalive(connection)
        }
    }

    private func scheduleRetry(afterError: Bool) {
        guard !stopped, !settings.passive else { return }
        let base = afterError ? retryDelay : settings.connectRetrySeconds
        // ±25 % jitter so that many hosts do not reconnect in step after a router restart.
        let delay = base * Double.random(in: 0.75...1.25)
        if afterError { retryDelay = min(settings.maximumRetrySeconds, retryDelay * 2) }
        scheduleConnect(after: delay)
    }

    private func scheduleConnect(after seconds: Double) {
        guard !stopped, !settings.passive else { return }
        retryTask?.cancel()
        retryTask = eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(seconds * 1000))) {
            self.retryTask = nil
            self.connect()
        }
    }

    // MARK: routes

    /// The desired routes with "next hop self" filled in: an unspecified next hop becomes the configured
    /// next hop for its family, else the session's own address of that family.
    private func resolvedRoutes() -> [IPPrefix: RouteAttributes] {
        let local = established?.handler.localAddress?.ipAddress ?? settings.localAddress
        var result: [IPPrefix: RouteAttributes] = [:]
        for (prefix, attributes) in desired {
            var resolved = attributes
            if attributes.nextHop.isUnspecified || attributes.nextHop.family != prefix.family {
                switch prefix.family {
                case .ipv4:
                    if let hop = settings.ipv4NextHop {
                        resolved.nextHop = .v4(hop)
                    } else if let local, local.family == .ipv4 {
                        resolved.nextHop = local
                    }
                case .ipv6:
                    if let hop = settings.ipv6NextHop {
                        resolved.nextHop = .v6(hop)
                    } else if let local, local.family == .ipv6 {
                        resolved.nextHop = local
                    }
                }
            }
            result[prefix] = resolved
        }
        return result
    }

    private func send(updates: [UpdateMessage]) {
        guard !updates.isEmpty, let connection = established else { return }
        let written = connection.handler.send(updates.map { .update($0) })
        status.messagesOut += written
        status.updatesOut += written
        connection.keepaliveTimer.map { _ in armKeepalive(connection) }
        refreshSentCounters()
        publish()
    }

    private func sendOn(_ connection: Connection, _ messages: [BGPMessage]) {
        status.messagesOut += connection.handler.send(messages)
    }

    private func countReceived(_ update: UpdateMessage, disposition: UpdateDisposition) {
        // Only sets of prefixes are kept, never attributes, so a full table costs little.
        for prefix in update.withdrawnPrefixes { receivedPrefixes[prefix.family]?.remove(prefix) }
        if case .treatAsWithdraw = disposition {
            for prefix in update.announcedPrefixes { receivedPrefixes[prefix.family]?.remove(prefix) }
        } else {
            for prefix in update.announcedPrefixes { receivedPrefixes[prefix.family, default: []].insert(prefix) }
        }
        for family in AddressFamily.allCases {
            status.families[family, default: BGPFamilyCounters()].prefixesReceived = receivedPrefixes[family]?.count ?? 0
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

    private func setState(_ state: BGPSessionState, reason: String?) {
        guard state != status.state else { return }
        let from = status.state
        status.state = state
        status.since = .now
        if state != .established { refreshSentCounters() }
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
        var resolved: [IPPrefix: RouteAttributes] = [:]
        for (prefix, attributes) in routes {
            var copy = attributes
            if attributes.nextHop.isUnspecified {
                switch prefix.family {
                case .ipv4:
                    if let hop = settings.ipv4NextHop.map(IPAddress.v4)
                        ?? settings.localAddress.flatMap({ $0.family == .ipv4 ? $0 : nil })
                    {
                        copy.nextHop = hop
                    }
                case .ipv6:
                    if let hop = settings.ipv6NextHop.map(IPAddress.v6)
                        ?? settings.localAddress.flatMap({ $0.family == .ipv6 ? $0 : nil })
                    {
                        copy.nextHop = hop
                    }
                }
            }
            resolved[prefix] = copy
        }
        _ = rib.setDesired(resolved)
        return rib.announceAll()
    }
}
