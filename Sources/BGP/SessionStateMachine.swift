// The BGP session FSM (RFC 4271 §8, simplified to what a host speaker needs) as a value type: events go
// in with the current time, actions come out for the BGPSession shell to carry out (send, timers, TCP).
// It negotiates hold time, families and 4-octet AS from the OPENs, and backs off after errors.
// RFC 4271 §8 and §6.8, RFC 6286, RFC 5492, RFC 4760, RFC 6793, RFC 2918, RFC 7313 (subtypes received),
// RFC 9003, RFC 9687 (send hold timer), RFC 4486 (Cease/1 data).
import NetAddress

/// The session states (RFC 4271 §8.2.2); the raw values are the RFC's words, as status, metrics and logs show them.
/// The one session-state enum: BGPSession, status and metrics all use it.
public enum SessionState: String, Hashable, Sendable, CaseIterable, Codable {
    /// Not trying: stopped by the operator, or waiting out the idle hold time after an error.
    case idle = "Idle"
    /// An outbound TCP connection is being opened.
    case connect = "Connect"
    /// Waiting for the peer to connect (passive peer, or between outbound attempts).
    case active = "Active"
    /// TCP is up and our OPEN is sent; waiting for the peer's OPEN (the OPEN wait, `openSentHoldTime`).
    case openSent = "OpenSent"
    /// OPENs exchanged and our KEEPALIVE sent; waiting for the peer's KEEPALIVE.
    case openConfirm = "OpenConfirm"
    /// Routes can be exchanged.
    case established = "Established"
}

/// Which side opened a TCP connection.
public enum ConnectionDirection: String, Hashable, Sendable {
    /// We connected to the peer.
    case outbound
    /// The peer connected to us.
    case inbound
}

/// The timers the shell runs for the FSM; arming one that runs replaces it.
public enum SessionTimer: String, Hashable, Sendable, CaseIterable {
    /// Time between outbound connection attempts.
    case connectRetry
    /// Receive hold timer: the OPEN wait in OpenSent, then the negotiated hold time.
    case hold
    /// Send hold timer (RFC 9687): runs while the peer does not take our writes; on expiry the
    /// session is reset with NOTIFICATION 8 (Send Hold Timer Expired).
    case sendHold
    /// When to send the next KEEPALIVE (a third of the hold time).
    case keepalive
    /// Idle hold: the back-off after an error before starting again.
    case idleHold
}

/// What happens to the FSM.
public enum SessionEvent: Hashable, Sendable {
    /// The operator (or the daemon) wants the session up; also resets the error back-off.
    case start
    /// The operator wants the session down; an Established session gets Cease/Administrative Shutdown
    /// with this RFC 9003 shutdown communication.
    case stop(shutdownMessage: String?)
    /// A TCP connection is up.
    case tcpConnected(ConnectionDirection)
    /// An outbound connection attempt failed.
    case tcpFailed(reason: String)
    /// The connection closed or failed under us.
    case tcpClosed(reason: String)
    case messageReceived(BGPMessage)
    /// A received message could not be decoded; its NOTIFICATION is sent.
    case decodeError(BGPDecodeError)
    case timerFired(SessionTimer)
    /// Collision detection decided this connection loses (see `CollisionResolution`); Cease/7 is sent.
    case collisionLost
    /// Messages wait for the connection, which has taken none since: the send hold timer starts (RFC 9687).
    case sendBlocked
    /// The connection took some of our messages (progress): the send hold timer stops; the shell reports
    /// `sendBlocked` again at once when more still wait, which restarts it.
    case sendUnblocked
    /// The peer announced more prefixes of `family` than `limit`: Cease/Maximum Number of Prefixes Reached
    /// (RFC 4486) with the family and the limit, then the error back-off.
    case prefixLimitExceeded(family: BGPFamily, limit: UInt32)
}

/// The last error of a session, for status output.
public struct LastError: Hashable, Sendable, CustomStringConvertible {
    /// Who noticed it.
    public enum Direction: String, Hashable, Sendable {
        /// We sent this NOTIFICATION.
        case sent
        /// The peer sent this NOTIFICATION.
        case received
        /// No NOTIFICATION: a TCP failure or close.
        case local
    }

