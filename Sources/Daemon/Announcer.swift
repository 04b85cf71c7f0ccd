// What the agent needs from a BGP speaker, so the agent's logic does not depend on sockets: the peers
// to keep sessions with, the routes each should have, and a clean stop. BGPAnnouncer is the real one.
import Config
import NetAddress
import Reconciler

/// Takes the desired routes per peer and makes the routers see exactly those.
public protocol Announcer: Sendable {
    /// The peers to keep sessions with; only peers whose session settings changed are reset.
    func configure(_ state: DesiredState) async
    /// The routes each peer should have now (every configured peer present); only differences are sent.
    func announce(_ routes: [String: [IPPrefix: Announcement]]) async
    /// Names of the peers whose sessions are Established now.
    func establishedPeers() async -> Set<String>
    /// Per-peer state for `anycastd status`.
    func peerStatus() async -> [PeerReport]
    /// Withdraws everything, sends Cease/Administrative Shutdown with the message (RFC 9003), closes.
    func shutdown(message: String) async
    /// State changes of sessions, so the agent can log them and refresh status.
    var sessionEvents: AsyncStream<String> { get }
}

/// An announcer for hosts without peers (and for `--once`/`--dry-run`): keeps nothing, sends nothing.
public struct NoAnnouncer: Announcer {
    public init() {}
    public func configure(_ state: DesiredState) async {}
    public func announce(_ routes: [String: [IPPrefix: Announcement]]) async {}
    public func establishedPeers() async -> Set<String> { [] }
    public func peerStatus() async -> [PeerReport] { [] }
    public func shutdown(message: String) async {}
    public var sessionEvents: AsyncStream<String> { AsyncStream { $0.finish() } }
}
