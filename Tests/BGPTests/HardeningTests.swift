// Issue 13 on the FSM and the received-route store: a passive peer never connects out, the send hold
// timer (RFC 9687), collisions only against a connection whose OPEN is known (RFC 4271 §6.8), the OPEN
// wait, maxPrefixes with Cease/1 and its RFC 4486 data, and treat-as-withdraw counting (RFC 7606).
import BGP
import NetAddress
import Testing

@Suite struct HardeningTests {
    // MARK: passive (RFC 4271 §8.1.1)

    @Test func passivePeerNeverConnectsOutAfterAnInboundCloseInOpenSent() {
        var harness = Harness(Harness.configuration(passive: true))
        harness.handle(.start)
        #expect(harness.state == .active)
        harness.handle(.tcpConnected(.inbound))
        #expect(harness.state == .openSent)
        harness.handle(.tcpClosed(reason: "peer closed"))
        #expect(harness.state == .active)
        harness.advance(by: .seconds(3600))
        #expect(!harness.log.contains(.connect), "a passive peer connected out: \(harness.log)")
        #expect(harness.state == .active, "still waiting for the peer")
        // The peer's next connection is still taken.
        harness.handle(.tcpConnected(.inbound))
        #expect(harness.state == .openSent)
    }

    @Test func passivePeerIgnoresAStaleConnectRetryTimer() {
        var harness = Harness(Harness.configuration(passive: true))
        harness.handle(.start)
        let actions = harness.handle(.timerFired(.connectRetry))
        #expect(!actions.contains(.connect))
        #expect(harness.state == .active)
    }

    @Test func activePeerStillRetriesAfterAnOpenSentClose() {
        var harness = Harness()
        harness.handle(.start)
        harness.handle(.tcpConnected(.outbound))
        harness.handle(.tcpClosed(reason: "reset"))
        #expect(harness.state == .active)
        harness.log = []
        harness.advance(by: .seconds(10))
        #expect(harness.log.contains(.connect))
    }

    // MARK: send hold timer (RFC 9687)

    @Test func peerThatStopsReadingIsResetAfterTheSendHoldTime() {
        var harness = Harness()
        harness.establish(peerHold: 9)
        #expect(harness.state == .established)
        harness.handle(.sendBlocked)
        #expect(harness.timers[.sendHold] == harness.now + .seconds(9))
        // The peer keeps sending KEEPALIVEs (so the receive hold timer never fires) but reads nothing.
        for _ in 0..<2 {
            harness.advance(by: .seconds(3))
            harness.handle(.messageReceived(.keepalive))
            harness.handle(.sendBlocked)  // repeated reports do not restart the timer
        }
        #expect(harness.state == .established)
        harness.advance(by: .seconds(3))
        #expect(harness.state == .idle)
        let notification = harness.lastNotification
        #expect(notification?.code == 8 && notification?.subcode == 0, "\(String(describing: notification))")
        #expect(harness.log.contains(.closeConnection))
        #expect(harness.timers[.idleHold] != nil, "back-off before the next attempt")
    }

    @Test func drainedWritesStopTheSendHoldTimer() {
        var harness = Harness()
        harness.establish(peerHold: 9)
        harness.handle(.sendBlocked)
        harness.advance(by: .seconds(5))
        harness.handle(.messageReceived(.keepalive))
        harness.handle(.sendUnblocked)
        #expect(harness.timers[.sendHold] == nil)
        harness.advance(by: .seconds(5))
        harness.handle(.messageReceived(.keepalive))
        harness.advance(by: .seconds(5))
        #expect(harness.state == .established)
        // Blocked again: a fresh full send hold time.
        harness.handle(.sendBlocked)
        #expect(harness.timers[.sendHold] == harness.now + .seconds(9))
    }

    @Test func sendHoldWithoutHoldTimeUsesItsOwnDefault() {
        var harness = Harness()
        harness.establish(peerHold: 0)
        harness.handle(.sendBlocked)
        #expect(harness.timers[.sendHold] == harness.now + .seconds(480))
    }

    // MARK: OPEN wait