    /// Who noticed it.
    public var direction: Direction
    /// The NOTIFICATION sent or received, if any.
    public var notification: NotificationMessage?
    /// What went wrong, in words.
    public var reason: String
    /// The time passed with the event that caused it.
    public var time: Duration

    public var description: String {
        switch direction {
        case .sent: "sent \(notification.map(\.description) ?? ""): \(reason)"
        case .received: "received \(notification.map(\.description) ?? "")"
        case .local: reason
        }
    }
}

/// What the shell must do, in order.
public enum SessionAction: Hashable, Sendable {
    /// Open an outbound TCP connection to the peer; report `tcpConnected(.outbound)` or `tcpFailed`.
    case connect
    /// Abandon an outbound attempt in progress (an inbound connection was taken instead).
    case cancelConnect
    /// Encode (with `codecContext`) and send.
    case sendMessage(BGPMessage)
    case armTimer(SessionTimer, Duration)
    case cancelTimer(SessionTimer)
    /// Close the connection (after flushing any message sent just before).
    case closeConnection
    case reportStateChange(old: SessionState, new: SessionState)
    case reportError(LastError)
    /// The session reached Established: send `AdjRibOut.announceAll()` (full set, then End-of-RIB).
    case announceAll
    /// The peer asked for our routes again: send `AdjRibOut.refresh(family)`.
    case peerRefreshRequested(BGPFamily)
}

/// How one peering is set up.
public struct SessionConfiguration: Hashable, Sendable {
    /// Our ASN (2- or 4-octet).
    public var localASN: UInt32
    /// The ASN the peer must present (2/2 Bad Peer AS otherwise).
    public var peerASN: UInt32
    /// Our BGP identifier; must not be 0.0.0.0, even on IPv6-only hosts.
    public var routerID: IPv4Address
    /// Proposed hold time: 0 (no keepalives) or at least 3 seconds. The default is 90.
    public var holdTime: UInt16
    /// Families to advertise in multiprotocol capabilities.
    public var families: [BGPFamily]
    /// Never connect out; wait for the peer.
    public var passive: Bool
    /// Time between outbound connection attempts. The default is 30 seconds.
    public var connectRetryTime: Duration
    /// Hold timer while waiting for the peer's OPEN (RFC 4271 suggests 4 minutes).
    public var openSentHoldTime: Duration
    /// First back-off after an error; doubles with each further error. The default is 5 seconds.
    public var idleHoldTime: Duration
    /// Largest back-off. The default is 300 seconds.
    public var maxIdleHoldTime: Duration
    /// Wait after an Established session ended cleanly (Cease from the peer). The default is 1 second.
    public var fastReconnectTime: Duration
    /// An Established session lasting this long clears the error count. The default is 60 seconds.
    public var stableSessionTime: Duration
    /// How long the peer may leave our writes untaken before the session is reset (RFC 9687) when the
    /// negotiated hold time is 0; otherwise the send hold time is the negotiated hold time. The default
    /// is 480 seconds.
    public var sendHoldTimeWithoutHold: Duration
    /// The Graceful Restart capability (RFC 4724) to send; nil sends none, the OPEN of before it existed.
    public var gracefulRestart: GracefulRestartCapability? = nil

    public init(
        localASN: UInt32, peerASN: UInt32, routerID: IPv4Address, holdTime: UInt16 = 90,
        families: [BGPFamily] = [.ipv4Unicast], passive: Bool = false, connectRetryTime: Duration = .seconds(30),
        openSentHoldTime: Duration = .seconds(240), idleHoldTime: Duration = .seconds(5),
        maxIdleHoldTime: Duration = .seconds(300), fastReconnectTime: Duration = .seconds(1),
        stableSessionTime: Duration = .seconds(60), sendHoldTimeWithoutHold: Duration = .seconds(480)
    ) {
        self.localASN = localASN
        self.peerASN = peerASN
        self.routerID = routerID
        self.holdTime = holdTime
        self.families = families
        self.passive = passive
        self.connectRetryTime = connectRetryTime
        self.openSentHoldTime = openSentHoldTime
        self.idleHoldTime = idleHoldTime
        self.maxIdleHoldTime = maxIdleHoldTime
        self.fastReconnectTime = fastReconnectTime
        self.stableSessionTime = stableSessionTime
        self.sendHoldTimeWithoutHold = sendHoldTimeWithoutHold
    }

