// The BFD session (RFC 5880 §6) in asynchronous mode as a value type: events go in with the current time,
// actions come out for the I/O shell to carry out (send a Control packet, arm or cancel a timer, report a
// state change). It runs the three-way handshake, the reception rules that need the session, timer
// negotiation with the 1 s rate while not Up, Poll/Final sequences when our intervals change, per-packet
// jitter, failure detection, a rate limit on Finals (one per our desired min TX, so a Poll flood is not
// answered packet for packet), and Keyed SHA1 / Meticulous Keyed SHA1 authentication with the sequence
// number rules. No Echo function, never Demand mode itself (a peer's Demand mode is honoured). The shell
// finds the session for a packet (RFC 5881 demultiplexing).
// RFC 5880 §6.2, §6.5, §6.7.1, §6.7.4, §6.8.1–§6.8.7, §6.8.12, §6.8.16.

/// How one session is set up.
public struct BFDConfiguration: Hashable, Sendable {
    /// Our discriminator, unique among this host's sessions and never 0.
    public var localDiscriminator: UInt32
    /// How often we would like to send once Up. The default is 300 milliseconds.
    public var desiredMinTxInterval: Duration
    /// How often we can take packets from the peer. The default is 300 milliseconds.
    public var requiredMinRxInterval: Duration
    /// How many of the peer's packets may go missing before the session is declared down (the peer uses
    /// ours for its detection time). The default is 3.
    public var detectMultiplier: UInt8
    /// Sign every packet and accept only packets signed with this key; nil: no authentication.
    public var authentication: BFDAuthentication?

    /// Intervals are rounded down to whole microseconds and are at least 1 µs (0 is reserved for the
    /// transmit interval, and a receive interval of 0 would leave nothing to detect); a detect multiplier
    /// of 0 counts as 1.
    public init(
        localDiscriminator: UInt32, desiredMinTxInterval: Duration = .milliseconds(300),
        requiredMinRxInterval: Duration = .milliseconds(300), detectMultiplier: UInt8 = 3,
        authentication: BFDAuthentication? = nil
    ) {
        precondition(localDiscriminator != 0, "a BFD discriminator must not be 0")
        self.authentication = authentication
        self.localDiscriminator = localDiscriminator
        self.desiredMinTxInterval = desiredMinTxInterval
        self.requiredMinRxInterval = requiredMinRxInterval
        self.detectMultiplier = max(detectMultiplier, 1)
    }
}

/// The timers the shell runs for the machine; arming one that runs replaces it.
public enum BFDTimer: String, Hashable, Sendable, CaseIterable {
    /// When to send the next periodic Control packet.
    case transmit
    /// The detection time: no packet from the peer before it fires means the path has failed.
    case detection
}

/// What happens to the session.
public enum BFDEvent: Hashable, Sendable {
    /// Begin: send the first packet (state Down) and transmit periodically. Other events before it are
    /// ignored.
    case start
    /// A packet for this session that decoded cleanly (`BFDControlPacket(decoding:)`) and passed the
    /// shell's TTL check.
    case packetReceived(BFDControlPacket)
    case timerFired(BFDTimer)
    /// The operator holds the session down: AdminDown with diagnostic 7, still sent to the peer.
    case adminDown
    /// The operator releases the session: back to Down, forming it again.
    case adminUp
}

/// Why a decoded packet was dropped by the session (RFC 5880 §6.8.6, rules that need the session).
public enum BFDDiscardReason: Hashable, Sendable, CustomStringConvertible {
    /// Your Discriminator is set but is not ours.
    case unknownDiscriminator(UInt32)
    /// Your Discriminator is 0 although the peer says it is in this state (only Down and AdminDown may
    /// leave it 0).
    case zeroYourDiscriminator(peerState: BFDState)
    /// Authentication is in use and the packet has none (A bit clear): a spoofed or misconfigured packet.
    case authenticationMissing
    /// The packet is authenticated and this session uses no authentication.
    case authenticationNotInUse
    /// The packet's Auth Type or Key ID is not the session's.
    case authenticationKeyMismatch(type: BFDAuthenticationType, keyID: UInt8)
    /// The hash is not the one the session's key gives.
    case authenticationFailed
    /// The sequence number is outside the window after the last accepted one (RFC 5880 §6.7.4):
    /// a replayed or very late packet.
    case sequenceOutOfWindow(received: UInt32, last: UInt32)

