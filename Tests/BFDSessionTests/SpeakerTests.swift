// BFDSpeaker on real sockets, each test in a fresh network namespace (root needed): two speakers on
// 127.0.0.1 and 127.0.0.2 come Up and see each other stop; a dropped speaker says AdminDown; the receiver
// reads in batches of 32; a packet whose TTL is not 255 is dropped in the kernel (a flood of them never
// reaches the thread) while the same packet with 255 is taken; no other user can bind the port; malformed
// and unmatched packets are counted; set-up errors; the state-change callback sees what the stream does.
import BFD
import NetAddress
import Synchronization
import Testing

@testable import BFDSession

#if canImport(Glibc)
    import Glibc
#endif

private let one = IPAddress("127.0.0.1")!
private let two = IPAddress("127.0.0.2")!

/// A Down packet from discriminator 7, as a peer that knows nothing of us sends it.
private let peerDown: [UInt8] = BFDControlPacket(
    state: .down, detectMultiplier: 3, myDiscriminator: 7, yourDiscriminator: 0, desiredMinTxMicroseconds: 1_000_000,
    requiredMinRxMicroseconds: 1_000_000
).encoded

@Suite(.serialized) struct SpeakerTests {
    @Test func twoSpeakersComeUpAndSeeEachOtherStop() async throws {
        let outcome = try await inFreshNetworkNamespace { () throws -> [String] in
            let a = try BFDSpeaker()
            let b = try BFDSpeaker()
            defer {
                a.shutdown()
                b.shutdown()
            }
            let fast = Duration.milliseconds(20)
            try a.startSession(peer: two, local: one, desiredMinTxInterval: fast, requiredMinRxInterval: fast)
            try b.startSession(peer: one, local: two, desiredMinTxInterval: fast, requiredMinRxInterval: fast)
            var problems: [String] = []
            let bothUp = eventually { a.sessions().first?.state == .up && b.sessions().first?.state == .up }
            if !bothUp { problems.append("not Up: \(a.sessions()) \(b.sessions())") }
            let (sa, sb) = (a.sessions()[0], b.sessions()[0])
            if sa.remoteDiscriminator != sb.localDiscriminator || sb.remoteDiscriminator != sa.localDiscriminator {
                problems.append("discriminators not learned: \(sa) \(sb)")
            }
            if !BFDPorts.source.contains(sa.sourcePort) { problems.append("source port \(sa.sourcePort)") }
            if sa.peer != BFDPeer(address: two, local: one) { problems.append("peer \(sa.peer)") }
            // The Poll for the fast rate was answered, so both send at 20 ms.
            if !eventually({ a.sessions()[0].transmitInterval == fast }) { problems.append("a: \(a.sessions())") }

            #expect(a.stopSession(peer: two, local: one))
            #expect(!a.stopSession(peer: two, local: one))
            #expect(a.sessions().isEmpty)
            let heardStop = eventually {
                b.sessions().first.map { $0.state == .down && $0.diagnostic == .neighborSignaledSessionDown } ?? false
            }
            if !heardStop { problems.append("b did not go Down on a's AdminDown: \(b.sessions())") }
            return problems
        }
        #expect(outcome == [])
    }

    /// The callback sees every state change, in order, as `stateChanges` does: the daemon reads changes from
    /// it (on the speaker's thread) instead of from a Task that outlived its owner.
    @Test func stateChangesReachTheCallbackAndTheStream() async throws {
        let (heard, seen, stream) = try await inFreshNetworkNamespace {
            () throws -> ([BFDStateChange], [BFDStateChange], AsyncStream<BFDStateChange>) in
            let seen = Mutex<[BFDStateChange]>([])
            let a = try BFDSpeaker { change in seen.withLock { $0.append(change) } }
            let b = try BFDSpeaker()
            defer { b.shutdown() }
            let fast = Duration.milliseconds(20)
            try a.startSession(peer: two, local: one, desiredMinTxInterval: fast, requiredMinRxInterval: fast)
            try b.startSession(peer: one, local: two, desiredMinTxInterval: fast, requiredMinRxInterval: fast)
            _ = eventually { seen.withLock { $0.last?.new == .up } }
            b.stopSession(peer: one, local: two)
            _ = eventually { seen.withLock { $0.last?.new == .down } }
            let heard = seen.withLock { $0 }
            a.shutdown()  // its own session goes AdminDown: one more change, then the stream ends
            return (heard, seen.withLock { $0 }, a.stateChanges)
        }
        var streamed: [BFDStateChange] = []
        for await change in stream { streamed.append(change) }
        #expect(heard.map(\.new).contains(.up))
        #expect(heard.last?.new == .down)
        #expect(heard.last?.diagnostic == .neighborSignaledSessionDown)
        #expect(seen.last?.new == .adminDown)
        #expect(seen.allSatisfy { $0.peer == BFDPeer(address: two, local: one) })
        #expect(streamed == seen)
    }