    /// The OPEN wait an operator expects: as long as the hold time they configured (a peer silent that
    /// long is gone), 240 s (RFC 4271's suggestion) when the hold time is 0, never more than 240 s.
    public static func openWait(holdTime: UInt16) -> Duration {
        holdTime == 0 ? .seconds(240) : .seconds(min(240, Int(holdTime)))
    }

    /// iBGP when both ASNs are equal.
    public var isInternal: Bool { localASN == peerASN }

    /// The OPEN we send: AS_TRANS only for a 4-octet ASN, MP for each family, route refresh, AS4, and
    /// Graceful Restart when configured.
    public var openMessage: OpenMessage {
        OpenMessage(
            asn: localASN, holdTime: holdTime, identifier: routerID, families: families,
            gracefulRestart: gracefulRestart)
    }
}

/// What the two OPENs settled.
public struct NegotiatedSession: Hashable, Sendable {
    /// The peer's OPEN as received.
    public var peerOpen: OpenMessage
    /// min(ours, peer's) in seconds; 0 disables the hold and keepalive timers.
    public var holdTime: UInt16
    /// A third of the hold time, in seconds (0 when the hold time is 0).
    public var keepaliveTime: UInt16
    public var fourOctetAS: Bool
    /// Families both sides advertised (IPv4 unicast implied for a peer with no MP capability).
    public var families: Set<BGPFamily>
    /// The peer accepts ROUTE-REFRESH from us.
    public var peerSupportsRouteRefresh: Bool
    /// How UPDATEs are encoded and decoded on this session.
    public var codecContext: CodecContext
}

/// The FSM of one BGP session. Feed it events with `handle(_:now:jitter:)` and carry out the returned
/// actions in order. It follows one connection at a time: for a second connection during OpenSent or
/// OpenConfirm the shell runs a second machine and uses `CollisionResolution` to pick the survivor.
public struct SessionStateMachine: Sendable {
    public private(set) var configuration: SessionConfiguration
    public private(set) var state: SessionState = .idle
    /// Set from the OPEN exchange (OpenConfirm and Established).
    public private(set) var negotiated: NegotiatedSession?
    public private(set) var lastError: LastError?
    /// When the session last reached Established.
    public private(set) var establishedAt: Duration?
    /// Errors since the last clean session or start; drives the idle hold back-off.
    public private(set) var consecutiveErrors = 0
    /// False after `stop`: the machine stays Idle until `start`.
    public private(set) var isStarted = false
    /// The connection being followed.
    public private(set) var direction: ConnectionDirection?
    /// True while the connection does not take our writes (between `sendBlocked` and `sendUnblocked`).
    public private(set) var sendBlocked = false

    public init(configuration: SessionConfiguration) {
        self.configuration = configuration
    }

    /// Sets the R bit (RFC 4724 §3) of the Graceful Restart capability in the OPENs sent from now on; without
    /// the capability configured, nothing changes.
    public mutating func setRestarted(_ restarted: Bool) {
        configuration.gracefulRestart?.restarted = restarted
    }

    /// True once OPENs are exchanged when both sides sent the Graceful Restart capability (RFC 4724 §4).
    public var gracefulRestartNegotiated: Bool {
        configuration.gracefulRestart != nil && negotiated?.peerOpen.gracefulRestart != nil
    }

    /// The codec context for this session: negotiated once OPENs are exchanged, a 2-octet IPv4-only
    /// context before (only OPEN, NOTIFICATION and KEEPALIVE are valid then).
    public var codecContext: CodecContext {
        negotiated?.codecContext
            ?? CodecContext(fourOctetAS: false, families: [.ipv4Unicast], isInternal: configuration.isInternal)
    }

