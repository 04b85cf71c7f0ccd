// What the agent needs from a BGP speaker, so the agent's logic does not depend on sockets: the peers
// to keep sessions with, the routes each should have, and a clean stop. BGPAnnouncer is the real one.
import AgentCore
import Config
import NetAddress
import Reconciler

/// Takes the desired routes per peer and makes the routers see exactly those.
public protocol Announcer: Sendable {
    /// The peers to keep sessions with; only peers whose session settings changed are reset.
    func configure(_ state: DesiredState) async
    /// The routes each peer should have now (every configured peer present); only differences are sent.
    /// Synchronous (it only enqueues), so route sets reach the speaker in the order the agent decided them.
    func announce(_ routes: [String: [IPPrefix: Announcement]])
    /// Per-peer state for `anycastd status`.
    func peerStatus() async -> [PeerReport]
    /// Withdraws everything, sends Cease/Administrative Shutdown with the message (RFC 9003), closes.
    func shutdown(message: String) async
    /// Sessions reaching or leaving Established, and BFD Down, for the agent's core.
    var sessionEvents: AsyncStream<PeerSessionEvent> { get }
    /// Feeds `sessionEvents` until the sessions' own events end or the task is cancelled; the agent runs
    /// it as a child of its `run()`, so nothing outlives the agent.
    func forwardSessionEvents() async
    /// Resets the session with a peer at once (BFD saw the path fail).
    func resetSession(peer: String)
    /// Graceful Restart (RFC 4724): set the R bit in the OPENs sent from now on. Called before `configure`.
    func setRestarted(_ restarted: Bool)
    /// Graceful Restart: End-of-RIB to the peers it was held back from, and to later sessions at once; the
    /// R bit is cleared.
    func finishRestart()
    /// A restart: leave the sessions to the routers, without withdrawing and without Cease (the process exit
    /// closes the connections); BFD sessions end with AdminDown, which routers do not take for a failure.
    func handOver() async
}

extension Announcer {
    public func setRestarted(_ restarted: Bool) {}
    public func finishRestart() {}
    public func handOver() async {}
}

/// One session event for the core.
public struct PeerSessionEvent: Sendable, Equatable {
    public var peer: String
    public var event: PeerEvent

    public init(peer: String, event: PeerEvent) {
        self.peer = peer
        self.event = event
    }
}

/// An announcer for hosts without peers (and for `--once`/`--dry-run`): keeps nothing, sends nothing.
public struct NoAnnouncer: Announcer {
    public init() {}
    public func configure(_ state: DesiredState) async {}
    public func announce(_ routes: [String: [IPPrefix: Announcement]]) {}
    public func peerStatus() async -> [PeerReport] { [] }
    public func shutdown(message: String) async {}
    public func resetSession(peer: String) {}
    public var sessionEvents: AsyncStream<PeerSessionEvent> { AsyncStream { $0.finish() } }
    public func forwardSessionEvents() async {}
}