    @Test func openWaitFollowsTheHoldTimeUpTo240Seconds() {
        #expect(SessionConfiguration.openWait(holdTime: 9) == .seconds(9))
        #expect(SessionConfiguration.openWait(holdTime: 90) == .seconds(90))
        #expect(SessionConfiguration.openWait(holdTime: 600) == .seconds(240))
        #expect(SessionConfiguration.openWait(holdTime: 0) == .seconds(240))
    }

    @Test func inboundConnectionThatSendsNothingIsClosedAfterTheOpenWait() {
        var configuration = Harness.configuration(passive: true)
        configuration.openSentHoldTime = SessionConfiguration.openWait(holdTime: 9)
        var harness = Harness(configuration)
        harness.handle(.start)
        harness.handle(.tcpConnected(.inbound))
        harness.advance(by: .seconds(9))
        #expect(harness.log.contains(.closeConnection))
        #expect(harness.lastNotification?.code == 4)
    }

    // MARK: collisions (RFC 4271 §6.8)

    static let us = IPv4Address("192.0.2.200")!
    static func contender(
        _ state: SessionState, _ direction: ConnectionDirection, id: String? = nil
    ) -> CollisionResolution.Contender {
        CollisionResolution.Contender(
            state: state, direction: direction, peerIdentifier: id.map { IPv4Address($0)! },
            peerASN: id == nil ? nil : 65000)
    }

    @Test func connectionWithoutTheOpenNeverWinsACollision() {
        // An idle connection from the router's address (OpenSent, no OPEN), then the real one.
        for idle in [SessionState.openSent, .connect, .active] {
            for direction in [ConnectionDirection.inbound, .outbound] {
                let loser = CollisionResolution.loser(
                    older: Self.contender(idle, direction),
                    newer: Self.contender(.openConfirm, .inbound, id: "192.0.2.1"), localIdentifier: Self.us,
                    localASN: 65010)
                #expect(loser == nil, "\(idle) \(direction)")
                let reversed = CollisionResolution.loser(
                    older: Self.contender(.openConfirm, .inbound, id: "192.0.2.1"),
                    newer: Self.contender(idle, direction), localIdentifier: Self.us, localASN: 65010)
                #expect(reversed == nil, "\(idle) \(direction)")
            }
        }
    }