    public var description: String {
        switch self {
        case .unknownDiscriminator(let value): "your discriminator \(value) is not this session's"
        case .zeroYourDiscriminator(let state): "your discriminator 0 from a peer in state \(state)"
        case .authenticationMissing: "no authentication, but the session authenticates"
        case .authenticationNotInUse: "authenticated, but the session uses no authentication"
        case .authenticationKeyMismatch(let type, let keyID): "\(type) key \(keyID) is not the session's key"
        case .authenticationFailed: "authentication hash does not match the key"
        case .sequenceOutOfWindow(let received, let last): "sequence number \(received) out of window (last \(last))"
        }
    }
}

/// What the shell must do, in order.
public enum BFDAction: Hashable, Sendable {
    /// Encode and send this packet to the peer now.
    case send(BFDControlPacket)
    case armTimer(BFDTimer, Duration)
    case cancelTimer(BFDTimer)
    /// The session changed state; `diagnostic` says why (it is also sent to the peer).
    case reportStateChange(old: BFDState, new: BFDState, diagnostic: BFDDiagnostic)
    /// A received packet was dropped; for counters and debug logs.
    case discarded(BFDDiscardReason)
}

/// The state of one BFD session. Feed it events with `handle(_:now:jitter:)` and carry out the returned
/// actions in order.
///
/// Poll Sequences run only while Up (including the one that announces the fast rate on reaching Up):
/// outside Up nothing depends on the peer having seen new intervals, so they take effect at once and
/// travel in every packet.
public struct BFDStateMachine: Sendable {
    /// The slowest rule of RFC 5880 §6.8.3: while not Up, send no faster than once a second.
    public static let slowTransmitInterval: Duration = .seconds(1)

    public private(set) var configuration: BFDConfiguration
    /// bfd.SessionState.
    public private(set) var state: BFDState = .down
    /// bfd.LocalDiag: why the session last went down (No Diagnostic once Up again).
    public private(set) var diagnostic: BFDDiagnostic = .none
    /// False until `.start`.
    public private(set) var isStarted = false
    /// bfd.RemoteSessionState.
    public private(set) var remoteState: BFDState = .down
    /// bfd.RemoteDiscr; 0 until the peer is heard, and again after a detection time of silence.
    public private(set) var remoteDiscriminator: UInt32 = 0
    /// The diagnostic in the peer's last packet.
    public private(set) var remoteDiagnostic: BFDDiagnostic = .none
    /// A Poll Sequence is running: our packets carry P until the peer answers with F.
    public private(set) var isPolling = false
    /// The peer polled and its Final has not gone out yet (held back by the rate limit on Finals).
    public private(set) var owesFinal = false
    /// When the last packet with F was sent.
    private var lastFinalSent: Duration?

    // Authentication sequence numbers (RFC 5880 §6.8.1): ours, and the last one accepted from the peer.
    private var transmitSequence: UInt32
    private var receiveSequence: UInt32?
    /// bfd.AuthSeqKnown ends after twice the detection time without an authenticated packet.
    private var receiveSequenceExpiry: Duration = .zero

    // What the peer's last packet said (RFC 5880 §6.8.1 initial values).
    private var remoteMinRx: UInt32 = 1
    private var remoteDesiredMinTx: UInt32 = 0
    private var remoteDetectMultiplier: UInt8 = 0
    private var remoteDemand = false

    // Our intervals in microseconds: what our packets say, and what is in force for our transmit rate and
    // for the detection time. They differ only during a Poll Sequence (RFC 5880 §6.8.3).
    private var advertisedTx: UInt32
    private var advertisedRx: UInt32
    private var txInForce: UInt32
    private var rxInForce: UInt32
    /// When the transmit timer is due, if armed.
    private var transmitDeadline: Duration?

    /// `initialSequence` starts our authentication sequence numbers; pass a random one (RFC 5880 §6.8.1).
    public init(configuration: BFDConfiguration, initialSequence: UInt32 = 0) {
        self.configuration = configuration
        transmitSequence = initialSequence
        advertisedTx = max(microseconds(configuration.desiredMinTxInterval), microseconds(Self.slowTransmitInterval))
        advertisedRx = microseconds(configuration.requiredMinRxInterval)
        txInForce = advertisedTx
        rxInForce = advertisedRx
    }

