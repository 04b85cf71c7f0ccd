// Authentication in the session (RFC 5880 §6.7.4, §6.8.6) on a fake clock: two machines with a shared key
// come Up and sign every packet; a spoofed AdminDown without authentication, with another key or a wrong
// hash is dropped while Up; sequence numbers: Meticulous must increase, Keyed may repeat, both within
// 3 × Detect Mult, and the window is forgotten after twice the detection time of silence.
import BFD
import Testing

private let local: UInt32 = 0x0A0A_0001
private let remote: UInt32 = 0x0B0B_0002

private func key(_ type: BFDAuthenticationType, _ text: String = "s3cret", id: UInt8 = 1) -> BFDAuthentication {
    BFDAuthentication(type: type, keyID: id, key: Array(text.utf8))!
}

private func configuration(_ discriminator: UInt32, _ auth: BFDAuthentication?) -> BFDConfiguration {
    BFDConfiguration(
        localDiscriminator: discriminator, desiredMinTxInterval: .milliseconds(100),
        requiredMinRxInterval: .milliseconds(100), authentication: auth)
}

/// A harness whose peer signs with `auth`, brought Up through the handshake; returns the peer's last
/// sequence number used.
private func upHarness(_ auth: BFDAuthentication) -> (Harness, UInt32) {
    var harness = Harness(configuration(local, auth))
    harness.handle(.start)
    var sequence: UInt32 = 100
    func peerPacket(_ state: BFDState, your: UInt32, final: Bool = false) -> BFDControlPacket {
        sequence += 1
        return auth.sign(
            BFDControlPacket(
                state: state, final: final, detectMultiplier: 3, myDiscriminator: remote, yourDiscriminator: your,
                desiredMinTxMicroseconds: 100_000, requiredMinRxMicroseconds: 100_000),
            sequence: sequence)
    }
    harness.handle(.packetReceived(peerPacket(.down, your: 0)))
    harness.handle(.packetReceived(peerPacket(.up, your: local)))
    harness.handle(.packetReceived(peerPacket(.up, your: local, final: true)))
    return (harness, sequence)
}

private func peerPacket(_ state: BFDState, diagnostic: BFDDiagnostic = .none) -> BFDControlPacket {
    BFDControlPacket(
        diagnostic: diagnostic, state: state, detectMultiplier: 3, myDiscriminator: remote, yourDiscriminator: local,
        desiredMinTxMicroseconds: 100_000, requiredMinRxMicroseconds: 100_000)
}

@Suite struct AuthenticationTests {
    @Test(arguments: BFDAuthenticationType.allCases)
    func twoSidesWithOneKeyComeUpAndSignEveryPacket(type: BFDAuthenticationType) {
        let auth = key(type)
        var pair = Pair(configuration(local, auth), configuration(remote, auth))
        pair.handle(0, .start)
        pair.handle(1, .start)
        pair.advance(to: .seconds(3))
        #expect(pair.states == [.up, .up])
        for side in 0..<2 {
            let sections = pair[side].sent.map(\.packet.authentication)
            #expect(sections.allSatisfy { $0?.type == type && $0?.keyID == 1 })
            #expect(pair[side].sent.allSatisfy { auth.verifies($0.packet) })
            let sequences = sections.compactMap { $0?.sequence }
            if type == .meticulousKeyedSHA1 {
                #expect(zip(sequences, sequences.dropFirst()).allSatisfy { $1 == $0 &+ 1 })
            } else {
                #expect(Set(sequences).count < sequences.count)  // it may stay, and does between changes
            }
        }
        // A pair with different keys never comes Up.
        var wrong = Pair(configuration(local, auth), configuration(remote, key(type, "other")))
        wrong.handle(0, .start)
        wrong.handle(1, .start)
        wrong.advance(to: .seconds(3))
        #expect(wrong.states == [.down, .down])
    }

