// One single-hop BFD session (RFC 5880, 5881) per BGP peer that has `bfd` set, kept in step with the
// configuration. When a session that was Up goes Down, the peer's BGP session is ended at once
// (Cease/BFD Down, RFC 9384) instead of waiting for the hold timer; BGP is never held back waiting for
// BFD, so a router without BFD configured still peers (RFC 5882 leaves that to the operator).
import BFD
import BFDSession
import Config
import Logging
import NetAddress
import Synchronization

final class BFDController: Sendable {
    /// What one configured peer asks of BFD.
    struct Wanted: Equatable {
        var name: String
        var interval: Duration
        var multiplier: UInt8
    }

    private struct State {
        var speaker: BFDSpeaker?
        var sessions: [BFDPeer: Wanted] = [:]
        var states: [String: BFDState] = [:]
        var stopped = false
        /// The last error starting the speaker, logged once.
        var failure: String?
    }

    private let logger: Logger
    private let onDown: @Sendable (String) -> Void
    private let onChange: @Sendable (String) -> Void
    private let state = Mutex(State())

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
        for peer in peers {
            guard let bfd = peer.bfd, let local = peer.localAddress else { continue }
            wanted[BFDPeer(address: peer.address, local: local)] = Wanted(
                name: peer.name, interval: bfd.minInterval, multiplier: UInt8(clamping: bfd.multiplier))
        }
        let (started, logs) = state.withLock { state -> (BFDSpeaker?, [String]) in
            guard !state.stopped else { return (nil, []) }
            var logs: [String] = []
            var started: BFDSpeaker?
            if state.speaker == nil, !wanted.isEmpty {
                do {
                    state.speaker = try BFDSpeaker()
                    started = state.speaker
                    state.failure = nil
                } catch {
                    let text = "BFD cannot start: \(error); peers run without it"
                    if text != state.failure { logs.append(text) }
                    state.failure = text
                    return (nil, logs)
                }
            }
            guard let speaker = state.speaker else { return (nil, logs) }
            for (key, old) in state.sessions where wanted[key] == nil {
                speaker.stopSession(peer: key.address, local: key.local)
                state.sessions[key] = nil
                state.states[old.name] = nil
                logs.append("peer \(old.name): BFD stopped")
            }
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
                        requiredMinRxInterval: want.interval, detectMultiplier: want.multiplier)
                    state.sessions[key] = want
                    state.states[want.name] = .down
                    logs.append(
                        "peer \(want.name): BFD to \(key.address) from \(key.local), \(formatDuration(want.interval)) x \(want.multiplier)"
                    )
                } catch {
                    logs.append("peer \(want.name): BFD session not started: \(error)")
                }
            }
            return (started, logs)
        }
        for line in logs { logger.info("\(line)") }
        if let started { follow(started) }
    }

    /// The BFD state of a peer's session ("Up", "Down"...), nil when the peer has no BFD.
    func state(of peer: String) -> BFDState? {
        state.withLock { $0.states[peer] }
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

    private func follow(_ speaker: BFDSpeaker) {
        let changes = speaker.stateChanges
        Task { [self] in
            for await change in changes { handle(change) }
        }
    }

    private func handle(_ change: BFDStateChange) {
        let name = state.withLock { state -> String? in
            guard let name = state.sessions[change.peer]?.name else { return nil }
            state.states[name] = change.new
            return name
        }
        guard let name else { return }
        if change.new == .up {
            logger.notice("peer \(name): BFD up")
        } else if change.old == .up {
            logger.warning(
                "peer \(name): BFD down (\(change.diagnostic)\(change.remoteDiagnostic.rawValue != 0 ? ", peer says \(change.remoteDiagnostic)" : ""))"
            )
        } else {
            logger.debug("peer \(name): BFD \(change.old) -> \(change.new)")
        }
        if change.old == .up, change.new == .down { onDown(name) }
        onChange(name)
    }
}
