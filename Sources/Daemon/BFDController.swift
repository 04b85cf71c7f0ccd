// One single-hop BFD session (RFC 5880, 5881) per BGP peer that has `bfd` set, kept in step with the
// configuration. When a session that was Up goes Down, the peer's BGP session is ended at once
// (Cease/BFD Down, RFC 9384) instead of waiting for the hold timer; BGP is never held back waiting for
// BFD, so a router without BFD configured still peers (RFC 5882 leaves that to the operator).
// A peer whose BFD keeps failing is damped (RFC 5882 §3.2, BFDResetDamping): more than 3 BFD Downs in a
// minute hold BFD-driven resets off for 30 s, doubling up to 10 minutes, and BGP falls back to its hold
// timer meanwhile. With `authentication`, the key is read from its file whenever the peers are configured;
// a changed key, key ID or type restarts the session, and a key that cannot be read leaves a running
// session on its old key.
import BFD
import BFDSession
import Config
import Logging
import NetAddress
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

final class BFDController: Sendable {
    /// What one configured peer asks of BFD.
    struct Wanted: Equatable {
        var name: String
        var interval: Duration
        var multiplier: UInt8
        var authentication: BFDAuthentication?
    }

    private struct State {
        var speaker: BFDSpeaker?
        var sessions: [BFDPeer: Wanted] = [:]
        var states: [String: BFDState] = [:]
        /// Per peer name: whether a BFD Down may reset BGP now.
        var damping: [String: BFDResetDamping] = [:]
        var stopped = false
        /// The last error starting the speaker, logged once.
        var failure: String?
    }

    private let logger: Logger
    private let onDown: @Sendable (String) -> Void
    private let onChange: @Sendable (String) -> Void
    private let state = Mutex(State())
    private let clock = ContinuousClock()
    private let origin = ContinuousClock.now

    /// `onDown` gets the peer name when its BFD session falls from Up; `onChange` on every change.
    init(
        logger: Logger, onDown: @escaping @Sendable (String) -> Void, onChange: @escaping @Sendable (String) -> Void
    ) {
        self.logger = logger
        self.onDown = onDown
        self.onChange = onChange
    }

    /// The sessions the peers ask for: started, retimed or stopped so that exactly those run.
    func configure(_ peers: [PeerConfig]) {
        var wanted: [BFDPeer: Wanted] = [:]
        // Sessions whose key cannot be read now (peer name, error): one that runs keeps its old key.
        var keyFailed: [BFDPeer: (name: String, error: String)] = [:]
        for peer in peers {
            guard let bfd = peer.bfd, let local = peer.localAddress else { continue }
            var authentication: BFDAuthentication?
            if let auth = bfd.authentication {
                do {
                    authentication = try Self.authentication(auth)
                } catch {
                    keyFailed[BFDPeer(address: peer.address, local: local)] = (
                        peer.name, "peer \(peer.name): \(auth.keyFile): \(error)"
                    )
                    continue
                }
            }
            wanted[BFDPeer(address: peer.address, local: local)] = Wanted(
                name: peer.name, interval: bfd.minInterval, multiplier: UInt8(clamping: bfd.multiplier),
                authentication: authentication)
        }
        var keyErrors: [String] = []
        let logs = state.withLock { state -> [String] in
            guard !state.stopped else { return [] }
            var logs: [String] = []
            for (key, failure) in keyFailed.sorted(by: { $0.key < $1.key }) {
                let kept = state.sessions[key]?.name == failure.name
                if kept { wanted[key] = state.sessions[key] }
                keyErrors.append(
                    failure.error + (kept ? "; the running BFD session keeps its old key" : "; BFD session not started")
                )
            }
            if state.speaker == nil, !wanted.isEmpty {
                do {
                    // State changes arrive on the speaker's thread, none after its shutdown() returns.
                    state.speaker = try BFDSpeaker { [weak self] change in self?.handle(change) }
                    state.failure = nil
                } catch {
                    let text = "BFD cannot start: \(error); peers run without it"
                    if text != state.failure { logs.append(text) }
                    state.failure = text
                    return logs
                }
            }
            guard let speaker = state.speaker else { return logs }
            for (key, old) in state.sessions
            where wanted[key] == nil || wanted[key]!.authentication != old.authentication {
                speaker.stopSession(peer: key.address, local: key.local)
                state.sessions[key] = nil
                state.states[old.name] = nil
                logs.append(
                    wanted[key] == nil
                        ? "peer \(old.name): BFD stopped" : "peer \(old.name): BFD restarted for its new authentication"
                )
            }
            let names = Set(wanted.values.map(\.name))
            state.damping = state.damping.filter { names.contains($0.key) }
            for (key, want) in wanted.sorted(by: { $0.key < $1.key }) {
                if let old = state.sessions[key] {
                    if old.interval != want.interval || old.multiplier != want.multiplier {
                        speaker.changeTimers(
                            peer: key.address, local: key.local, desiredMinTxInterval: want.interval,
                            requiredMinRxInterval: want.interval, detectMultiplier: want.multiplier)
                    }
                    if old.name != want.name { state.states[old.name] = nil }
                    state.sessions[key] = want
                    continue
                }
                do {
                    try speaker.startSession(
                        peer: key.address, local: key.local, desiredMinTxInterval: want.interval,
                        requiredMinRxInterval: want.interval, detectMultiplier: want.multiplier,
                        authentication: want.authentication)
                    state.sessions[key] = want
                    state.states[want.name] = .down
                    let auth = want.authentication.map { ", \($0)" } ?? ""
                    logs.append(
                        "peer \(want.name): BFD to \(key.address) from \(key.local), \(formatDuration(want.interval)) x \(want.multiplier)\(auth)"
                    )
                } catch {
                    logs.append("peer \(want.name): BFD session not started: \(error)")
                }
            }
            return logs
        }
        for line in keyErrors { logger.error("\(line)") }
        for line in logs { logger.info("\(line)") }
    }