    @Test func collisionsWithKnownOpensFollowTheIdentifiers() {
        let lowerPeer = "192.0.2.1"
        let higherPeer = "192.0.2.250"
        // We have the higher identifier: our (outbound) connection survives.
        #expect(
            CollisionResolution.loser(
                older: Self.contender(.openConfirm, .outbound, id: lowerPeer),
                newer: Self.contender(.openConfirm, .inbound, id: lowerPeer), localIdentifier: Self.us,
                localASN: 65010) == .newer)
        #expect(
            CollisionResolution.loser(
                older: Self.contender(.openConfirm, .outbound, id: higherPeer),
                newer: Self.contender(.openConfirm, .inbound, id: higherPeer), localIdentifier: Self.us,
                localASN: 65010) == .older)
        // Against Established the new connection loses.
        #expect(
            CollisionResolution.loser(
                older: Self.contender(.established, .outbound, id: lowerPeer),
                newer: Self.contender(.openConfirm, .inbound, id: lowerPeer), localIdentifier: Self.us,
                localASN: 65010) == .newer)
        // Two connections opened by the peer (it restarted): the newer one stays.
        #expect(
            CollisionResolution.loser(
                older: Self.contender(.openConfirm, .inbound, id: lowerPeer),
                newer: Self.contender(.openConfirm, .inbound, id: lowerPeer), localIdentifier: Self.us,
                localASN: 65010) == .older)
    }

    // MARK: maxPrefixes (RFC 4486)

    @Test func prefixLimitSendsCeaseOneWithFamilyAndLimitAndBacksOff() {
        var harness = Harness()
        harness.establish()
        harness.handle(.prefixLimitExceeded(family: .ipv6Unicast, limit: 100_000))
        let notification = harness.lastNotification
        #expect(notification?.code == 6 && notification?.subcode == 1)
        // AFI 2, SAFI 1, limit 100000 = 0x000186A0.
        #expect(notification?.data == [0x00, 0x02, 0x01, 0x00, 0x01, 0x86, 0xA0])
        #expect(harness.state == .idle)
        #expect(harness.log.contains(.closeConnection))
        let backOff = harness.timers[.idleHold].map { $0 - harness.now }
        #expect(backOff != nil && backOff! >= .seconds(3), "no immediate reconnect: \(String(describing: backOff))")
        // Idle refuses the peer's connection during the back-off.
        let actions = harness.handle(.tcpConnected(.inbound))
        #expect(actions.contains(.closeConnection))
    }

    static let route: [PathAttribute] = [
        .origin(.igp), .asPath([ASPathSegment(.sequence, [65000])]), .nextHop(IPv4Address("10.0.0.1")!),
    ]

    static func hosts(_ count: Int, base: UInt32 = 0x0A01_0000) -> [IPPrefix] {
        (0..<UInt32(count)).map { IPPrefix(address: .v4(IPv4Address(base + $0)), length: 32)! }
    }

    @Test func receivedRoutesCountUpToTheLimit() {
        var routes = ReceivedRoutes(maxPrefixes: 3)
        let three = Self.hosts(3)
        #expect(routes.apply(UpdateMessage(attributes: Self.route, nlri: three), disposition: .normal) == .accepted)
        #expect(routes.count(.ipv4) == 3)
        // Re-announcing the same prefixes (implicit withdraw) does not count twice.
        #expect(routes.apply(UpdateMessage(attributes: Self.route, nlri: three), disposition: .normal) == .accepted)
        #expect(routes.count(.ipv4) == 3)
        #expect(
            routes.apply(
                UpdateMessage(attributes: Self.route, nlri: Self.hosts(1, base: 0x0A02_0000)), disposition: .normal)
                == .limitExceeded(family: .ipv4Unicast, limit: 3))
        // Withdrawals make room again.
        var fresh = ReceivedRoutes(maxPrefixes: 3)
        _ = fresh.apply(UpdateMessage(attributes: Self.route, nlri: three), disposition: .normal)
        _ = fresh.apply(UpdateMessage(withdrawn: [three[0]]), disposition: .normal)
        #expect(fresh.count(.ipv4) == 2)
        #expect(
            fresh.apply(
                UpdateMessage(attributes: Self.route, nlri: Self.hosts(1, base: 0x0A02_0000)), disposition: .normal)
                == .accepted)
        fresh.sessionEnded()
        #expect(fresh.count(.ipv4) == 0)
    }

    @Test func onlyRoutesForOwnPrefixesAreKept() {
        let own = IPPrefix("192.0.2.10/32")!
        var routes = ReceivedRoutes(maxPrefixes: 100, ownPrefixes: [own])
        _ = routes.apply(UpdateMessage(attributes: Self.route, nlri: Self.hosts(5) + [own]), disposition: .normal)
        #expect(routes.count(.ipv4) == 6)
        #expect(Array(routes.ownRoutes.keys) == [own])
        #expect(routes.ownRoutes[own]?[0]?.attributes == Self.route)
        _ = routes.apply(UpdateMessage(withdrawn: [own]), disposition: .normal)
        #expect(routes.ownRoutes.isEmpty)
    }

    @Test func treatAsWithdrawIsCountedAndReportedOncePerKind() {
        var routes = ReceivedRoutes(maxPrefixes: 100)
        let update = UpdateMessage(attributes: Self.route, nlri: Self.hosts(2))
        _ = routes.apply(update, disposition: .normal)
        #expect(
            routes.apply(update, disposition: .treatAsWithdraw(reason: "ORIGIN value 7"))
                == .firstTreatAsWithdraw(reason: "ORIGIN value 7"))
        #expect(routes.count(.ipv4) == 0, "treat-as-withdraw withdraws the announced prefixes")
        #expect(routes.apply(update, disposition: .treatAsWithdraw(reason: "ORIGIN value 9")) == .accepted)
        #expect(
            routes.apply(update, disposition: .treatAsWithdraw(reason: "missing well-known attribute ORIGIN"))
                == .firstTreatAsWithdraw(reason: "missing well-known attribute ORIGIN"))
        #expect(routes.treatAsWithdrawCount == 3)
        routes.sessionEnded()
        #expect(routes.treatAsWithdrawCount == 3, "the count is kept across sessions")
    }
}