    /// A speaker dropped without shutdown() ends its sessions as shutdown() does: its peer hears AdminDown
    /// (before the PollThread port the thread kept the speaker alive and the peer only timed out).
    @Test func droppedSpeakerSaysAdminDown() async throws {
        let outcome = try await inFreshNetworkNamespace { () throws -> [String] in
            let b = try BFDSpeaker()
            defer { b.shutdown() }
            let fast = Duration.milliseconds(20)
            try b.startSession(peer: one, local: two, desiredMinTxInterval: fast, requiredMinRxInterval: fast)
            var problems: [String] = []
            do {
                let a = try BFDSpeaker()
                try a.startSession(peer: two, local: one, desiredMinTxInterval: fast, requiredMinRxInterval: fast)
                if !eventually({ a.sessions().first?.state == .up && b.sessions().first?.state == .up }) {
                    problems.append("not Up: \(a.sessions()) \(b.sessions())")
                }
            }
            let heard = eventually {
                b.sessions().first.map { $0.state == .down && $0.diagnostic == .neighborSignaledSessionDown } ?? false
            }
            if !heard { problems.append("no AdminDown from the dropped speaker: \(b.sessions())") }
            return problems
        }
        #expect(outcome == [])
    }

    /// Bug 9 asks for batched reads: one recvmmsg(2) takes up to 32 datagrams; the TTL-64 ones among
    /// them never arrive (the kernel filter).
    @Test func receiverReadsInBatchesOfThirtyTwo() async throws {
        let counts = try await inFreshNetworkNamespace { () throws -> [Int] in
            let fd = try openReceiver(local: one)
            defer { close(fd) }
            try sendDatagrams(peerDown, count: 40, from: "127.0.0.2", to: "127.0.0.1", ttl: 255)
            try sendDatagrams(peerDown, count: 10, from: "127.0.0.2", to: "127.0.0.1", ttl: 64)
            let batch = ReceiveBatch()
            #expect(batch.readsInBatches)
            var counts: [Int] = []
            for _ in 0..<3 {
                var good = 0
                counts.append(
                    batch.receive(fd) { datagram, payload in
                        if datagram.ttl == 255, datagram.source == two, Array(payload) == peerDown { good += 1 }
                    })
                counts.append(good)
            }
            return counts
        }
        #expect(counts == [32, 32, 8, 8, 0, 0])
    }

    @Test func onlyTTL255Counts() async throws {
        let outcome = try await inFreshNetworkNamespace { () throws -> [String] in
            let speaker = try BFDSpeaker()
            defer { speaker.shutdown() }
            try speaker.startSession(peer: two, local: one)
            var problems: [String] = []
            try sendDatagram(peerDown, from: "127.0.0.2", to: "127.0.0.1", ttl: 64)
            try sendDatagram(peerDown, from: "127.0.0.2", to: "127.0.0.1", ttl: 255)
            if !eventually({ speaker.sessions().first?.state == .`init` }) {
                problems.append("TTL 255 packet not taken: \(speaker.sessions())")
            }
            if speaker.sessions().first?.remoteDiscriminator != 7 { problems.append("discriminator not learned") }
            if speaker.sessions().first?.packetsReceived != 1 { problems.append("TTL 64 reached the session") }
            return problems
        }
        #expect(outcome == [])
    }

    /// Issue 14 bug 9: datagrams with TTL 64 were read and dropped only after recvmsg, so a flood of them
    /// filled the receive queue. The kernel filter drops them before they are queued: the thread never
    /// sees one of 3,000 (it counted 3,000 wrong-TTL packets before the filter), and the one TTL-255
    /// datagram sent after them still arrives.
    @Test func ttl64FloodNeverReachesTheThread() async throws {
        let outcome = try await inFreshNetworkNamespace { () throws -> [String] in
            let speaker = try BFDSpeaker()
            defer { speaker.shutdown() }
            try speaker.startSession(peer: two, local: one)
            try sendDatagrams(peerDown, count: 3000, from: "127.0.0.2", to: "127.0.0.1", ttl: 64)
            try sendDatagram(Array(peerDown.prefix(20)), from: "127.0.0.2", to: "127.0.0.1", ttl: 255)
            var problems: [String] = []
            if !eventually({ speaker.receiveCounters.malformed == 1 }) {
                problems.append("the TTL-255 marker did not arrive: \(speaker.receiveCounters)")
            }
            let counters = speaker.receiveCounters
            if counters.wrongTTL != 0 { problems.append("\(counters.wrongTTL) TTL-64 datagrams reached the thread") }
            if speaker.sessions().first?.packetsReceived != 0 { problems.append("a TTL-64 packet reached the session") }
            return problems
        }
        #expect(outcome == [])
    }