    /// The interval between periodic packets before jitter: max(our desired min TX in force, the peer's
    /// required min RX) (RFC 5880 §6.8.2).
    public var transmitInterval: Duration { .microseconds(Int64(max(txInForce, remoteMinRx))) }

    /// The detection time in asynchronous mode, or nil before the peer is heard: the peer's detect
    /// multiplier × max(our required min RX in force, the peer's desired min TX) (RFC 5880 §6.8.4).
    public var detectionTime: Duration? {
        guard remoteDetectMultiplier > 0 else { return nil }
        return .microseconds(Int64(remoteDetectMultiplier) * Int64(max(rxInForce, remoteDesiredMinTx)))
    }

    /// The least time between two packets with F: our advertised desired min TX (at most the one in force).
    /// RFC 5880 §6.8.7 lets a system limit the rate of Finals as long as its advertised Desired Min TX
    /// Interval is no shorter than the limit; without a limit a Poll flood is answered packet for packet.
    public var finalInterval: Duration { .microseconds(Int64(min(advertisedTx, txInForce))) }

    /// Periodic packets are sent: not when the peer asks for none (required min RX 0), nor when it runs
    /// Demand mode with both sides Up and no Poll Sequence running (RFC 5880 §6.8.7).
    public var isTransmittingPeriodically: Bool {
        guard isStarted, remoteMinRx != 0 else { return false }
        return !(remoteDemand && state == .up && remoteState == .up && !isPolling)
    }

    /// The delay before the next periodic packet: the transmit interval reduced by 0–25 %, or by 10–25 %
    /// when our detect multiplier is 1, according to `jitter` in 0…1 (RFC 5880 §6.8.7).
    public func transmitDelay(jitter: Double) -> Duration {
        let interval = Double(max(txInForce, remoteMinRx))
        let fraction = min(max(jitter, 0), 1)
        let percentOff = configuration.detectMultiplier == 1 ? 10 + 15 * fraction : 25 * fraction
        return .microseconds(Int64(interval - (interval * percentOff / 100).rounded()))
    }

    /// Handles one event at time `now` (any monotonic clock, as a Duration since its origin). `jitter`, in
    /// 0…1, picks the reduction of the next transmit interval (pass a random number; tests pass fixed ones).
    public mutating func handle(_ event: BFDEvent, now: Duration, jitter: Double = 0) -> [BFDAction] {
        var actions: [BFDAction] = []
        switch event {
        case .start:
            guard !isStarted else { break }
            isStarted = true
            send(now, jitter, &actions)

        case _ where !isStarted:
            break

        case .packetReceived(let packet):
            receive(packet, now, jitter, &actions)

        case .timerFired(.transmit):
            transmitDeadline = nil
            if isTransmittingPeriodically || owesFinal { send(now, jitter, &actions) }

        case .timerFired(.detection):
            guard state != .adminDown else { break }  // a stale timer: AdminDown does not detect
            forgetPeer()
            if state == .`init` || state == .up {
                change(to: .down, .controlDetectionTimeExpired, &actions)
                send(now, jitter, &actions)
            } else {
                updateTransmitSchedule(now, jitter, &actions)
            }

        case .adminDown:
            guard state != .adminDown else { break }
            actions.append(.cancelTimer(.detection))
            change(to: .adminDown, .administrativelyDown, &actions)
            send(now, jitter, &actions)

        case .adminUp:
            guard state == .adminDown else { break }
            change(to: .down, .none, &actions)
            send(now, jitter, &actions)
        }
        return actions
    }

    /// Changes our intervals and detect multiplier at run time. While Up, a Poll Sequence carries the new
    /// intervals to the peer; a longer transmit interval or a shorter receive interval takes effect only
    /// when the peer has answered it (RFC 5880 §6.8.3). A new multiplier rides on the next packet (§6.8.12).
    public mutating func changeTimers(
        desiredMinTxInterval: Duration, requiredMinRxInterval: Duration, detectMultiplier: UInt8,
        now: Duration, jitter: Double = 0
    ) -> [BFDAction] {
        configuration = BFDConfiguration(
            localDiscriminator: configuration.localDiscriminator, desiredMinTxInterval: desiredMinTxInterval,
            requiredMinRxInterval: requiredMinRxInterval, detectMultiplier: detectMultiplier,
            authentication: configuration.authentication)
        refreshIntervals()
        var actions: [BFDAction] = []
        if isStarted { updateTransmitSchedule(now, jitter, &actions) }
        return actions
    }

