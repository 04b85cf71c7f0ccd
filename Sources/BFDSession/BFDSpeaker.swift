// The BFD I/O shell: one thread (a Runtime.PollThread) runs every session of the host. It polls one
// receiver per local address (UDP 3784), drops packets whose TTL is not 255, decodes, finds the session
// (by Your Discriminator, or by peer and local address while that is 0), feeds BFDStateMachine and carries
// out its actions: send on the session's own socket, keep its two timers, report state changes.
// A thread rather than NIO: NIO's datagram channels cannot hand over the received TTL.
// RFC 5881 (single hop); the protocol itself is in the BFD module.
import BFD
import NetAddress
import Runtime
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One single-hop session: the peer, and the local address we send from and receive on.
public struct BFDPeer: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var address: IPAddress
    public var local: IPAddress

    public init(address: IPAddress, local: IPAddress) {
        self.address = address
        self.local = local
    }

    public var description: String { "\(address) (local \(local))" }

    public static func < (lhs: BFDPeer, rhs: BFDPeer) -> Bool {
        (lhs.address, lhs.local) < (rhs.address, rhs.local)
    }
}

/// A session changed state.
public struct BFDStateChange: Hashable, Sendable, CustomStringConvertible {
    public var peer: BFDPeer
    public var old: BFDState
    public var new: BFDState
    /// Why, as we tell the peer.
    public var diagnostic: BFDDiagnostic
    /// The peer's own diagnostic from its last packet.
    public var remoteDiagnostic: BFDDiagnostic

    public var description: String { "\(peer): \(old) -> \(new) (\(diagnostic))" }
}

/// A session as last seen by the speaker's thread.
public struct BFDSessionStatus: Hashable, Sendable {
    public var peer: BFDPeer
    public var state: BFDState
    public var diagnostic: BFDDiagnostic
    public var remoteState: BFDState
    public var remoteDiagnostic: BFDDiagnostic
    public var localDiscriminator: UInt32
    public var remoteDiscriminator: UInt32
    public var sourcePort: UInt16
    /// Between periodic packets, before jitter.
    public var transmitInterval: Duration
    /// Silence from the peer longer than this takes the session down; nil until the peer is heard.
    public var detectionTime: Duration?
    public var packetsSent: UInt64
    public var packetsReceived: UInt64
    /// The last failed send, if any ("send: Network is unreachable").
    public var lastSendError: String?
}

/// Received datagrams that reached no session.
public struct BFDReceiveCounters: Hashable, Sendable {
    /// TTL or hop limit not 255: sent from further than one hop away (RFC 5881 §5).
    public var wrongTTL: UInt64 = 0
    /// Not a usable Control packet (BFDDecodeError).
    public var malformed: UInt64 = 0
    /// No session for its discriminator or addresses.
    public var noSession: UInt64 = 0
    /// Dropped by the session (BFDDiscardReason).
    public var discardedBySession: UInt64 = 0
}

/// What the speaker and its thread share: the command queue, the published status, the state-change stream.
private final class SpeakerCore: Sendable {
    let continuation: AsyncStream<BFDStateChange>.Continuation
    let onStateChange: (@Sendable (BFDStateChange) -> Void)?
    let shared = Mutex(BFDSpeaker.Shared())

    init(
        continuation: AsyncStream<BFDStateChange>.Continuation,
        onStateChange: (@Sendable (BFDStateChange) -> Void)?
    ) {
        self.continuation = continuation
        self.onStateChange = onStateChange
    }
}

/// Runs single-hop BFD sessions on one thread. Call `shutdown()` when done: it ends the sessions (each
/// tells its peer AdminDown) and joins the thread; dropping the last reference does the same.
public final class BFDSpeaker: Sendable {
    /// Every state change of every session, in order. If nobody reads it, the oldest of more than 4096
    /// waiting changes are dropped (the current state is always in `sessions()`).
    public let stateChanges: AsyncStream<BFDStateChange>
    private let core: SpeakerCore
    private let thread: PollThread

    fileprivate enum Command: Sendable {
        case add(BFDPeer, BFDConfiguration, sender: Int32, sourcePort: UInt16, receiver: Int32?)
        case remove(BFDPeer, closeReceiver: Int32?)
        case adminDown(BFDPeer, Bool)
        case changeTimers(BFDPeer, tx: Duration, rx: Duration, multiplier: UInt8)
    }