    /// Handles one event at time `now` (any monotonic clock, as a Duration since its origin). `jitter`,
    /// in 0…1, spreads the idle hold back-off (pass a random number; tests pass fixed ones).
    public mutating func handle(_ event: SessionEvent, now: Duration, jitter: Double = 0) -> [SessionAction] {
        var actions: [SessionAction] = []
        switch (state, event) {
        case (_, .start):
            consecutiveErrors = 0
            isStarted = true
            if state == .idle {
                actions.append(.cancelTimer(.idleHold))
                begin(&actions)
            }

        case (_, .stop(let message)):
            isStarted = false
            actions.append(.cancelTimer(.idleHold))
            if state == .openSent || state == .openConfirm || state == .established {
                let notification = NotificationMessage.cease(
                    subcode: NotificationMessage.CeaseSubcode.administrativeShutdown, shutdownMessage: message)
                actions.append(.sendMessage(.notification(notification)))
                actions.append(.closeConnection)
            } else if state == .connect {
                actions.append(.cancelConnect)
            }
            enterIdle(&actions, idleHold: nil)

        case (.idle, .timerFired(.idleHold)):
            if isStarted { begin(&actions) }

        case (.idle, .tcpConnected):
            actions.append(.closeConnection)  // Idle refuses connections (RFC 4271 §8.2.2)

        case (.idle, _):
            break

        case (_, .collisionLost):
            isStarted = false
            if state == .openSent || state == .openConfirm || state == .established {
                let notification = NotificationMessage.cease(
                    subcode: NotificationMessage.CeaseSubcode.connectionCollisionResolution)
                actions.append(.sendMessage(.notification(notification)))
            }
            actions.append(.closeConnection)
            enterIdle(&actions, idleHold: nil)

        case (.connect, .tcpConnected(let direction)), (.active, .tcpConnected(let direction)):
            if state == .connect && direction == .inbound { actions.append(.cancelConnect) }
            self.direction = direction
            actions.append(.cancelTimer(.connectRetry))
            actions.append(.sendMessage(.open(configuration.openMessage)))
            actions.append(.armTimer(.hold, configuration.openSentHoldTime))
            transition(to: .openSent, &actions)

        case (.connect, .tcpFailed(let reason)):
            // Wait for the peer to connect to us until the connect retry timer (still running) fires.
            record(LastError(direction: .local, reason: "connect failed: \(reason)", time: now), &actions)
            transition(to: .active, &actions)

        case (.connect, .timerFired(.connectRetry)):
            actions.append(.cancelConnect)
            actions.append(.connect)
            actions.append(.armTimer(.connectRetry, configuration.connectRetryTime))

        case (.active, .timerFired(.connectRetry)):
            guard !configuration.passive else { break }  // a stale timer; passive peers never connect out
            actions.append(.connect)
            actions.append(.armTimer(.connectRetry, configuration.connectRetryTime))
            transition(to: .connect, &actions)

        case (.connect, _), (.active, _):
            break

        case (_, .tcpConnected):
            break  // a second connection is the shell's to resolve (CollisionResolution)

        case (.openSent, .tcpFailed(let reason)), (.openSent, .tcpClosed(let reason)):
            // RFC 4271 §8.2.2, OpenSent, event 18: back to Active, where a connection from the peer is
            // still taken. Our own next attempt waits the back-off. (Idle would refuse the peer too:
            // two speakers whose first connections crossed could then refuse each other in turn for ever.)
            consecutiveErrors += 1
            record(LastError(direction: .local, reason: "connection closed: \(reason)", time: now), &actions)
            actions.append(.cancelTimer(.hold))
            negotiated = nil
            direction = nil
            actions.append(.cancelTimer(.sendHold))
            sendBlocked = false
            // A passive peer never connects out (RFC 4271 §8.1.1, PassiveTcpEstablishment): it only waits.
            if !configuration.passive { actions.append(.armTimer(.connectRetry, idleHoldTime(jitter: jitter))) }
            transition(to: .active, &actions)

        case (_, .tcpFailed(let reason)), (_, .tcpClosed(let reason)):
            fail(LastError(direction: .local, reason: "connection closed: \(reason)", time: now), &actions, now, jitter)

        case (_, .decodeError(let error)):
            sendAndFail(error.notification, reason: error.reason, &actions, now, jitter)

        case (_, .sendBlocked):
            guard !sendBlocked else { break }
            sendBlocked = true
            actions.append(.armTimer(.sendHold, sendHoldTime))

        case (_, .sendUnblocked):
            guard sendBlocked else { break }
            sendBlocked = false
            actions.append(.cancelTimer(.sendHold))

        case (_, .timerFired(.sendHold)):
            // RFC 9687 §4: try to send the NOTIFICATION (the shell gives it a short time) and close.
            let notification = NotificationMessage(code: NotificationMessage.Code.sendHoldTimerExpired, subcode: 0)
            let reason = "the peer took none of our messages within the send hold time (\(sendHoldTime))"
            sendAndFail(notification, reason: reason, &actions, now, jitter)

        case (_, .prefixLimitExceeded(let family, let limit)):
            // RFC 4486 §4: the data is AFI (2 octets), SAFI (1) and the upper bound (4).
            let data: [UInt8] = [
                UInt8(family.afi >> 8), UInt8(family.afi & 0xFF), family.safi, UInt8(limit >> 24),
                UInt8((limit >> 16) & 0xFF), UInt8((limit >> 8) & 0xFF), UInt8(limit & 0xFF),
            ]
            let notification = NotificationMessage(
                code: NotificationMessage.Code.cease,
                subcode: NotificationMessage.CeaseSubcode.maximumPrefixes, data: data)
            let reason = "the peer sent more than \(limit) \(family) prefixes (maxPrefixes)"
            sendAndFail(notification, reason: reason, &actions, now, jitter)

        case (_, .timerFired(.hold)):
            let notification = NotificationMessage(code: NotificationMessage.Code.holdTimerExpired, subcode: 0)
            let reason = "no message from the peer within the hold time"
            sendAndFail(notification, reason: reason, &actions, now, jitter)

        case (.openConfirm, .timerFired(.keepalive)), (.established, .timerFired(.keepalive)):
            actions.append(.sendMessage(.keepalive))
            if let negotiated, negotiated.keepaliveTime > 0 {
                actions.append(.armTimer(.keepalive, .seconds(Int(negotiated.keepaliveTime))))
            }

        case (_, .timerFired):
            break  // a stale timer the shell could not cancel in time

        case (_, .messageReceived(.notification(let notification))):
            actions.append(.closeConnection)
            let error = LastError(direction: .received, notification: notification, reason: "", time: now)
            // A Cease ending an Established session is a clean close: reconnect quickly.
            if state == .established && notification.code == NotificationMessage.Code.cease {
                let stable = establishedAt.map { now - $0 >= configuration.stableSessionTime } ?? false
                if stable { consecutiveErrors = 0 }
                record(error, &actions)
                enterIdle(&actions, idleHold: configuration.fastReconnectTime)
            } else {
                fail(error, &actions, now, jitter)
            }

        case (.openSent, .messageReceived(.open(let open))):
            receiveOpen(open, &actions, now, jitter)

        case (.openConfirm, .messageReceived(.keepalive)):
            establishedAt = now
            restartHoldTimer(&actions)
            transition(to: .established, &actions)
            actions.append(.announceAll)

        case (.established, .messageReceived(.routeRefresh(let refresh))):
            restartHoldTimer(&actions)
            // RFC 7313: subtypes other than 0 (BoRR/EoRR and unknown ones) need no answer.
            if refresh.subtype == 0, let negotiated, negotiated.families.contains(refresh.family) {
                actions.append(.peerRefreshRequested(refresh.family))
            }

        case (.established, .messageReceived(.keepalive)), (.established, .messageReceived(.update)):
            restartHoldTimer(&actions)

        case (.openSent, .messageReceived(let message)), (.openConfirm, .messageReceived(let message)),
            (.established, .messageReceived(let message)):
            // RFC 6608 subcodes: 1 OpenSent, 2 OpenConfirm, 3 Established.
            let subcode: UInt8 = state == .openSent ? 1 : state == .openConfirm ? 2 : 3
            let notification = NotificationMessage(code: NotificationMessage.Code.fsm, subcode: subcode)
            let reason = "unexpected \(message.typeName) in \(state.rawValue)"
            sendAndFail(notification, reason: reason, &actions, now, jitter)
        }
        return actions
    }

