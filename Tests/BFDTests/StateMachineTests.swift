// The BFD session on a fake clock: the 1 s rate before Up, the three-way handshake between two machines in
// every start order, detection expiry, the peer's AdminDown and Down, our AdminDown, Poll/Final on reaching
// Up and on timer changes, answering a Poll, jitter bounds, the discriminator rules, and a peer that asks
// for no packets.
import BFD
import Testing

private let peer: UInt32 = 0x0B0B_0002
private let local: UInt32 = 0x0A0A_0001

@Suite struct StateMachineTests {
    // MARK: before Up

    @Test func eventsBeforeStartAreIgnored() {
        var harness = Harness()
        #expect(harness.handle(.packetReceived(harness.fromPeer(.down, your: 0))) == [])
        #expect(harness.handle(.adminDown) == [])
        #expect(harness.handle(.timerFired(.transmit)) == [])
        #expect(harness.state == .down && !harness.machine.isStarted)
        let started = harness.handle(.start)
        #expect(
            started == [
                .send(
                    BFDControlPacket(
                        state: .down, detectMultiplier: 3, myDiscriminator: local, yourDiscriminator: 0,
                        desiredMinTxMicroseconds: 1_000_000, requiredMinRxMicroseconds: 300_000)),
                .armTimer(.transmit, .seconds(1)),
            ])
        #expect(harness.handle(.start) == [])
    }

    @Test func sendsOncePerSecondWhileNotUp() {
        var harness = Harness()
        harness.handle(.start)
        harness.advance(to: .seconds(5))
        #expect(harness.sent.map(\.time) == (0...5).map { Duration.seconds($0) })
        for packet in harness.sent.map(\.packet) {
            #expect(packet.state == .down && packet.desiredMinTxMicroseconds == 1_000_000)
            #expect(packet.requiredMinRxMicroseconds == 300_000 && !packet.poll && !packet.final)
        }
        // Still 1 s in Init.
        harness.handle(.packetReceived(harness.fromPeer(.down, your: 0, tx: 1_000_000)))
        #expect(harness.state == .`init`)
        let initStart = harness.now
        harness.advance(by: .seconds(2))
        #expect(harness.sent.filter { $0.time > initStart }.map(\.time) == [.seconds(6), .seconds(7)])
        #expect(harness.lastSent?.desiredMinTxMicroseconds == 1_000_000)
    }

    @Test func slowerConfiguredRateIsKeptBeforeUp() {
        var harness = Harness(BFDConfiguration(localDiscriminator: local, desiredMinTxInterval: .seconds(2)))
        harness.handle(.start)
        harness.advance(to: .seconds(6))
        #expect(harness.sent.map(\.time) == [.seconds(0), .seconds(2), .seconds(4), .seconds(6)])
        #expect(harness.lastSent?.desiredMinTxMicroseconds == 2_000_000)
    }

    // MARK: handshake

    @Test(arguments: [(0, 1), (1, 0)])
    func handshakeReachesUpWhicheverSideStartsFirst(first: Int, second: Int) {
        var pair = Pair()
        pair.handle(first, .start)
        pair.advance(to: .milliseconds(400))
        #expect(pair.states == [.down, .down])
        pair.handle(second, .start)
        pair.advance(to: .seconds(2))
        #expect(pair.states == [.up, .up])
        // The first side hears the second's Down and goes through Init; the second goes straight to Up.
        #expect(pair[first].changes.map(\.new) == [.`init`, .up])
        #expect(pair[second].changes.map(\.new) == [.up])
        #expect(pair[second].changes[0].time == .milliseconds(402))
        #expect(pair[first].changes[1].time == .milliseconds(403))
        #expect(pair[first].machine.remoteDiscriminator == pair[second].machine.configuration.localDiscriminator)
        #expect(pair[second].machine.remoteDiscriminator == pair[first].machine.configuration.localDiscriminator)
        // Both polls were answered.
        #expect(!pair[0].machine.isPolling && !pair[1].machine.isPolling)
    }

    @Test func handshakeReachesUpWhenBothStartTogether() {
        var pair = Pair()
        pair.handle(0, .start)
        pair.handle(1, .start)
        pair.advance(to: .seconds(2))
        #expect(pair.states == [.up, .up])
        for side in 0..<2 {
            #expect(pair[side].changes.map(\.new) == [.`init`, .up])
            #expect(pair[side].changes.map(\.time) == [.milliseconds(1), .milliseconds(2)])
            #expect(pair[side].changes.allSatisfy { $0.diagnostic == .none })
        }
    }

    @Test func upUsesTheConfiguredRate() {
        var pair = Pair()
        pair.handle(0, .start)
        pair.handle(1, .start)
        pair.advance(to: .seconds(3))
        let times = pair[0].sent.filter { $0.time >= .seconds(1) }.map(\.time)
        #expect(times.count >= 6)
        #expect(zip(times, times.dropFirst()).allSatisfy { $1 - $0 == .milliseconds(300) })
        #expect(pair[0].lastSent?.desiredMinTxMicroseconds == 300_000)
        #expect(pair[0].machine.transmitInterval == .milliseconds(300))
        #expect(pair[0].machine.detectionTime == .milliseconds(900))
    }

    @Test func transmitIntervalFollowsThePeersSlowerReceiveRate() {
        var harness = Harness()
        harness.bringUp(peerRx: 500_000)
        #expect(harness.machine.transmitInterval == .milliseconds(500))
        let start = harness.now
        harness.advance(by: .seconds(2))
        #expect(
            harness.sent.filter { $0.time > start }.map(\.time) == [500, 1000, 1500, 2000].map(Duration.milliseconds))
    }

    // MARK: failure detection and the peer's signals

    @Test func detectionExpiryTakesBothSidesDown() {
        var pair = Pair()
        pair.handle(0, .start)
        pair.handle(1, .start)
        pair.advance(to: .seconds(2))
        pair.cut[1] = true  // B's packets are lost from now on
        pair.advance(by: .milliseconds(1))  // what was in flight arrives
        let deadline = pair[0].timers[.detection]!
        #expect(deadline <= pair.now + .milliseconds(900))
        pair.advance(to: .seconds(5))
        let aDown = pair[0].changes.last!
        #expect((aDown.old, aDown.new, aDown.diagnostic) == (.up, .down, .controlDetectionTimeExpired))
        #expect(aDown.time == deadline)
        #expect(pair[0].machine.remoteDiscriminator == 0)
        // A's Down (your discriminator 0 now) tells B.
        let bDown = pair[1].changes.first { $0.new == .down }!
        #expect((bDown.old, bDown.diagnostic) == (.up, .neighborSignaledSessionDown))
        #expect(bDown.time == deadline + .milliseconds(1))
        #expect(pair[0].sent.last { $0.time == deadline }?.packet.yourDiscriminator == 0)
        #expect(pair[0].state == .down)

        pair.cut[1] = false
        pair.advance(to: .seconds(8))
        #expect(pair.states == [.up, .up])
    }

    @Test func detectionTimeUsesThePeersMultiplierAndSlowerRate() {
        var harness = Harness()
        harness.handle(.start)
        let actions = harness.handle(.packetReceived(harness.fromPeer(.down, your: 0, multiplier: 5, tx: 1_000_000)))
        #expect(actions.contains(.armTimer(.detection, .seconds(5))))
        harness.handle(.packetReceived(harness.fromPeer(.up, multiplier: 5, tx: 100_000)))
        #expect(harness.machine.detectionTime == .milliseconds(1500))  // 5 × max(300 ms ours, 100 ms peer's)
        #expect(harness.timers[.detection] == harness.now + .milliseconds(1500))
    }

    @Test func detectionExpiryWhileInitGoesDownAndForgetsThePeer() {
        var harness = Harness()
        harness.handle(.start)
        harness.handle(.packetReceived(harness.fromPeer(.down, your: 0, tx: 1_000_000)))
        #expect(harness.state == .`init` && harness.machine.remoteDiscriminator == peer)
        harness.advance(to: .seconds(5))
        #expect(harness.changes.last!.time == .seconds(3))  // 3 × max(300 ms, 1 s)
        #expect(harness.changes.last!.new == .down)
        #expect(harness.changes.last!.diagnostic == .controlDetectionTimeExpired)
        #expect(harness.machine.remoteDiscriminator == 0)
        #expect(harness.lastSent?.yourDiscriminator == 0)
        #expect(harness.lastSent?.diagnostic == .controlDetectionTimeExpired)
    }

    @Test func peerDownWhileUpIsNeighborSignaledSessionDown() {
        var harness = Harness()
        harness.bringUp()
        harness.handle(.packetReceived(harness.fromPeer(.down, diagnostic: .controlDetectionTimeExpired)))
        #expect(harness.state == .down)
        #expect(harness.changes.last!.diagnostic == .neighborSignaledSessionDown)
        #expect(harness.machine.remoteDiagnostic == .controlDetectionTimeExpired)
        // Leaving Up ends our fast rate at once.
        #expect(harness.lastSent?.desiredMinTxMicroseconds == 1_000_000)
        #expect(harness.lastSent?.state == .down && harness.lastSent?.poll == false)
    }

    @Test func peerAdminDownTakesInitAndUpDownButNotDown() {
        for reached in [BFDState.`init`, .up] {
            var harness = Harness()
            harness.handle(.start)
            harness.handle(.packetReceived(harness.fromPeer(.down, your: 0)))
            if reached == .up { harness.handle(.packetReceived(harness.fromPeer(.up))) }
            #expect(harness.state == reached)
            harness.handle(.packetReceived(harness.fromPeer(.adminDown, diagnostic: .administrativelyDown)))
            #expect(harness.state == .down)
            #expect(harness.changes.last!.diagnostic == .neighborSignaledSessionDown)
            // Further AdminDown packets keep it Down (not Init, as a Down packet would).
            harness.handle(.packetReceived(harness.fromPeer(.adminDown, diagnostic: .administrativelyDown)))
            #expect(harness.state == .down)
        }
    }

    @Test func initStaysInitOnPeerDown() {
        var harness = Harness()
        harness.handle(.start)
        harness.handle(.packetReceived(harness.fromPeer(.down, your: 0)))
        harness.handle(.packetReceived(harness.fromPeer(.down)))
        #expect(harness.state == .`init`)
        #expect(harness.changes.count == 1)
    }

    @Test func remoteAdminDownAndBack() {
        var pair = Pair()
        pair.handle(0, .start)
        pair.handle(1, .start)
        pair.advance(to: .seconds(2))
        pair.handle(1, .adminDown)
        let at = pair.now
        pair.advance(to: .seconds(7))
        #expect(pair[1].changes.last!.new == .adminDown)
        #expect(pair[1].changes.last!.diagnostic == .administrativelyDown)
        let aDown = pair[0].changes.last!
        #expect(
            (aDown.new, aDown.diagnostic, aDown.time) == (.down, .neighborSignaledSessionDown, at + .milliseconds(1)))
        #expect(pair.states == [.down, .adminDown])
        // B keeps telling A it is AdminDown, once a second.
        let adminDownPackets = pair[1].sent.filter { $0.time >= at }
        #expect(adminDownPackets.count == 6)
        #expect(
            adminDownPackets.allSatisfy {
                $0.packet.state == .adminDown && $0.packet.diagnostic == .administrativelyDown
            })
        #expect(zip(adminDownPackets, adminDownPackets.dropFirst()).allSatisfy { $1.time - $0.time == .seconds(1) })

        pair.handle(1, .adminUp)
        #expect(pair[1].changes.last!.new == .down && pair[1].changes.last!.diagnostic == .none)
        pair.advance(by: .seconds(1))
        #expect(pair.states == [.up, .up])
    }

    @Test func adminDownIgnoresThePeerAndKeepsSending() {
        var harness = Harness()
        harness.bringUp()
        let actions = harness.handle(.adminDown)
        let packet = BFDControlPacket(
            diagnostic: .administrativelyDown, state: .adminDown, detectMultiplier: 3, myDiscriminator: local,
            yourDiscriminator: peer, desiredMinTxMicroseconds: 1_000_000, requiredMinRxMicroseconds: 300_000)
        #expect(
            actions == [
                .cancelTimer(.detection),
                .reportStateChange(old: .up, new: .adminDown, diagnostic: .administrativelyDown),
                .send(packet), .armTimer(.transmit, .seconds(1)),
            ])
        let peerPacket = harness.fromPeer(.up, poll: true)
        #expect(harness.handle(.packetReceived(peerPacket)) == [])  // no state change, no Final, no detection
        #expect(harness.handle(.timerFired(.detection)) == [])
        harness.advance(by: .seconds(3))
        #expect(harness.sent.suffix(4).allSatisfy { $0.packet == packet })
        #expect(harness.handle(.adminDown) == [])
    }

    // MARK: Poll and Final

    @Test func reachingUpPollsWithTheFastRate() {
        var harness = Harness()
        harness.handle(.start)
        harness.handle(.packetReceived(harness.fromPeer(.down, your: 0, tx: 1_000_000)))
        #expect(harness.lastSent?.state == .`init` && harness.lastSent?.poll == false)
        let up = harness.handle(.packetReceived(harness.fromPeer(.up)))
        #expect(up.contains(.reportStateChange(old: .`init`, new: .up, diagnostic: .none)))
        #expect(harness.lastSent?.state == .up)
        #expect(harness.lastSent?.poll == true && harness.lastSent?.final == false)
        #expect(harness.lastSent?.desiredMinTxMicroseconds == 300_000)
        #expect(harness.machine.isPolling)
        #expect(up.contains(.armTimer(.transmit, .milliseconds(300))))
        harness.advance(by: .milliseconds(300))
        #expect(harness.lastSent?.poll == true)  // every packet polls until the Final
        harness.handle(.packetReceived(harness.fromPeer(.up, final: true)))
        #expect(!harness.machine.isPolling)
        harness.advance(by: .milliseconds(300))
        #expect(harness.lastSent?.poll == false)
    }

    @Test func answersAPollWithFinalAtOnce() {
        var harness = Harness()
        harness.bringUp()
        harness.advance(by: .milliseconds(100))
        let before = harness.sent.count
        let actions = harness.handle(.packetReceived(harness.fromPeer(.up, poll: true)))
        #expect(harness.sent.count == before + 1)
        #expect(harness.lastSent?.final == true && harness.lastSent?.poll == false)
        #expect(actions.contains(.armTimer(.detection, .seconds(3))))
        // While we poll ourselves, the Final still carries no P; the next periodic packet does.
        harness.changeTimers(tx: .milliseconds(200), rx: .milliseconds(300))
        harness.advance(by: .milliseconds(200))  // one Final per final interval
        harness.handle(.packetReceived(harness.fromPeer(.up, poll: true)))
        #expect(harness.lastSent?.final == true && harness.lastSent?.poll == false)
        #expect(harness.lastSent?.desiredMinTxMicroseconds == 200_000)
        harness.advance(by: .milliseconds(300))  // max(200 ms ours, 300 ms the peer's required min RX)
        #expect(harness.lastSent?.poll == true && harness.lastSent?.final == false)
    }

    /// Issue 14: a Poll flood was answered Final for Poll (425k Finals at 59 % CPU). Now one Final per
    /// final interval (our desired min TX, RFC 5880 §6.8.7) goes out, the one owed rides on the next
    /// packet when the limit allows; before the limit this test saw 1,000 Finals in the first second.
    @Test func pollFloodGetsOneFinalPerInterval() {
        var harness = Harness()
        harness.bringUp(peerRx: 100_000)
        harness.changeTimers(tx: .milliseconds(100), rx: .milliseconds(100))
        harness.handle(.packetReceived(harness.fromPeer(.up, final: true, rx: 100_000)))
        #expect(harness.machine.finalInterval == .milliseconds(100))
        let start = harness.now + .nanoseconds(1)  // after the packets of the handshake
        // 1,000 Polls a second for 1 s.
        for _ in 0..<1000 {
            harness.advance(by: .milliseconds(1))
            harness.handle(.packetReceived(harness.fromPeer(.up, poll: true, rx: 100_000)))
        }
        let finals = harness.sent(from: start, to: harness.now).filter(\.final)
        #expect(finals.count >= 9 && finals.count <= 11)
        let sent = harness.sent(from: start, to: harness.now)
        #expect(sent.count <= 11)  // no more than the periodic rate: Finals ride on periodic packets
        #expect(sent.allSatisfy { !($0.poll && $0.final) })
        // The flood stops: the Final still owed goes out within one interval, then no more.
        let end = harness.now
        harness.advance(by: .milliseconds(100))
        #expect(harness.sent(from: end + .nanoseconds(1), to: harness.now).filter(\.final).count == 1)
        #expect(!harness.machine.owesFinal)
        harness.advance(by: .milliseconds(500))
        #expect(harness.sent(from: end + .milliseconds(101), to: harness.now).allSatisfy { !$0.final })
    }

    /// A peer that asks for no periodic packets (required min RX 0) still gets its Final, late if limited.
    @Test func owedFinalIsSentWithoutPeriodicPackets() {
        var harness = Harness()
        harness.bringUp()
        harness.handle(.packetReceived(harness.fromPeer(.up, poll: true)))
        #expect(harness.lastSent?.final == true)
        let before = harness.sent.count
        harness.handle(.packetReceived(harness.fromPeer(.up, poll: true, rx: 0)))
        #expect(harness.sent.count == before && harness.machine.owesFinal)
        harness.advance(by: harness.machine.finalInterval)
        #expect(harness.sent.count == before + 1 && harness.lastSent?.final == true)
        harness.advance(by: .seconds(2))
        #expect(harness.sent.count == before + 1)
    }

    @Test func longerTransmitIntervalWaitsForTheFinal() {
        var harness = Harness()
        harness.bringUp()
        #expect(harness.changeTimers(tx: .seconds(1), rx: .milliseconds(300)) == [])  // no extra packet
        #expect(harness.machine.isPolling)
        harness.advance(to: .milliseconds(900))
        let polls = harness.sent(from: .milliseconds(1), to: .milliseconds(900))
        #expect(harness.sent.filter { $0.time > .zero }.map(\.time) == [300, 600, 900].map(Duration.milliseconds))
        #expect(polls.allSatisfy { $0.poll && $0.desiredMinTxMicroseconds == 1_000_000 })
        #expect(harness.machine.transmitInterval == .milliseconds(300))
        harness.handle(.packetReceived(harness.fromPeer(.up, final: true)))
        #expect(!harness.machine.isPolling)
        #expect(harness.machine.transmitInterval == .seconds(1))
        harness.advance(to: .milliseconds(3300))
        let after = harness.sent.filter { $0.time > .milliseconds(900) }
        #expect(after.map(\.time) == [1200, 2200, 3200].map(Duration.milliseconds))
        #expect(after.allSatisfy { !$0.packet.poll })
    }

    @Test func shorterTransmitIntervalAppliesAtOnce() {
        var harness = Harness()
        harness.bringUp(peerRx: 100_000)
        harness.advance(by: .milliseconds(50))
        let actions = harness.changeTimers(tx: .milliseconds(100), rx: .milliseconds(300))
        #expect(harness.machine.transmitInterval == .milliseconds(100))
        #expect(actions == [.armTimer(.transmit, .milliseconds(100))])  // brought forward from 300 ms
    }

    @Test func shorterReceiveIntervalWaitsForTheFinalLongerAppliesAtOnce() {
        var harness = Harness()
        harness.bringUp(peerTx: 50_000)
        #expect(harness.machine.detectionTime == .milliseconds(900))  // 3 × max(300 ms ours, 50 ms)
        harness.changeTimers(tx: .milliseconds(300), rx: .milliseconds(100))
        #expect(harness.machine.detectionTime == .milliseconds(900))
        harness.advance(by: .milliseconds(300))
        #expect(harness.lastSent?.poll == true && harness.lastSent?.requiredMinRxMicroseconds == 100_000)
        let actions = harness.handle(.packetReceived(harness.fromPeer(.up, final: true, tx: 50_000)))
        #expect(harness.machine.detectionTime == .milliseconds(300))
        #expect(actions.contains(.armTimer(.detection, .milliseconds(300))))
        harness.changeTimers(tx: .milliseconds(300), rx: .milliseconds(500))
        #expect(harness.machine.detectionTime == .milliseconds(1500))
    }

    @Test func timerChangesOutsideUpApplyWithoutPoll() {
        var harness = Harness()
        harness.handle(.start)
        harness.changeTimers(tx: .seconds(3), rx: .milliseconds(200), multiplier: 4)
        #expect(!harness.machine.isPolling)
        harness.advance(to: .seconds(4))
        let packet = harness.lastSent!
        #expect(harness.sent.map(\.time) == [.zero, .seconds(1), .seconds(4)])  // longer from the next packet
        #expect(!packet.poll && packet.desiredMinTxMicroseconds == 3_000_000)
        #expect(packet.requiredMinRxMicroseconds == 200_000 && packet.detectMultiplier == 4)
    }

    // MARK: jitter

    @Test func jitterBounds() {
        var harness = Harness()
        harness.jitter = 1
        harness.handle(.start)
        #expect(harness.timers[.transmit] == .milliseconds(750))
        harness.jitter = 0
        harness.bringUp()
        #expect(harness.machine.transmitDelay(jitter: 0) == .milliseconds(300))
        #expect(harness.machine.transmitDelay(jitter: 1) == .milliseconds(225))
        #expect(harness.machine.transmitDelay(jitter: 0.5) == .microseconds(262_500))
        #expect(harness.machine.transmitDelay(jitter: 7) == .milliseconds(225))
        #expect(harness.machine.transmitDelay(jitter: -1) == .milliseconds(300))
        harness.jitter = 1
        harness.advance(by: .milliseconds(300))
        let last = harness.sent.last!.time
        harness.advance(by: .seconds(1))
        let times = harness.sent.filter { $0.time >= last }.map(\.time)
        #expect(zip(times, times.dropFirst()).allSatisfy { $1 - $0 == .milliseconds(225) })
    }

    @Test func jitterWithMultiplierOneStaysBetween75And90Percent() {
        var harness = Harness(BFDConfiguration(localDiscriminator: local, detectMultiplier: 1))
        harness.bringUp()
        #expect(harness.machine.transmitDelay(jitter: 0) == .milliseconds(270))
        #expect(harness.machine.transmitDelay(jitter: 1) == .milliseconds(225))
        var slow = Harness(BFDConfiguration(localDiscriminator: local, detectMultiplier: 1))
        slow.handle(.start)
        #expect(slow.timers[.transmit] == .milliseconds(900))
    }

    // MARK: discriminators

    @Test func packetForAnotherDiscriminatorIsDiscarded() {
        var harness = Harness()
        harness.handle(.start)
        let actions = harness.handle(.packetReceived(harness.fromPeer(.down, your: 0x99)))
        #expect(actions == [.discarded(.unknownDiscriminator(0x99))])
        #expect(harness.state == .down && harness.machine.remoteDiscriminator == 0)
        #expect(harness.timers[.detection] == nil)
    }

    @Test func zeroYourDiscriminatorOnlyFromDownOrAdminDown() {
        var harness = Harness()
        harness.handle(.start)
        for state in [BFDState.`init`, .up] {
            #expect(
                harness.handle(.packetReceived(harness.fromPeer(state, your: 0)))
                    == [.discarded(.zeroYourDiscriminator(peerState: state))])
        }
        #expect(harness.state == .down && harness.machine.remoteDiscriminator == 0)
        harness.handle(.packetReceived(harness.fromPeer(.adminDown, your: 0)))
        #expect(harness.state == .down && harness.machine.remoteDiscriminator == peer)
        harness.handle(.packetReceived(harness.fromPeer(.down, your: 0)))
        #expect(harness.state == .`init`)
        #expect(harness.lastSent?.yourDiscriminator == peer)  // learned, and used from then on
        // Once Up, a packet with your discriminator 0 from an Up peer is refused.
        harness.handle(.packetReceived(harness.fromPeer(.up)))
        #expect(harness.state == .up)
        #expect(
            harness.handle(.packetReceived(harness.fromPeer(.up, your: 0)))
                == [.discarded(.zeroYourDiscriminator(peerState: .up))])
    }

    // MARK: a peer that wants fewer packets

    @Test func peerRequiringNoPacketsStopsPeriodicTransmission() {
        var harness = Harness()
        harness.bringUp()
        let actions = harness.handle(.packetReceived(harness.fromPeer(.up, rx: 0)))
        #expect(actions.contains(.cancelTimer(.transmit)))
        #expect(!harness.machine.isTransmittingPeriodically)
        let before = harness.sent.count
        for _ in 0..<50 {
            harness.advance(by: .milliseconds(200))
            harness.handle(.packetReceived(harness.fromPeer(.up, rx: 0)))
        }
        #expect(harness.sent.count == before)
        harness.handle(.packetReceived(harness.fromPeer(.up, poll: true, rx: 0)))
        #expect(harness.sent.count == before + 1 && harness.lastSent?.final == true)
        let resumed = harness.handle(.packetReceived(harness.fromPeer(.up, rx: 300_000)))
        #expect(resumed.contains(.armTimer(.transmit, .milliseconds(300))))
    }

    @Test func peerInDemandModeStopsPeriodicTransmissionWhileBothUp() {
        var harness = Harness()
        harness.bringUp()
        let actions = harness.handle(.packetReceived(harness.fromPeer(.up, demand: true)))
        #expect(actions.contains(.cancelTimer(.transmit)))
        let before = harness.sent.count
        harness.advance(by: .milliseconds(800))
        #expect(harness.sent.count == before)
        // A Poll of ours (a timer change) is still sent periodically.
        harness.changeTimers(tx: .milliseconds(200), rx: .milliseconds(300))
        harness.advance(by: .milliseconds(300))
        #expect(harness.sent.count == before + 1 && harness.lastSent?.poll == true)
    }
}