    fileprivate struct Shared {
        var commands: [Command] = []
        var discriminators: [BFDPeer: UInt32] = [:]
        var receivers: [IPAddress: (fd: Int32, users: Int)] = [:]
        var status: [BFDPeer: BFDSessionStatus] = [:]
        var counters = BFDReceiveCounters()
        var isShutDown = false
    }

    /// Starts the speaker's thread. `onStateChange`, if given, is called on that thread with every state
    /// change (before it goes to `stateChanges`), in order and holding no lock of the speaker's: it must
    /// not block, and must not call `shutdown()`.
    public init(onStateChange: (@Sendable (BFDStateChange) -> Void)? = nil) throws(BFDSessionError) {
        let continuation: AsyncStream<BFDStateChange>.Continuation
        (stateChanges, continuation) = AsyncStream.makeStream(
            of: BFDStateChange.self, bufferingPolicy: .bufferingNewest(4096))
        let core = SpeakerCore(continuation: continuation, onStateChange: onStateChange)
        self.core = core
        do {
            thread = try PollThread(name: "bfd") { thread in
                var loop = SpeakerLoop(core: core, thread: thread)
                loop.run()
            }
        } catch {
            throw .socket(operation: error.operation, code: error.code)
        }
    }

    deinit { shutdown() }

    /// Starts a session with `peer` from `local` (an address of this host). It sends its first packet at
    /// once and reports every state change on `stateChanges`. The defaults are 300 ms × 3, no
    /// authentication.
    public func startSession(
        peer: IPAddress, local: IPAddress, desiredMinTxInterval: Duration = .milliseconds(300),
        requiredMinRxInterval: Duration = .milliseconds(300), detectMultiplier: UInt8 = 3,
        authentication: BFDAuthentication? = nil
    ) throws(BFDSessionError) {
        let key = BFDPeer(address: peer, local: local)
        guard peer.family == local.family else { throw .familyMismatch(key) }
        try core.shared.withLock { (shared: inout Shared) throws(BFDSessionError) in
            guard !shared.isShutDown else { throw .shutDown }
            guard shared.discriminators[key] == nil else { throw .alreadyRunning(key) }
            let sender = try openSender(local: local, peer: peer)
            var newReceiver: Int32?
            if shared.receivers[local] == nil {
                do throws(BFDSessionError) {
                    newReceiver = try openReceiver(local: local)
                } catch {
                    close(sender.fd)
                    throw error
                }
                shared.receivers[local] = (newReceiver!, 0)
            }
            shared.receivers[local]!.users += 1
            let used = Set(shared.discriminators.values)
            var discriminator = UInt32.random(in: 1...UInt32.max)
            while used.contains(discriminator) { discriminator = UInt32.random(in: 1...UInt32.max) }
            shared.discriminators[key] = discriminator
            let configuration = BFDConfiguration(
                localDiscriminator: discriminator, desiredMinTxInterval: desiredMinTxInterval,
                requiredMinRxInterval: requiredMinRxInterval, detectMultiplier: detectMultiplier,
                authentication: authentication)
            shared.commands.append(
                .add(key, configuration, sender: sender.fd, sourcePort: sender.port, receiver: newReceiver))
        }
        thread.wake()
    }

    /// Ends a session: one last AdminDown packet tells the peer, then its socket is closed. Returns false
    /// if there was no such session.
    @discardableResult
    public func stopSession(peer: IPAddress, local: IPAddress) -> Bool {
        let key = BFDPeer(address: peer, local: local)
        let found = core.shared.withLock { shared in
            guard !shared.isShutDown, shared.discriminators.removeValue(forKey: key) != nil else { return false }
            shared.status[key] = nil
            var closeReceiver: Int32?
            shared.receivers[local]!.users -= 1
            if shared.receivers[local]!.users == 0 {
                closeReceiver = shared.receivers.removeValue(forKey: local)!.fd
            }
            shared.commands.append(.remove(key, closeReceiver: closeReceiver))
            return true
        }
        if found { thread.wake() }
        return found
    }

    /// Holds a session in AdminDown (diagnostic 7, still told to the peer), or releases it.
    public func setAdminDown(_ down: Bool, peer: IPAddress, local: IPAddress) {
        send(.adminDown(BFDPeer(address: peer, local: local), down))
    }

    /// Changes a session's intervals; while Up the peer learns them through a Poll Sequence.
    public func changeTimers(
        peer: IPAddress, local: IPAddress, desiredMinTxInterval: Duration, requiredMinRxInterval: Duration,
        detectMultiplier: UInt8
    ) {
        send(
            .changeTimers(
                BFDPeer(address: peer, local: local), tx: desiredMinTxInterval, rx: requiredMinRxInterval,
                multiplier: detectMultiplier))
    }