    /// Leaves Idle: connect out, or wait for the peer when passive.
    private mutating func begin(_ actions: inout [SessionAction]) {
        if configuration.passive {
            transition(to: .active, &actions)
        } else {
            actions.append(.connect)
            actions.append(.armTimer(.connectRetry, configuration.connectRetryTime))
            transition(to: .connect, &actions)
        }
    }

    private mutating func receiveOpen(
        _ open: OpenMessage, _ actions: inout [SessionAction], _ now: Duration, _ jitter: Double
    ) {
        func refuse(_ subcode: UInt8, data: [UInt8] = [], _ reason: String) {
            let notification = NotificationMessage(code: NotificationMessage.Code.open, subcode: subcode, data: data)
            sendAndFail(notification, reason: reason, &actions, now, jitter)
        }
        let local = configuration.openMessage
        guard open.asn == configuration.peerASN else {
            return refuse(2, "peer presented AS \(open.asn), expected AS \(configuration.peerASN)")
        }
        guard
            open.myAS == UInt16(truncatingIfNeeded: open.asn)
                || (open.asn > 0xFFFF && UInt32(open.myAS) == BGPConstants.asTrans)
        else {
            return refuse(2, "peer's My AS \(open.myAS) does not match its 4-octet AS \(open.asn)")
        }
        guard open.identifier.value != 0 else { return refuse(3, "peer's BGP identifier is 0.0.0.0") }
        if configuration.isInternal && open.identifier == configuration.routerID {
            return refuse(3, "iBGP peer uses our own BGP identifier \(open.identifier)")
        }
        guard open.holdTime == 0 || open.holdTime >= 3 else { return refuse(6, "peer hold time \(open.holdTime) s") }
        let families = Set(configuration.families).intersection(open.families)
        guard !families.isEmpty else {
            // RFC 5492 §3: the data lists the capabilities we needed.
            var data: [UInt8] = []
            for capability in local.capabilities where capability.code == 1 {
                data += [capability.code, UInt8(capability.encodedValue.count)] + capability.encodedValue
            }
            return refuse(7, data: data, "no address family in common (peer offers \(open.families.sorted()))")
        }
        let hold = min(configuration.holdTime, open.holdTime)
        let fourOctet = open.supportsFourOctetAS
        negotiated = NegotiatedSession(
            peerOpen: open, holdTime: hold, keepaliveTime: hold / 3, fourOctetAS: fourOctet, families: families,
            peerSupportsRouteRefresh: open.supportsRouteRefresh,
            codecContext: CodecContext(fourOctetAS: fourOctet, families: families, isInternal: configuration.isInternal)
        )
        actions.append(.sendMessage(.keepalive))
        if hold > 0 {
            actions.append(.armTimer(.hold, .seconds(Int(hold))))
            actions.append(.armTimer(.keepalive, .seconds(Int(hold / 3))))
        } else {
            actions.append(.cancelTimer(.hold))
        }
        transition(to: .openConfirm, &actions)
    }