    /// RFC 5880 §6.8.6 from the point where the packet has been matched to this session.
    private mutating func receive(
        _ packet: BFDControlPacket, _ now: Duration, _ jitter: Double, _ actions: inout [BFDAction]
    ) {
        if packet.yourDiscriminator != 0 {
            guard packet.yourDiscriminator == configuration.localDiscriminator else {
                return actions.append(.discarded(.unknownDiscriminator(packet.yourDiscriminator)))
            }
        } else if packet.state != .down && packet.state != .adminDown {
            return actions.append(.discarded(.zeroYourDiscriminator(peerState: packet.state)))
        }
        if let reason = authenticate(packet, now) { return actions.append(.discarded(reason)) }
        remoteDiscriminator = packet.myDiscriminator
        remoteState = packet.state
        remoteDiagnostic = packet.diagnostic
        remoteDemand = packet.demand
        remoteMinRx = packet.requiredMinRxMicroseconds
        remoteDesiredMinTx = packet.desiredMinTxMicroseconds
        remoteDetectMultiplier = packet.detectMultiplier
        if configuration.authentication != nil, let detectionTime { receiveSequenceExpiry = now + detectionTime * 2 }
        if isPolling && packet.final {
            isPolling = false
            txInForce = advertisedTx
            rxInForce = advertisedRx
        }
        guard state != .adminDown else { return updateTransmitSchedule(now, jitter, &actions) }

        let old = state
        switch (state, packet.state) {
        case (.down, .adminDown):
            break
        case (_, .adminDown), (.up, .down):
            change(to: .down, .neighborSignaledSessionDown, &actions)
        case (.down, .down):
            change(to: .`init`, diagnostic, &actions)
        case (.down, .`init`), (.`init`, .`init`), (.`init`, .up):
            change(to: .up, .none, &actions)
        default:
            break
        }
        if let detectionTime { actions.append(.armTimer(.detection, detectionTime)) }
        // A Poll is answered at once whatever the rates (§6.8.7), but with no more than one Final per
        // final interval (a later one rides on the next packet); a state change is told at once as well,
        // unless the peer asked for no packets.
        if packet.poll { owesFinal = true }
        if maySendFinal(now) || (state != old && remoteMinRx != 0) {
            send(now, jitter, &actions)
        } else {
            updateTransmitSchedule(now, jitter, &actions)
        }
    }

    /// RFC 5880 §6.8.6 (the A bit) and §6.7.4: nil when the packet may be used, else why it is dropped.
    /// Takes the packet's sequence number as the last one accepted.
    private mutating func authenticate(_ packet: BFDControlPacket, _ now: Duration) -> BFDDiscardReason? {
        guard let key = configuration.authentication else {
            return packet.authentication == nil ? nil : .authenticationNotInUse
        }
        guard let section = packet.authentication else { return .authenticationMissing }
        guard section.type == key.type, section.keyID == key.keyID else {
            return .authenticationKeyMismatch(type: section.type, keyID: section.keyID)
        }
        if receiveSequence != nil, now >= receiveSequenceExpiry { receiveSequence = nil }
        if let last = receiveSequence {
            // Circular: Keyed SHA1 accepts last…last+3×M, Meticulous last+1…last+3×M (M: Detect Mult).
            let ahead = section.sequence &- last
            let lowest: UInt32 = key.type == .meticulousKeyedSHA1 ? 1 : 0
            guard ahead >= lowest, ahead <= 3 * UInt32(packet.detectMultiplier) else {
                return .sequenceOutOfWindow(received: section.sequence, last: last)
            }
        }
        guard key.verifies(packet) else { return .authenticationFailed }
        receiveSequence = section.sequence
        return nil
    }

    /// A Final is owed and the rate limit lets it go now.
    private func maySendFinal(_ now: Duration) -> Bool {
        guard owesFinal else { return false }
        guard let lastFinalSent else { return true }
        return now - lastFinalSent >= finalInterval
    }