    /// Issue 14 bug 8: the receiver set SO_REUSEADDR, so any local user could bind the agent's
    /// address:3784 with SO_REUSEADDR as well and take its packets. Now an unprivileged process gets
    /// EADDRINUSE for the address, for the wildcard and with SO_REUSEPORT (before the fix the bind with
    /// SO_REUSEADDR succeeded).
    @Test func noOtherUserSharesTheReceivePort() async throws {
        let outcome = try await inFreshNetworkNamespace { () throws -> [String] in
            let speaker = try BFDSpeaker()
            defer { speaker.shutdown() }
            try speaker.startSession(peer: two, local: one)
            var problems: [String] = []
            for (address, option) in [
                ("127.0.0.1", "SO_REUSEADDR"), ("0.0.0.0", "SO_REUSEADDR"), ("127.0.0.1", "SO_REUSEPORT"),
            ] {
                let script = """
                    import errno, socket, sys
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    s.setsockopt(socket.SOL_SOCKET, socket.\(option), 1)
                    try:
                        s.bind(("\(address)", 3784))
                    except OSError as e:
                        sys.exit(0 if e.errno == errno.EADDRINUSE else 2)
                    sys.exit(1)
                    """
                do {
                    try command(
                        "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script)
                } catch {
                    problems.append("user 65534 bound \(address):3784 with \(option) (\(error))")
                }
            }
            return problems
        }
        #expect(outcome == [])
    }

    @Test func malformedAndUnmatchedPacketsAreCounted() async throws {
        let counters = try await inFreshNetworkNamespace { () throws -> BFDReceiveCounters in
            let speaker = try BFDSpeaker()
            defer { speaker.shutdown() }
            try speaker.startSession(peer: two, local: one)
            var unknownDiscriminator = peerDown
            unknownDiscriminator[11] = 0x55  // your discriminator 0x55: no such session
            try sendDatagram(Array(peerDown.prefix(20)), from: "127.0.0.2", to: "127.0.0.1", ttl: 255)
            try sendDatagram(unknownDiscriminator, from: "127.0.0.2", to: "127.0.0.1", ttl: 255)
            // Your discriminator 0 from an address with no session (all of 127/8 is local).
            try sendDatagram(peerDown, from: "127.0.0.3", to: "127.0.0.1", ttl: 255)
            _ = eventually { speaker.receiveCounters.noSession == 2 }
            return speaker.receiveCounters
        }
        #expect(counters.malformed == 1)
        #expect(counters.noSession == 2)
        #expect(counters.wrongTTL == 0)
    }

    @Test func setUpErrors() async throws {
        let errors = try await inFreshNetworkNamespace { () throws -> [BFDSessionError?] in
            let speaker = try BFDSpeaker()
            func attempt(_ peer: String, _ local: String) -> BFDSessionError? {
                do {
                    try speaker.startSession(peer: IPAddress(peer)!, local: IPAddress(local)!)
                    return nil
                } catch {
                    return error
                }
            }
            var errors = [attempt("127.0.0.2", "::1"), attempt("127.0.0.2", "127.0.0.1")]
            errors.append(attempt("127.0.0.2", "127.0.0.1"))
            errors.append(attempt("192.0.2.2", "192.0.2.1"))  // not an address of this host
            speaker.shutdown()
            errors.append(attempt("127.0.0.3", "127.0.0.1"))
            return errors
        }
        let key = BFDPeer(address: two, local: one)
        #expect(errors[0] == .familyMismatch(BFDPeer(address: two, local: IPAddress("::1")!)))
        #expect(errors[1] == nil)
        #expect(errors[2] == .alreadyRunning(key))
        guard case .socket(let operation, let code) = errors[3] else {
            Issue.record("expected a bind error, got \(String(describing: errors[3]))")
            return
        }
        #expect(operation.hasPrefix("bind 192.0.2.1:") && code == EADDRNOTAVAIL)
        #expect(errors[4] == .shutDown)
    }
}
