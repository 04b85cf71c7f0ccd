// Drives BFD state machines on a fake clock: one machine fed by hand (Harness), or two wired together
// through a link with a fixed latency whose directions can be cut (Pair).
import BFD
import Testing

/// Bytes from hex text; spaces are ignored.
func bytes(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    precondition(digits.count % 2 == 0, "odd hex string")
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// One state machine on a fake clock, keeping the timers it armed and what it sent and reported.
struct Harness {
    var machine: BFDStateMachine
    var now: Duration = .zero
    /// Passed with every event.
    var jitter: Double = 0
    var timers: [BFDTimer: Duration] = [:]  // timer → deadline
    var sent: [(time: Duration, packet: BFDControlPacket)] = []
    var changes: [(time: Duration, old: BFDState, new: BFDState, diagnostic: BFDDiagnostic)] = []

    init(_ configuration: BFDConfiguration = BFDConfiguration(localDiscriminator: 0x0A0A_0001)) {
        machine = BFDStateMachine(configuration: configuration)
    }

    var state: BFDState { machine.state }
    var lastSent: BFDControlPacket? { sent.last?.packet }

    @discardableResult
    mutating func handle(_ event: BFDEvent) -> [BFDAction] {
        record(machine.handle(event, now: now, jitter: jitter))
    }

    @discardableResult
    mutating func changeTimers(tx: Duration, rx: Duration, multiplier: UInt8 = 3) -> [BFDAction] {
        record(
            machine.changeTimers(
                desiredMinTxInterval: tx, requiredMinRxInterval: rx, detectMultiplier: multiplier, now: now,
                jitter: jitter))
    }

    private mutating func record(_ actions: [BFDAction]) -> [BFDAction] {
        for action in actions {
            switch action {
            case .armTimer(let timer, let duration): timers[timer] = now + duration
            case .cancelTimer(let timer): timers[timer] = nil
            case .send(let packet): sent.append((now, packet))
            case .reportStateChange(let old, let new, let diagnostic): changes.append((now, old, new, diagnostic))
            case .discarded: break
            }
        }
        return actions
    }

    /// The earliest armed timer due at or before `time`.
    func dueTimer(by time: Duration) -> (timer: BFDTimer, deadline: Duration)? {
        timers.filter { $0.value <= time }.min { $0.value < $1.value }.map { ($0.key, $0.value) }
    }

    /// Advances the clock to `time`, firing due timers in deadline order.
    mutating func advance(to time: Duration) {
        while let (timer, deadline) = dueTimer(by: time) {
            now = deadline
            timers[timer] = nil
            handle(.timerFired(timer))
        }
        now = time
    }

    mutating func advance(by duration: Duration) { advance(to: now + duration) }

    /// Packets sent in a time window.
    func sent(from start: Duration, to end: Duration) -> [BFDControlPacket] {
        sent.filter { $0.time >= start && $0.time <= end }.map(\.packet)
    }

    /// A packet from a peer (discriminator 0x0B0B0002) addressed to this machine. The peer's 1 s transmit
    /// interval gives a 3 s detection time, so tests can let time pass without feeding packets.
    func fromPeer(
        _ state: BFDState, diagnostic: BFDDiagnostic = .none, poll: Bool = false, final: Bool = false,
        demand: Bool = false, your: UInt32? = nil, multiplier: UInt8 = 3, tx: UInt32 = 1_000_000,
        rx: UInt32 = 300_000
    ) -> BFDControlPacket {
        BFDControlPacket(
            diagnostic: diagnostic, state: state, poll: poll, final: final, demand: demand,
            detectMultiplier: multiplier, myDiscriminator: 0x0B0B_0002,
            yourDiscriminator: your ?? machine.configuration.localDiscriminator, desiredMinTxMicroseconds: tx,
            requiredMinRxMicroseconds: rx)
    }

    /// Start, then the peer's Down and Up: the machine is Up and its own Poll (for the fast rate) answered.
    mutating func bringUp(peerTx: UInt32 = 1_000_000, peerRx: UInt32 = 300_000) {
        handle(.start)
        handle(.packetReceived(fromPeer(.down, your: 0, tx: 1_000_000, rx: peerRx)))
        handle(.packetReceived(fromPeer(.up, tx: peerTx, rx: peerRx)))
        handle(.packetReceived(fromPeer(.up, final: true, tx: peerTx, rx: peerRx)))
    }
}

/// Two machines joined by a link with a fixed one-way latency; either direction can be cut.
struct Pair {
    var sides: [Harness]
    var now: Duration = .zero
    var latency: Duration = .milliseconds(1)
    /// `cut[i]`: packets sent by side i are lost.
    var cut = [false, false]
    private var inFlight: [(at: Duration, to: Int, packet: BFDControlPacket)] = []

    init(
        _ a: BFDConfiguration = BFDConfiguration(localDiscriminator: 0x0A0A_0001),
        _ b: BFDConfiguration = BFDConfiguration(localDiscriminator: 0x0B0B_0002)
    ) {
        sides = [Harness(a), Harness(b)]
    }

    subscript(side: Int) -> Harness { sides[side] }

    mutating func handle(_ side: Int, _ event: BFDEvent) {
        sides[side].now = now
        let before = sides[side].sent.count
        sides[side].handle(event)
        for (_, packet) in sides[side].sent[before...] where !cut[side] {
            inFlight.append((now + latency, 1 - side, packet))
        }
    }

    /// Advances to `time`, delivering packets and firing timers in time order (deliveries first on a tie).
    mutating func advance(to time: Duration) {
        while true {
            let delivery = inFlight.indices.filter { inFlight[$0].at <= time }.min { inFlight[$0].at < inFlight[$1].at }
            let timers = (0..<2).compactMap { side in
                sides[side].dueTimer(by: time).map { (side, $0.timer, $0.deadline) }
            }
            .min { $0.2 < $1.2 }
            if let index = delivery, timers.map({ inFlight[index].at <= $0.2 }) ?? true {
                let (at, to, packet) = inFlight.remove(at: index)
                now = at
                handle(to, .packetReceived(packet))
            } else if let (side, timer, deadline) = timers {
                now = deadline
                sides[side].timers[timer] = nil
                handle(side, .timerFired(timer))
            } else {
                break
            }
        }
        now = time
        for side in 0..<2 { sides[side].now = time }
    }

    mutating func advance(by duration: Duration) { advance(to: now + duration) }

    var states: [BFDState] { sides.map(\.state) }
}