    /// The send hold time (RFC 9687): the negotiated hold time, the OPEN wait before OPENs are exchanged,
    /// `sendHoldTimeWithoutHold` when the hold time is 0.
    public var sendHoldTime: Duration {
        guard let negotiated else { return configuration.openSentHoldTime }
        return negotiated.holdTime > 0 ? .seconds(Int(negotiated.holdTime)) : configuration.sendHoldTimeWithoutHold
    }

    private func restartHoldTimer(_ actions: inout [SessionAction]) {
        if let negotiated, negotiated.holdTime > 0 {
            actions.append(.armTimer(.hold, .seconds(Int(negotiated.holdTime))))
        }
    }

    /// Sends a NOTIFICATION, closes the connection and fails with it as the last error sent.
    private mutating func sendAndFail(
        _ notification: NotificationMessage, reason: String, _ actions: inout [SessionAction], _ now: Duration,
        _ jitter: Double
    ) {
        actions.append(.sendMessage(.notification(notification)))
        actions.append(.closeConnection)
        fail(LastError(direction: .sent, notification: notification, reason: reason, time: now), &actions, now, jitter)
    }

    /// An error ends the connection: back off exponentially (with jitter) before starting again.
    private mutating func fail(_ error: LastError, _ actions: inout [SessionAction], _ now: Duration, _ jitter: Double)
    {
        if state == .established, let establishedAt, now - establishedAt >= configuration.stableSessionTime {
            consecutiveErrors = 0
        }
        consecutiveErrors += 1
        record(error, &actions)
        enterIdle(&actions, idleHold: idleHoldTime(jitter: jitter))
    }

