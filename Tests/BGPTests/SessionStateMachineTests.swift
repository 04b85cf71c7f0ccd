// The session FSM on a fake clock: the path to Established, hold times 0/3/9 s, keepalives, hold expiry,
// OpenSent timeout, OPEN checks, unexpected messages, stop with RFC 9003 text, decode errors, back-off
// and collision resolution.
import BGP
import NetAddress
import Testing

/// Drives one state machine with a fake clock and keeps the timers it armed.
struct Harness {
    var machine: SessionStateMachine
    var now: Duration = .zero
    var timers: [SessionTimer: Duration] = [:]  // timer → deadline
    var sent: [BGPMessage] = []
    var log: [SessionAction] = []

    init(_ configuration: SessionConfiguration = Harness.configuration()) {
        machine = SessionStateMachine(configuration: configuration)
    }

    static func configuration(
        localASN: UInt32 = 65010, peerASN: UInt32 = 65000, holdTime: UInt16 = 90, passive: Bool = false
    ) -> SessionConfiguration {
        SessionConfiguration(
            localASN: localASN, peerASN: peerASN, routerID: IPv4Address("192.0.2.1")!, holdTime: holdTime,
            families: [.ipv4Unicast, .ipv6Unicast], passive: passive)
    }

    var state: SessionState { machine.state }

    @discardableResult
    mutating func handle(_ event: SessionEvent, jitter: Double = 0) -> [SessionAction] {
        let actions = machine.handle(event, now: now, jitter: jitter)
        for action in actions {
            switch action {
            case .armTimer(let timer, let duration): timers[timer] = now + duration
            case .cancelTimer(let timer): timers[timer] = nil
            case .sendMessage(let message): sent.append(message)
            default: break
            }
        }
        log += actions
        return actions
    }

    /// Advances the clock to `time`, firing due timers in deadline order.
    mutating func advance(to time: Duration) {
        while let (timer, deadline) = timers.filter({ $0.value <= time }).min(by: { $0.value < $1.value }) {
            now = deadline
            timers[timer] = nil
            handle(.timerFired(timer))
        }
        now = time
    }

    mutating func advance(by duration: Duration) { advance(to: now + duration) }

    func peerOpen(
        asn: UInt32 = 65000, holdTime: UInt16 = 90, id: String = "198.51.100.1",
        families: [BGPFamily] = [.ipv4Unicast, .ipv6Unicast]
    )
        -> OpenMessage
    {
        OpenMessage(asn: asn, holdTime: holdTime, identifier: IPv4Address(id)!, families: families)
    }

    /// Start → connect → OPEN/KEEPALIVE exchange → Established.
    mutating func establish(peerHold: UInt16 = 90) {
        handle(.start)
        handle(.tcpConnected(.outbound))
        handle(.messageReceived(.open(peerOpen(holdTime: peerHold))))
        handle(.messageReceived(.keepalive))
    }

    var lastNotification: NotificationMessage? {
        for case .notification(let notification) in sent.reversed() { return notification }
        return nil
    }
}

