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
            "status STATE remote=STATE tx=MS detect=MS sent=N received=N wrong-ttl=N discarded=N malformed=N
            local-discr=N remote-discr=N", "error TEXT", "stopped".
            """)

    @Option(help: "The router's address.") var peer: String
    @Option(help: "Our address on the link (bound for sending and receiving).") var local: String
    @Option(help: "Desired min TX interval once Up, in milliseconds.") var txMs: Int = 300
    @Option(help: "Required min RX interval, in milliseconds.") var rxMs: Int = 300
    @Option(help: "Detect multiplier.") var multiplier: UInt8 = 3
    @Option(help: "Authentication: keyed-sha1 or meticulous-keyed-sha1 (needs --key-file).") var auth: String?
    @Option(help: "Authentication key ID.") var keyId: UInt8 = 1
    @Option(help: "File holding the authentication key (1-20 bytes, one trailing newline ignored).")
    var keyFile: String?

    func run() throws {
        guard let peer = IPAddress(peer), let local = IPAddress(local) else {
            throw ValidationError("--peer and --local must be IP addresses")
        }
        var authentication: BFDAuthentication?
        if let auth {
            let types: [String: BFDAuthenticationType] = [
                "keyed-sha1": .keyedSHA1, "meticulous-keyed-sha1": .meticulousKeyedSHA1,
            ]
            guard let type = types[auth], let keyFile, var key = readSmallFile(keyFile) else {
                throw ValidationError("--auth keyed-sha1|meticulous-keyed-sha1 needs a readable --key-file")
            }
            if key.last == 0x0A { key.removeLast() }
            guard let value = BFDAuthentication(type: type, keyID: keyId, key: key) else {
                throw ValidationError("the key must have 1 to 20 bytes")
            }
            authentication = value
        }
        let speaker = try BFDSpeaker()
        try speaker.startSession(
            peer: peer, local: local, desiredMinTxInterval: .milliseconds(txMs),
            requiredMinRxInterval: .milliseconds(rxMs), detectMultiplier: multiplier, authentication: authentication)
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
                            + " wrong-ttl=\(counters.wrongTTL) discarded=\(counters.discardedBySession)"
                            + " malformed=\(counters.malformed) local-discr=\(session.localDiscriminator)"
                            + " remote-discr=\(session.remoteDiscriminator)")
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

/// The first 64 bytes of a file, nil if it cannot be read.
private func readSmallFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 64)
    let count = read(fd, &buffer, buffer.count)
    return count < 0 ? nil : Array(buffer[0..<count])
}
