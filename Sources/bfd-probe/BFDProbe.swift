// bfd-probe: one single-hop BFD session to one router through BFDSpeaker, scripted on stdin ("status",
// "admin-down", "admin-up", "timers TX_MS RX_MS MULT", "stop"). Every state change is one line on
// stdout with the wall-clock time in milliseconds, so a test script can measure detection delays.
import ArgumentParser
import BFD
import BFDSession
import NetAddress

#if canImport(Glibc)
    import Glibc
#endif

@main
struct BFDProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bfd-probe",
        abstract: "Run one BFD session with a router (test tool for anycastd's BFD speaker).",
        discussion: """
            stdin commands (end of stdin means "stop"): "status", "admin-down", "admin-up",
            "timers TX_MS RX_MS MULT", "stop". stdout lines: "state OLD NEW DIAGNOSTIC at=EPOCH_MS",
            "status STATE remote=STATE tx=MS detect=MS sent=N received=N wrong-ttl=N", "error TEXT", "stopped".
            """)

    @Option(help: "The router's address.") var peer: String
    @Option(help: "Our address on the link (bound for sending and receiving).") var local: String
    @Option(help: "Desired min TX interval once Up, in milliseconds.") var txMs: Int = 300
    @Option(help: "Required min RX interval, in milliseconds.") var rxMs: Int = 300
    @Option(help: "Detect multiplier.") var multiplier: UInt8 = 3

    func run() throws {
        guard let peer = IPAddress(peer), let local = IPAddress(local) else {
            throw ValidationError("--peer and --local must be IP addresses")
        }
        let speaker = try BFDSpeaker()
        try speaker.startSession(
            peer: peer, local: local, desiredMinTxInterval: .milliseconds(txMs),
            requiredMinRxInterval: .milliseconds(rxMs), detectMultiplier: multiplier)
        let printer = Task.detached {
            for await change in speaker.stateChanges {
                emit("state \(change.old) \(change.new) \(change.diagnostic.rawValue) at=\(epochMilliseconds())")
            }
        }
        while let line = readLine() {
            let words = line.split(separator: " ")
            switch words.first {
            case "status":
                let counters = speaker.receiveCounters
                for session in speaker.sessions() {
                    let detect = session.detectionTime.map { "\(milliseconds($0))" } ?? "-"
                    emit(
                        "status \(session.state) remote=\(session.remoteState) tx=\(milliseconds(session.transmitInterval))"
                            + " detect=\(detect) sent=\(session.packetsSent) received=\(session.packetsReceived)"
                            + " wrong-ttl=\(counters.wrongTTL)")
                }
            case "admin-down": speaker.setAdminDown(true, peer: peer, local: local)
            case "admin-up": speaker.setAdminDown(false, peer: peer, local: local)
            case "timers" where words.count == 4:
                guard let tx = Int(words[1]), let rx = Int(words[2]), let mult = UInt8(words[3]) else {
                    emit("error bad timers: \(line)")
                    continue
                }
                speaker.changeTimers(
                    peer: peer, local: local, desiredMinTxInterval: .milliseconds(tx),
                    requiredMinRxInterval: .milliseconds(rx), detectMultiplier: mult)
            case "stop": break
            default:
                emit("error unknown command: \(line)")
                continue
            }
            if words.first == "stop" { break }
        }
        speaker.shutdown()
        // The printer ends with the stream; give it the chance to print the last changes.
        let done = DispatchlessWait()
        Task.detached {
            await printer.value
            done.signal()
        }
        done.wait()
        emit("stopped")
    }
}

/// One line on stdout, written at once with write(2) (tests read it while the probe runs).
private func emit(_ text: String) {
    let bytes = Array((text + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }
        offset += written
    }
}

private func milliseconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    return seconds * 1000 + attoseconds / 1_000_000_000_000_000
}

private func epochMilliseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}

/// A one-shot semaphore for the synchronous main thread.
private final class DispatchlessWait: @unchecked Sendable {
    private var semaphore = sem_t()

    init() { sem_init(&semaphore, 0, 0) }
    deinit { sem_destroy(&semaphore) }

    func signal() { sem_post(&semaphore) }
    func wait() { while sem_wait(&semaphore) != 0 && errno == EINTR {} }
}