    private mutating func forgetPeer() {
        owesFinal = false
        remoteDiscriminator = 0
        remoteState = .down
        remoteMinRx = 1
        remoteDesiredMinTx = 0
        remoteDetectMultiplier = 0
        remoteDemand = false
    }

    private mutating func change(to new: BFDState, _ diagnostic: BFDDiagnostic, _ actions: inout [BFDAction]) {
        let old = state
        state = new
        self.diagnostic = diagnostic
        // Keyed SHA1 may keep its sequence number; it moves on with every state change.
        if configuration.authentication?.type == .keyedSHA1 { transmitSequence &+= 1 }
        actions.append(.reportStateChange(old: old, new: new, diagnostic: diagnostic))
        refreshIntervals()
    }

    /// Recomputes the intervals our packets carry after a state or configuration change (RFC 5880 §6.8.3).
    private mutating func refreshIntervals() {
        let configuredTx = microseconds(configuration.desiredMinTxInterval)
        let tx = state == .up ? configuredTx : max(configuredTx, microseconds(Self.slowTransmitInterval))
        let rx = microseconds(configuration.requiredMinRxInterval)
        guard state == .up else {
            isPolling = false
            (advertisedTx, advertisedRx, txInForce, rxInForce) = (tx, rx, tx, rx)
            return
        }
        guard tx != advertisedTx || rx != advertisedRx else { return }
        isPolling = true
        (advertisedTx, advertisedRx) = (tx, rx)
        // Sending faster and accepting slower are safe at once; the opposite waits for the peer's Final.
        txInForce = min(txInForce, tx)
        rxInForce = max(rxInForce, rx)
    }

    /// Sends a packet now, with F if a Final is owed and allowed; the next periodic packet is due a
    /// (jittered) interval later.
    private mutating func send(_ now: Duration, _ jitter: Double, _ actions: inout [BFDAction]) {
        let final = maySendFinal(now)
        if final {
            owesFinal = false
            lastFinalSent = now
        }
        var packet = BFDControlPacket(
            diagnostic: diagnostic, state: state, poll: isPolling && !final, final: final,
            detectMultiplier: configuration.detectMultiplier, myDiscriminator: configuration.localDiscriminator,
            yourDiscriminator: remoteDiscriminator, desiredMinTxMicroseconds: advertisedTx,
            requiredMinRxMicroseconds: advertisedRx)
        if let key = configuration.authentication {
            // Meticulous Keyed SHA1: a new sequence number in every packet.
            if key.type == .meticulousKeyedSHA1 { transmitSequence &+= 1 }
            packet = key.sign(packet, sequence: transmitSequence)
        }
        actions.append(.send(packet))
        transmitDeadline = nil
        updateTransmitSchedule(now, jitter, &actions)
    }

    /// Keeps the transmit timer in line with the rules: armed while periodic transmission is allowed, and
    /// brought forward when the interval has shrunk (a longer interval applies from the next packet).
    /// An owed Final brings it forward to when the rate limit allows it, even without periodic packets.
    private mutating func updateTransmitSchedule(_ now: Duration, _ jitter: Double, _ actions: inout [BFDAction]) {
        var next: Duration? = isTransmittingPeriodically ? transmitDelay(jitter: jitter) : nil
        if owesFinal, let lastFinalSent {
            let finalDelay = max(lastFinalSent + finalInterval - now, .zero)
            next = min(next ?? finalDelay, finalDelay)
        }
        guard let delay = next else {
            if transmitDeadline != nil {
                transmitDeadline = nil
                actions.append(.cancelTimer(.transmit))
            }
            return
        }
        if let transmitDeadline, transmitDeadline <= now + delay { return }
        transmitDeadline = now + delay
        actions.append(.armTimer(.transmit, delay))
    }
}

/// A duration in whole microseconds for the wire, at least 1 and at most UInt32.max (about 71 minutes).
private func microseconds(_ duration: Duration) -> UInt32 {
    let (seconds, attoseconds) = duration.components
    guard seconds >= 0 else { return 1 }
    let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
    let total = overflow ? Int64.max : scaled &+ attoseconds / 1_000_000_000_000
    return UInt32(clamping: max(total, 1))
}