    /// Every session as last seen, ordered by peer.
    public func sessions() -> [BFDSessionStatus] {
        core.shared.withLock { $0.status.values.sorted { $0.peer < $1.peer } }
    }

    public var receiveCounters: BFDReceiveCounters { core.shared.withLock { $0.counters } }

    /// Ends every session (each sends AdminDown), stops the thread, closes all sockets and finishes
    /// `stateChanges`. Safe to call more than once; not from a state-change consumer that blocks the thread.
    public func shutdown() {
        let first = core.shared.withLock { shared in
            defer { shared.isShutDown = true }
            return !shared.isShutDown
        }
        guard first else { return }
        thread.stop()
        core.continuation.finish()
    }

    private func send(_ command: Command) {
        let sent = core.shared.withLock { shared in
            guard !shared.isShutDown else { return false }
            shared.commands.append(command)
            return true
        }
        if sent { thread.wake() }
    }
}

/// One session as the thread keeps it.
private struct SessionIO {
    var machine: BFDStateMachine
    var sender: Int32
    var sourcePort: UInt16
    var deadlines: [BFDTimer: Duration] = [:]
    var packetsSent: UInt64 = 0
    var packetsReceived: UInt64 = 0
    var lastSendError: String?
}

/// The speaker's thread: owns the sessions and the receivers; everything else reaches it as commands.
private struct SpeakerLoop {
    let core: SpeakerCore
    let thread: PollThread
    var sessions: [BFDPeer: SessionIO] = [:]
    var byDiscriminator: [UInt32: BFDPeer] = [:]
    /// Receiver descriptor → the local address it is bound to.
    var receivers: [Int32: IPAddress] = [:]
    let batch = ReceiveBatch()

    init(core: SpeakerCore, thread: PollThread) {
        self.core = core
        self.thread = thread
    }

    /// CLOCK_MONOTONIC, the clock of PollThread's deadlines.
    var now: Duration { .nanoseconds(monotonicNanoseconds()) }

    mutating func run() {
        while true {
            let commands = core.shared.withLock { shared in
                defer { shared.commands = [] }
                return shared.commands
            }
            for command in commands { apply(command) }

            var entries = receivers.keys.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let next = sessions.values.lazy.flatMap(\.deadlines.values).min()
            // Stopped: the commands queued before shutdown() were applied above; end every session.
            guard thread.wait(&entries, until: next.map(nanoseconds)) else { return closeAll() }
            for entry in entries where entry.revents != 0 { receiveAll(entry.fd) }
            fireDueTimers()
        }
    }

    mutating func apply(_ command: BFDSpeaker.Command) {
        switch command {
        case .add(let key, let configuration, let sender, let sourcePort, let receiver):
            if let receiver { receivers[receiver] = key.local }
            sessions[key] = SessionIO(
                machine: BFDStateMachine(
                    configuration: configuration, initialSequence: UInt32.random(in: 0...UInt32.max)),
                sender: sender, sourcePort: sourcePort)
            byDiscriminator[configuration.localDiscriminator] = key
            handle(key, .start)
        case .remove(let key, let closeReceiver):
            if sessions[key] != nil {
                handle(key, .adminDown)
                let session = sessions.removeValue(forKey: key)!
                byDiscriminator[session.machine.configuration.localDiscriminator] = nil
                close(session.sender)
            }
            if let closeReceiver {
                receivers[closeReceiver] = nil
                close(closeReceiver)
            }
        case .adminDown(let key, let down):
            handle(key, down ? .adminDown : .adminUp)
        case .changeTimers(let key, let tx, let rx, let multiplier):
            guard sessions[key] != nil else { return }
            let time = now
            let actions = sessions[key]!.machine.changeTimers(
                desiredMinTxInterval: tx, requiredMinRxInterval: rx, detectMultiplier: multiplier, now: time,
                jitter: Double.random(in: 0...1))
            perform(actions, for: key, at: time)
        }
    }

    mutating func closeAll() {
        for key in Array(sessions.keys) { apply(.remove(key, closeReceiver: nil)) }
        for fd in receivers.keys { close(fd) }
        receivers = [:]
    }