@Suite struct SessionStateMachineTests {
    @Test func pathToEstablished() {
        var harness = Harness()
        #expect(
            harness.handle(.start) == [
                .cancelTimer(.idleHold), .connect, .armTimer(.connectRetry, .seconds(30)),
                .reportStateChange(old: .idle, new: .connect),
            ])
        let connected = harness.handle(.tcpConnected(.outbound))
        #expect(connected.contains(.sendMessage(.open(harness.machine.configuration.openMessage))))
        #expect(connected.contains(.armTimer(.hold, .seconds(240))))
        #expect(harness.state == .openSent)
        let opened = harness.handle(.messageReceived(.open(harness.peerOpen())))
        #expect(opened.contains(.sendMessage(.keepalive)))
        #expect(harness.state == .openConfirm)
        let established = harness.handle(.messageReceived(.keepalive))
        #expect(established.contains(.reportStateChange(old: .openConfirm, new: .established)))
        #expect(established.last == .announceAll)
        let negotiated = harness.machine.negotiated
        #expect(negotiated?.holdTime == 90 && negotiated?.keepaliveTime == 30)
        #expect(negotiated?.fourOctetAS == true)
        #expect(negotiated?.families == [.ipv4Unicast, .ipv6Unicast])
        #expect(
            harness.machine.codecContext == CodecContext(fourOctetAS: true, families: [.ipv4Unicast, .ipv6Unicast]))
    }

    @Test func ourOpenUsesASTransOnlyForFourOctetASNs() {
        #expect(Harness.configuration(localASN: 65010).openMessage.myAS == 65010)
        #expect(Harness.configuration(localASN: 4_200_000_000).openMessage.myAS == 23456)
    }

    @Test func holdTimeZeroDisablesBothTimers() {
        var harness = Harness()
        harness.establish(peerHold: 0)
        #expect(harness.machine.negotiated?.holdTime == 0)
        #expect(harness.timers[.hold] == nil && harness.timers[.keepalive] == nil)
        harness.advance(by: .seconds(3600))
        #expect(harness.state == .established)
        #expect(harness.sent.filter { $0 == .keepalive }.count == 1)  // only the one answering OPEN
    }

    @Test func holdTimeThreeSendsKeepaliveEverySecondAndExpires() {
        var harness = Harness()
        harness.establish(peerHold: 3)
        #expect(harness.machine.negotiated?.keepaliveTime == 1)
        harness.advance(by: .milliseconds(2500))
        #expect(harness.sent.filter { $0 == .keepalive }.count == 1 + 2)
        #expect(harness.state == .established)
        harness.handle(.messageReceived(.keepalive))  // the peer is alive: hold restarts
        harness.advance(by: .milliseconds(2900))
        #expect(harness.state == .established)
        harness.advance(by: .milliseconds(200))
        #expect(harness.state == .idle)
        #expect(harness.lastNotification == NotificationMessage(code: 4, subcode: 0))
        #expect(harness.log.contains(.closeConnection))
        #expect(harness.machine.lastError?.direction == .sent)
    }

    @Test func holdTimeNineIsMinimumOfBothAndKeepsTheSessionWithKeepalives() {
        var harness = Harness(Harness.configuration(holdTime: 9))
        harness.establish(peerHold: 90)
        #expect(harness.machine.negotiated?.holdTime == 9 && harness.machine.negotiated?.keepaliveTime == 3)
        for _ in 0..<10 {
            harness.advance(by: .seconds(8))
            harness.handle(.messageReceived(.update(UpdateMessage())))
        }
        #expect(harness.state == .established)
        #expect(harness.sent.filter { $0 == .keepalive }.count == 1 + 26)
        harness.advance(by: .seconds(9))
        #expect(harness.state == .idle)
        #expect(harness.lastNotification?.code == 4)
    }

    @Test func openSentTimesOutAfter240Seconds() {
        var harness = Harness()
        harness.handle(.start)
        harness.handle(.tcpConnected(.outbound))
        harness.advance(by: .seconds(239))
        #expect(harness.state == .openSent)
        harness.advance(by: .seconds(1))
        #expect(harness.state == .idle)
        #expect(harness.lastNotification == NotificationMessage(code: 4, subcode: 0))
        #expect(harness.timers[.idleHold] == .seconds(240) + .milliseconds(3750))
    }

    @Test func peerASMismatchIs2_2() {
        var harness = Harness()
        harness.handle(.start)
        harness.handle(.tcpConnected(.outbound))
        harness.handle(.messageReceived(.open(harness.peerOpen(asn: 65001))))
        #expect(harness.lastNotification == NotificationMessage(code: 2, subcode: 2))
        #expect(harness.state == .idle)
        #expect(harness.machine.lastError?.reason == "peer presented AS 65001, expected AS 65000")
    }

    @Test func badHoldTimeIs2_6() {
        var harness = Harness()
        harness.handle(.start)
        harness.handle(.tcpConnected(.outbound))
        var open = harness.peerOpen()
        open.holdTime = 2
        harness.handle(.messageReceived(.open(open)))
        #expect(harness.lastNotification == NotificationMessage(code: 2, subcode: 6))
    }

    @Test func ownIdentifierFromAnIBGPPeerIs2_3() {
        var harness = Harness(Harness.configuration(localASN: 65000, peerASN: 65000))
        harness.handle(.start)
        harness.handle(.tcpConnected(.outbound))
        harness.handle(.messageReceived(.open(harness.peerOpen(id: "192.0.2.1"))))
        #expect(harness.lastNotification == NotificationMessage(code: 2, subcode: 3))
    }

    @Test func noCommonFamilyIs2_7() {
        var harness = Harness(
            SessionConfiguration(localASN: 65010, peerASN: 65000, routerID: v4("192.0.2.1"), families: [.ipv6Unicast]))
        harness.handle(.start)
        harness.handle(.tcpConnected(.outbound))
        // No MP capability at all: IPv4 unicast only, which we do not offer.
        var open = harness.peerOpen()
        open.capabilities = [.fourOctetAS(65000)]
        harness.handle(.messageReceived(.open(open)))
        #expect(harness.lastNotification == NotificationMessage(code: 2, subcode: 7, data: bytes("01 04 0002 00 01")))
    }

    @Test func peerWithoutMPOrAS4GetsIPv4AndTwoOctetEncoding() {
        var harness = Harness()
        harness.handle(.start)
        harness.handle(.tcpConnected(.outbound))
        harness.handle(
            .messageReceived(
                .open(OpenMessage(myAS: 65000, holdTime: 180, identifier: v4("198.51.100.1"), capabilities: []))))
        #expect(harness.state == .openConfirm)
        #expect(harness.machine.negotiated?.families == [.ipv4Unicast])
        #expect(harness.machine.negotiated?.fourOctetAS == false)
        #expect(harness.machine.negotiated?.holdTime == 90)
    }

    @Test func unexpectedMessagesAreFSMErrors() {
        var openSent = Harness()
        openSent.handle(.start)
        openSent.handle(.tcpConnected(.outbound))
        openSent.handle(.messageReceived(.keepalive))
        #expect(openSent.lastNotification == NotificationMessage(code: 5, subcode: 1))
        #expect(openSent.state == .idle)

        var openConfirm = Harness()
        openConfirm.handle(.start)
        openConfirm.handle(.tcpConnected(.outbound))
        openConfirm.handle(.messageReceived(.open(openConfirm.peerOpen())))
        openConfirm.handle(.messageReceived(.update(UpdateMessage())))
        #expect(openConfirm.lastNotification == NotificationMessage(code: 5, subcode: 2))

        var established = Harness()
        established.establish()
        established.handle(.messageReceived(.open(established.peerOpen())))
        #expect(established.lastNotification == NotificationMessage(code: 5, subcode: 3))
        #expect(established.log.contains(.reportStateChange(old: .established, new: .idle)))
    }

    @Test func stopInEstablishedSendsCeaseWithShutdownCommunication() {
        var harness = Harness()
        harness.establish()
        let actions = harness.handle(.stop(shutdownMessage: "planned maintenance"))
        let cease = NotificationMessage(code: 6, subcode: 2, data: [19] + ascii("planned maintenance"))
        #expect(actions.prefix(3) == [.cancelTimer(.idleHold), .sendMessage(.notification(cease)), .closeConnection])
        #expect(harness.state == .idle)
        #expect(harness.timers.isEmpty)
        harness.advance(by: .seconds(3600))
        #expect(harness.state == .idle)  // stays down until started again
    }

    @Test func decodeErrorSendsItsNotification() {
        var harness = Harness()
        harness.establish()
        let error = BGPDecodeError(code: 3, subcode: 2, data: [0x40, 0x63, 0], reason: "test")
        let actions = harness.handle(.decodeError(error))
        #expect(actions.prefix(2) == [.sendMessage(.notification(error.notification)), .closeConnection])
        #expect(harness.machine.lastError?.notification == error.notification)
        #expect(harness.state == .idle)
    }

    @Test func routeRefreshForANegotiatedFamilyIsPassedOn() {
        var harness = Harness()
        harness.establish()
        #expect(
            harness.handle(.messageReceived(.routeRefresh(RouteRefreshMessage(family: .ipv6Unicast))))
                .contains(.peerRefreshRequested(.ipv6Unicast)))
        let other = harness.handle(
            .messageReceived(.routeRefresh(RouteRefreshMessage(family: BGPFamily(afi: 1, safi: 128)))))
        #expect(!other.contains { if case .peerRefreshRequested = $0 { true } else { false } })
        #expect(harness.state == .established)
    }

    @Test func errorsBackOffExponentiallyWithJitterAndStartResets() {
        var chained = Harness()
        chained.handle(.start)
        var backoff: [Duration] = []
        for _ in 0..<8 {
            chained.handle(.tcpConnected(.outbound))
            chained.handle(.tcpClosed(reason: "reset by peer"), jitter: 1)
            #expect(chained.state == .active)
            backoff.append(chained.timers[.connectRetry]! - chained.now)
            chained.advance(to: chained.timers[.connectRetry]!)
            #expect(chained.state == .connect)
        }
        #expect(backoff.map { $0 / .seconds(1) } == [5, 10, 20, 40, 80, 160, 300, 300])
        chained.handle(.tcpConnected(.outbound))
        chained.handle(.tcpClosed(reason: "again"), jitter: 0)
        #expect(chained.timers[.connectRetry]! - chained.now == .seconds(225))
        // An admin start clears the count: the next error waits 5 s again.
        chained.handle(.start)
        #expect(chained.machine.consecutiveErrors == 0)
        #expect(chained.state == .active)
        chained.handle(.tcpConnected(.outbound))
        chained.handle(.tcpClosed(reason: "again"), jitter: 1)
        #expect(chained.timers[.connectRetry]! - chained.now == .seconds(5))
    }

    /// A connection that closes in OpenSent leaves the machine in Active, not Idle: while it waits the
    /// back-off before its own next attempt, the peer's connection is still taken (RFC 4271 §8.2.2).
    @Test func closeInOpenSentStillTakesThePeersConnection() {
        var harness = Harness()
        harness.handle(.start)
        harness.handle(.tcpConnected(.outbound))
        harness.handle(.tcpClosed(reason: "closed by the peer"))
        #expect(harness.state == .active)
        #expect(harness.timers[.idleHold] == nil)
        #expect(harness.timers[.hold] == nil)
        #expect(harness.machine.lastError?.reason.contains("closed by the peer") == true)
        let actions = harness.handle(.tcpConnected(.inbound))
        #expect(harness.state == .openSent)
        #expect(actions.contains(.cancelTimer(.connectRetry)))
        #expect(actions.contains { if case .sendMessage(.open) = $0 { true } else { false } })
        #expect(!actions.contains(.closeConnection))
    }

    @Test func cleanCloseByThePeerReconnectsFast() {
        var harness = Harness()
        harness.establish()
        for _ in 0..<4 {
            harness.advance(by: .seconds(30))
            harness.handle(.messageReceived(.keepalive))
        }
        harness.handle(.messageReceived(.notification(.cease(subcode: 2, shutdownMessage: "router reboot"))))
        #expect(harness.state == .idle)
        #expect(harness.timers[.idleHold] == harness.now + .seconds(1))
        #expect(harness.machine.lastError?.direction == .received)
        #expect(harness.machine.consecutiveErrors == 0)
        harness.advance(by: .seconds(1))
        #expect(harness.state == .connect)
    }

    @Test func longSessionClearsTheErrorCount() {
        var harness = Harness()
        harness.handle(.start)
        for _ in 0..<3 {
            harness.handle(.tcpConnected(.outbound))
            harness.handle(.tcpClosed(reason: "flap"))
            harness.advance(to: harness.timers[.connectRetry]!)
        }
        #expect(harness.machine.consecutiveErrors == 3)
        harness.handle(.tcpConnected(.outbound))
        harness.handle(.messageReceived(.open(harness.peerOpen())))
        harness.handle(.messageReceived(.keepalive))
        for _ in 0..<3 {
            harness.advance(by: .seconds(30))
            harness.handle(.messageReceived(.keepalive))
        }
        #expect(harness.state == .established)
        harness.handle(.tcpClosed(reason: "link down"))
        #expect(harness.machine.consecutiveErrors == 1)
    }

    @Test func connectFailureWaitsInActiveAndRetries() {
        var harness = Harness()
        harness.handle(.start)
        harness.handle(.tcpFailed(reason: "connection refused"))
        #expect(harness.state == .active)
        harness.advance(by: .seconds(30))
        #expect(harness.state == .connect)
        #expect(harness.log.filter { $0 == .connect }.count == 2)
        // The peer connects to us while our attempt is pending.
        let actions = harness.handle(.tcpConnected(.inbound))
        #expect(actions.first == .cancelConnect)
        #expect(harness.state == .openSent)
        #expect(harness.machine.direction == .inbound)
    }

    @Test func passivePeerWaitsAndIdleRefusesConnections() {
        var passive = Harness(Harness.configuration(passive: true))
        #expect(passive.handle(.tcpConnected(.inbound)) == [.closeConnection])
        passive.handle(.start)
        #expect(passive.state == .active)
        #expect(!passive.log.contains(.connect))
        passive.advance(by: .seconds(600))
        #expect(passive.state == .active)
    }

    @Test func collisionLoserSendsCease7() {
        var harness = Harness()
        harness.handle(.start)
        harness.handle(.tcpConnected(.outbound))
        harness.handle(.messageReceived(.open(harness.peerOpen())))
        let actions = harness.handle(.collisionLost)
        #expect(
            actions.prefix(2) == [
                .sendMessage(.notification(NotificationMessage(code: 6, subcode: 7))), .closeConnection,
            ])
        #expect(harness.state == .idle)
        #expect(harness.timers.isEmpty)
    }

    @Test func collisionResolutionBothWays() {
        let low = v4("192.0.2.1")
        let high = v4("198.51.100.1")
        #expect(
            CollisionResolution.survivor(localIdentifier: high, remoteIdentifier: low, localASN: 1, remoteASN: 2)
                == .outbound)
        #expect(
            CollisionResolution.survivor(localIdentifier: low, remoteIdentifier: high, localASN: 2, remoteASN: 1)
                == .inbound)
        // RFC 6286: equal identifiers, the higher ASN keeps its connection.
        #expect(
            CollisionResolution.survivor(localIdentifier: low, remoteIdentifier: low, localASN: 65010, remoteASN: 65000)
                == .outbound)
        #expect(
            CollisionResolution.survivor(localIdentifier: low, remoteIdentifier: low, localASN: 65000, remoteASN: 65010)
                == .inbound)
    }
}