    /// Issue 14: one spoofed AdminDown (TTL 255, the router's address, no authentication) reset BGP. With
    /// authentication on, it is dropped, as are one signed with another key ID, another type or a bad hash.
    @Test func spoofedAdminDownIsDroppedWhileUp() {
        let auth = key(.meticulousKeyedSHA1)
        var (harness, sequence) = upHarness(auth)
        #expect(harness.state == .up)
        let spoof = peerPacket(.adminDown, diagnostic: .administrativelyDown)
        #expect(harness.handle(.packetReceived(spoof)) == [.discarded(.authenticationMissing)])
        let otherID = key(.meticulousKeyedSHA1, id: 2).sign(spoof, sequence: sequence + 1)
        #expect(
            harness.handle(.packetReceived(otherID)) == [
                .discarded(.authenticationKeyMismatch(type: .meticulousKeyedSHA1, keyID: 2))
            ])
        let otherType = key(.keyedSHA1).sign(spoof, sequence: sequence + 1)
        #expect(
            harness.handle(.packetReceived(otherType)) == [
                .discarded(.authenticationKeyMismatch(type: .keyedSHA1, keyID: 1))
            ])
        let otherKey = key(.meticulousKeyedSHA1, "guess").sign(spoof, sequence: sequence + 1)
        #expect(harness.handle(.packetReceived(otherKey)) == [.discarded(.authenticationFailed)])
        #expect(harness.state == .up && harness.changes.last?.new == .up)
        // The real peer's signed AdminDown still takes it down.
        sequence += 1
        harness.handle(.packetReceived(auth.sign(spoof, sequence: sequence)))
        #expect(harness.state == .down && harness.machine.diagnostic == .neighborSignaledSessionDown)
    }

    @Test func withoutAuthenticationASignedPacketIsDropped() {
        var harness = Harness(configuration(local, nil))
        harness.handle(.start)
        let signed = key(.keyedSHA1).sign(peerPacket(.down), sequence: 1)
        var unsigned = signed
        unsigned.authentication = nil
        unsigned.yourDiscriminator = 0
        var packet = signed
        packet.yourDiscriminator = 0
        #expect(harness.handle(.packetReceived(packet)) == [.discarded(.authenticationNotInUse)])
        harness.handle(.packetReceived(unsigned))
        #expect(harness.state == .`init`)
    }

    @Test func meticulousSequenceMustIncreaseWithinTheWindow() {
        let auth = key(.meticulousKeyedSHA1)
        var (harness, last) = upHarness(auth)
        let up = peerPacket(.up)
        // A replay (the same number) and an old one are dropped.
        #expect(
            harness.handle(.packetReceived(auth.sign(up, sequence: last)))
                == [.discarded(.sequenceOutOfWindow(received: last, last: last))])
        #expect(
            harness.handle(.packetReceived(auth.sign(up, sequence: last - 1)))
                == [.discarded(.sequenceOutOfWindow(received: last - 1, last: last))])
        // 3 × Detect Mult (9) ahead is the edge of the window; 10 ahead is outside.
        #expect(
            harness.handle(.packetReceived(auth.sign(up, sequence: last + 10)))
                == [.discarded(.sequenceOutOfWindow(received: last + 10, last: last))])
        #expect(!harness.handle(.packetReceived(auth.sign(up, sequence: last + 9))).contains { $0.isDiscard })
        last += 9
        #expect(!harness.handle(.packetReceived(auth.sign(up, sequence: last + 1))).contains { $0.isDiscard })
    }

    @Test func keyedSequenceMayRepeatAndWrapsAround() {
        let auth = key(.keyedSHA1)
        let (start, last) = upHarness(auth)
        var harness = start
        let up = peerPacket(.up)
        #expect(!harness.handle(.packetReceived(auth.sign(up, sequence: last))).contains { $0.isDiscard })
        #expect(
            harness.handle(.packetReceived(auth.sign(up, sequence: last - 1)))
                == [.discarded(.sequenceOutOfWindow(received: last - 1, last: last))])
        // Circular: from 0xFFFFFFFF, 0 to 8 are ahead.
        var wrapping = Harness(configuration(local, auth))
        wrapping.handle(.start)
        var down = peerPacket(.down)
        down.yourDiscriminator = 0
        wrapping.handle(.packetReceived(auth.sign(down, sequence: UInt32.max)))
        #expect(wrapping.state == .`init`)
        #expect(!wrapping.handle(.packetReceived(auth.sign(peerPacket(.up), sequence: 8))).contains { $0.isDiscard })
        #expect(wrapping.state == .up)
        let opposite = last &+ 0x8000_0000
        #expect(
            harness.handle(.packetReceived(auth.sign(up, sequence: opposite)))
                == [.discarded(.sequenceOutOfWindow(received: opposite, last: last))])
    }

    @Test func windowIsForgottenAfterTwiceTheDetectionTime() {
        let auth = key(.meticulousKeyedSHA1)
        var (harness, last) = upHarness(auth)
        let far = last &+ 1_000
        harness.advance(by: .milliseconds(500))  // detection (300 ms) fired: Down; 2 × 300 ms not yet over
        #expect(harness.state == .down)
        var down = peerPacket(.down)
        down.yourDiscriminator = 0
        #expect(harness.handle(.packetReceived(auth.sign(down, sequence: far))).contains { $0.isDiscard })
        harness.advance(by: .milliseconds(200))
        #expect(!harness.handle(.packetReceived(auth.sign(down, sequence: far))).contains { $0.isDiscard })
        #expect(harness.state == .`init`)
        last = far
        #expect(harness.handle(.packetReceived(auth.sign(down, sequence: last))).contains { $0.isDiscard })
    }
}

extension BFDAction {
    fileprivate var isDiscard: Bool {
        if case .discarded = self { return true }
        return false
    }
}