    /// The back-off after the current number of errors: idleHoldTime × 2^(errors−1), at most
    /// maxIdleHoldTime, then scaled by 0.75…1 according to `jitter`.
    public func idleHoldTime(jitter: Double) -> Duration {
        let doublings = min(max(consecutiveErrors - 1, 0), 30)
        var base = configuration.idleHoldTime * (1 << doublings)
        if base > configuration.maxIdleHoldTime { base = configuration.maxIdleHoldTime }
        return base * (0.75 + 0.25 * min(max(jitter, 0), 1))
    }

    private mutating func record(_ error: LastError, _ actions: inout [SessionAction]) {
        lastError = error
        actions.append(.reportError(error))
    }

    private mutating func enterIdle(_ actions: inout [SessionAction], idleHold: Duration?) {
        for timer in [SessionTimer.connectRetry, .hold, .keepalive, .sendHold] { actions.append(.cancelTimer(timer)) }
        sendBlocked = false
        negotiated = nil
        direction = nil
        transition(to: .idle, &actions)
        if let idleHold, isStarted { actions.append(.armTimer(.idleHold, idleHold)) }
    }

    private mutating func transition(to new: SessionState, _ actions: inout [SessionAction]) {
        guard new != state else { return }
        actions.append(.reportStateChange(old: state, new: new))
        state = new
    }
}

/// Connection collision detection (RFC 4271 §6.8, RFC 6286 §2.3).
public enum CollisionResolution {
    /// One of two connections to the same peer, as collision detection sees it.
    public struct Contender: Hashable, Sendable {
        public var state: SessionState
        public var direction: ConnectionDirection?
        /// The BGP identifier and ASN from the peer's OPEN on this connection; nil before it arrived.
        public var peerIdentifier: IPv4Address?
        public var peerASN: UInt32?

        public init(
            state: SessionState, direction: ConnectionDirection?, peerIdentifier: IPv4Address?, peerASN: UInt32?
        ) {
            self.state = state
            self.direction = direction
            self.peerIdentifier = peerIdentifier
            self.peerASN = peerASN
        }
    }

    /// Which of two connections.
    public enum Which: Hashable, Sendable {
        case older
        case newer
    }

    /// The connection to close, or nil while there is no collision to resolve. A collision exists only
    /// between a connection whose OPEN is known (OpenConfirm) and one that is OpenConfirm or Established
    /// (§6.8): a connection that has not sent its OPEN (Connect, Active, OpenSent) never wins, so an idle
    /// TCP connection from the peer's address cannot make us close the real one. Against Established the
    /// new connection loses; two OpenConfirm connections opened by different sides are settled by
    /// `survivor`; two opened by the same side (a restarted peer) keep the newer one.
    public static func loser(
        older: Contender, newer: Contender, localIdentifier: IPv4Address, localASN: UInt32
    ) -> Which? {
        switch (older.state, newer.state) {
        case (.established, .openConfirm): return .newer
        case (.openConfirm, .established): return .older
        case (.openConfirm, .openConfirm): break
        default: return nil
        }
        guard let olderDirection = older.direction, let newerDirection = newer.direction,
            olderDirection != newerDirection, let identifier = newer.peerIdentifier ?? older.peerIdentifier
        else { return .older }
        let keep = survivor(
            localIdentifier: localIdentifier, remoteIdentifier: identifier, localASN: localASN,
            remoteASN: newer.peerASN ?? older.peerASN ?? 0)
        return newerDirection == keep ? .older : .newer
    }

    /// Which of two connections to the same peer survives: the one opened by the side with the higher
    /// BGP identifier; with equal identifiers (possible for eBGP since RFC 6286), the one opened by the
    /// side with the higher ASN. The other gets Cease/Connection Collision Resolution.
    public static func survivor(
        localIdentifier: IPv4Address, remoteIdentifier: IPv4Address, localASN: UInt32, remoteASN: UInt32
    ) -> ConnectionDirection {
        if localIdentifier != remoteIdentifier {
            return localIdentifier > remoteIdentifier ? .outbound : .inbound
        }
        return localASN > remoteASN ? .outbound : .inbound
    }
}