    /// Reads what is waiting on one receiver in batches, at most 4 × 32 datagrams, so timers are not starved.
    mutating func receiveAll(_ fd: Int32) {
        guard let local = receivers[fd] else { return }
        var counters = BFDReceiveCounters()
        for _ in 0..<4 {
            var datagrams: [(Datagram, BFDControlPacket?)] = []
            let count = batch.receive(fd) { datagram, payload in
                datagrams.append((datagram, try? BFDControlPacket(decoding: payload)))
            }
            for (datagram, packet) in datagrams {
                guard datagram.ttl == 255 else {
                    counters.wrongTTL += 1
                    continue
                }
                guard let packet else {
                    counters.malformed += 1
                    continue
                }
                // RFC 5881 §3: by Your Discriminator once the peer knows it, by the addresses before.
                let key =
                    packet.yourDiscriminator != 0
                    ? byDiscriminator[packet.yourDiscriminator] : BFDPeer(address: datagram.source, local: local)
                guard let key, key.local == local, sessions[key] != nil else {
                    counters.noSession += 1
                    continue
                }
                sessions[key]!.packetsReceived += 1
                counters.discardedBySession += handle(key, .packetReceived(packet))
            }
            if count < ReceiveBatch.capacity { break }
        }
        if counters != BFDReceiveCounters() {
            core.shared.withLock { shared in
                shared.counters.wrongTTL += counters.wrongTTL
                shared.counters.malformed += counters.malformed
                shared.counters.noSession += counters.noSession
                shared.counters.discardedBySession += counters.discardedBySession
            }
        }
    }

    mutating func fireDueTimers() {
        let time = now
        let due = sessions.flatMap { key, session in
            session.deadlines.filter { $0.value <= time }.map { (key, $0.key, $0.value) }
        }
        for (key, timer, deadline) in due.sorted(by: { $0.2 < $1.2 }) {
            // An earlier event in this round may have re-armed or cancelled it.
            guard sessions[key]?.deadlines[timer] == deadline else { continue }
            sessions[key]!.deadlines[timer] = nil
            handle(key, .timerFired(timer))
        }
    }

    /// Feeds one event to a session and carries out the actions; returns how many packets it discarded.
    @discardableResult
    mutating func handle(_ key: BFDPeer, _ event: BFDEvent) -> UInt64 {
        let time = now
        guard let actions = sessions[key]?.machine.handle(event, now: time, jitter: Double.random(in: 0...1)) else {
            return 0
        }
        return perform(actions, for: key, at: time)
    }

    @discardableResult
    mutating func perform(_ actions: [BFDAction], for key: BFDPeer, at time: Duration) -> UInt64 {
        var discarded: UInt64 = 0
        for action in actions {
            switch action {
            case .send(let packet):
                let bytes = packet.encoded
                let sent = bytes.withUnsafeBytes { Glibc.send(sessions[key]!.sender, $0.baseAddress, $0.count, 0) }
                if sent == bytes.count {
                    sessions[key]!.packetsSent += 1
                } else {
                    sessions[key]!.lastSendError = "send: \(String(cString: strerror(errno)))"
                }
            case .armTimer(let timer, let duration):
                sessions[key]!.deadlines[timer] = time + duration
            case .cancelTimer(let timer):
                sessions[key]!.deadlines[timer] = nil
            case .reportStateChange(let old, let new, let diagnostic):
                let change = BFDStateChange(
                    peer: key, old: old, new: new, diagnostic: diagnostic,
                    remoteDiagnostic: sessions[key]!.machine.remoteDiagnostic)
                core.onStateChange?(change)
                core.continuation.yield(change)
            case .discarded:
                discarded += 1
            }
        }
        publish(key)
        return discarded
    }

    func publish(_ key: BFDPeer) {
        guard let session = sessions[key] else { return }
        let machine = session.machine
        let status = BFDSessionStatus(
            peer: key, state: machine.state, diagnostic: machine.diagnostic, remoteState: machine.remoteState,
            remoteDiagnostic: machine.remoteDiagnostic, localDiscriminator: machine.configuration.localDiscriminator,
            remoteDiscriminator: machine.remoteDiscriminator, sourcePort: session.sourcePort,
            transmitInterval: machine.transmitInterval, detectionTime: machine.detectionTime,
            packetsSent: session.packetsSent, packetsReceived: session.packetsReceived,
            lastSendError: session.lastSendError)
        core.shared.withLock { shared in
            // A session stopped meanwhile stays gone.
            if shared.discriminators[key] != nil { shared.status[key] = status }
        }
    }
}

/// A deadline as PollThread takes it: monotonic nanoseconds.
private func nanoseconds(_ time: Duration) -> Int64 {
    let (seconds, attoseconds) = time.components
    return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
}