    /// The BFD state of a peer's session ("Up", "Down"...), nil when the peer has no BFD.
    func state(of peer: String) -> BFDState? {
        state.withLock { $0.states[peer] }
    }

    /// How long BFD-driven BGP resets of this peer stay held off (damped), nil when they are not.
    func resetsHeldOff(of peer: String) -> Duration? {
        let now = origin.duration(to: clock.now)
        return state.withLock { state -> Duration? in
            guard let until = state.damping[peer]?.heldUntil, until > now else { return nil }
            return until - now
        }
    }

    /// The longest key file read: a key has at most 20 bytes, and one newline may follow.
    private static let keyFileLimit = 64

    /// The session's authentication with the key read from its file: 1 to 20 bytes, one trailing newline
    /// dropped. Only a regular file is read (a FIFO or device would block or never end).
    static func authentication(_ config: BFDAuthenticationConfig) throws -> BFDAuthentication {
        let fd = open(config.keyFile, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { throw DaemonError("cannot read the BFD key: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw DaemonError("the BFD key file is not a regular file")
        }
        var buffer = [UInt8](repeating: 0, count: keyFileLimit + 1)
        let count = read(fd, &buffer, buffer.count)
        guard count >= 0 else { throw DaemonError("cannot read the BFD key: \(String(cString: strerror(errno)))") }
        var key = Array(buffer[0..<count])
        if key.last == 0x0A { key.removeLast() }
        let type: BFDAuthenticationType = config.kind == .keyedSHA1 ? .keyedSHA1 : .meticulousKeyedSHA1
        guard count <= keyFileLimit,
            let authentication = BFDAuthentication(type: type, keyID: UInt8(clamping: config.keyID), key: key)
        else {
            throw DaemonError("a BFD SHA1 key has 1 to 20 bytes (one trailing newline is ignored)")
        }
        return authentication
    }

    /// Ends every session (each tells its peer AdminDown) and the speaker's thread.
    func shutdown() {
        let speaker = state.withLock { state -> BFDSpeaker? in
            state.stopped = true
            defer { state.speaker = nil }
            return state.speaker
        }
        speaker?.shutdown()
    }

    /// One state change, on the speaker's thread: only locks, logging and the non-blocking callbacks.
    private func handle(_ change: BFDStateChange) {
        let now = origin.duration(to: clock.now)
        let found = state.withLock { state -> (String, BFDResetDamping.Decision?)? in
            guard let name = state.sessions[change.peer]?.name else { return nil }
            state.states[name] = change.new
            guard change.old == .up, change.new == .down else { return (name, nil) }
            return (name, state.damping[name, default: BFDResetDamping()].bfdDown(at: now))
        }
        guard let (name, decision) = found else { return }
        if change.new == .up {
            logger.notice("peer \(name): BFD up")
        } else if change.old == .up {
            logger.warning(
                "peer \(name): BFD down (\(change.diagnostic)\(change.remoteDiagnostic.rawValue != 0 ? ", peer says \(change.remoteDiagnostic)" : ""))"
            )
        } else {
            logger.debug("peer \(name): BFD \(change.old) -> \(change.new)")
        }
        switch decision {
        case .reset: onDown(name)
        case .held(let until, let started):
            let limits = BFDResetDamping.Settings()
            let text =
                "peer \(name): BFD-driven BGP resets held off for \(formatDuration(until - now)) (damped: BFD went "
                + "down more than \(limits.threshold) times in \(formatDuration(limits.window))); "
                + "the BGP hold timer still applies"
            if started { logger.warning("\(text)") } else { logger.info("\(text)") }
        case nil: break
        }
        onChange(name)
    }
}
