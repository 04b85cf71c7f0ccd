// The real Announcer: turns the desired state's peers into BGPSpeaker sessions and each Announcement
// (every attribute already decided by the planner) into the speaker's OutboundRoute. The session fills
// in a next hop of `.sessionAddress` with its local address. Session changes and BFD Down go to
// the agent's core, which decides to reset the session.
import AgentCore
import BGP
import BGPSession
import Config
import FoundationEssentials
import Logging
import NIOCore
import NetAddress
import Reconciler
import Synchronization

/// Announces through anycastd's own BGP speaker.
public final class BGPAnnouncer: Announcer {
    private let speaker: BGPSpeaker
    private let logger: Logger
    private let bfd: BFDController
    public let sessionEvents: AsyncStream<PeerSessionEvent>
    private let continuation: AsyncStream<PeerSessionEvent>.Continuation

    public init(group: any EventLoopGroup, logger: Logger) {
        let speaker = BGPSpeaker(group: group, logger: logger)
        self.speaker = speaker
        self.logger = logger
        let (stream, continuation) = AsyncStream.makeStream(of: PeerSessionEvent.self)
        sessionEvents = stream
        bfd = BFDController(
            logger: logger, onDown: { peer in continuation.yield(PeerSessionEvent(peer: peer, event: .bfdDown)) },
            onChange: { _ in })
        self.continuation = continuation
    }

    public func forwardSessionEvents() async {
        for await event in speaker.events {
            switch event {
            case .stateChanged(let peer, let from, let to, let reason):
                // The speaker logs sessions coming up and going down itself.
                logger.debug("peer \(peer): \(from.rawValue) -> \(to.rawValue)\(reason.map { " (\($0))" } ?? "")")
                if to == .established {
                    continuation.yield(PeerSessionEvent(peer: peer, event: .established))
                } else if from == .established {
                    continuation.yield(PeerSessionEvent(peer: peer, event: .down(reason)))
                }
            case .routeRefresh(let peer, let family):
                logger.info("peer \(peer): route refresh for \(family.rawValue) answered")
            }
        }
        continuation.finish()
    }

    public func configure(_ state: DesiredState) async {
        var settings: [BGPPeerSettings] = []
        for peer in state.bgp.peers {
            var password: String?
            if let file = peer.passwordFile {
                do {
                    password = try Self.readPassword(file)
                } catch {
                    logger.error(
                        "peer \(peer.name): \(file): cannot read the TCP MD5 password (\(error)); peer not started")
                    continue
                }
            }
            let hold = peer.holdTime ?? state.bgp.holdTime
            settings.append(
                BGPPeerSettings(
                    name: peer.name, address: peer.address, port: peer.port, asn: peer.asn, localASN: state.bgp.asn,
                    routerId: state.bgp.routerId, localAddress: peer.localAddress, passive: peer.passive,
                    ttl: peer.multihop, ttlSecurity: peer.ttlSecurity, md5Password: password,
                    holdTime: Int(hold.components.seconds), families: Set(peer.families),
                    maxPrefixes: peer.maxPrefixes ?? BGPPeerSettings.defaultMaxPrefixes))
            if let restart = state.bgp.gracefulRestart(for: peer) {
                settings[settings.count - 1].gracefulRestartTime = UInt16(
                    clamping: restart.restartTime.components.seconds)
            }
            // The configured next hops are not session settings: the planner puts them in each route.
        }
        speaker.setPeers(settings)
        bfd.configure(state.bgp.peers)
    }

    /// The password is the file's content without the trailing newline.
    static func readPassword(_ path: String) throws -> String {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let password = text.hasSuffix("\n") ? String(text.dropLast()) : text
        guard !password.isEmpty, password.utf8.count <= 80 else {
            throw DaemonError("a TCP MD5 password has 1 to 80 bytes")
        }
        return password
    }

    public func announce(_ routes: [String: [IPPrefix: Announcement]]) {
        for (name, announcements) in routes {
            speaker.setRoutes(peer: name, routes: announcements.mapValues(Self.route))
        }
    }

    public func resetSession(peer: String) { speaker.bfdDown(peer: peer) }

    public func setRestarted(_ restarted: Bool) { speaker.setRestarted(restarted) }

    public func finishRestart() { speaker.finishRestart() }

    /// Only BFD says goodbye (AdminDown, RFC 5882 §3.2); BGP sessions are left for the process exit to close,
    /// so the routers' Graceful Restart keeps the routes.
    public func handOver() async { bfd.shutdown() }

    /// The speaker's route for one announcement: the same attributes, the next hop still typed.
    static func route(_ announcement: Announcement) -> OutboundRoute {
        let nextHop: OutboundNextHop
        switch announcement.nextHop {
        case .address(let address): nextHop = .address(address)
        case .sessionAddress: nextHop = .sessionAddress
        }
        return OutboundRoute(
            nextHop: nextHop, asPath: announcement.asPath, med: announcement.med, localPref: announcement.localPref,
            communities: announcement.communities, largeCommunities: announcement.largeCommunities)
    }

    public func peerStatus() async -> [PeerReport] {
        let now = ContinuousClock.now
        let wallNow = Date().timeIntervalSince1970
        return speaker.snapshot().map { status in
            let elapsed = now - status.since
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            return PeerReport(
                name: status.name, address: status.address.description, asn: 0,
                state: status.state, since: wallNow - seconds, lastErrorSent: status.lastErrorSent,
                lastErrorReceived: status.lastErrorReceived,
                prefixesSent: status.families.values.reduce(0) { $0 + $1.prefixesSent },
                prefixesReceived: status.families.values.reduce(0) { $0 + $1.prefixesReceived },
                updatesSent: status.updatesOut, updatesReceived: status.updatesIn, messagesSent: status.messagesOut,
                messagesReceived: status.messagesIn, establishedCount: status.establishedCount,
                bfd: bfd.state(of: status.name),
                bfdResetsHeldOff: bfd.resetsHeldOff(of: status.name).map { Int($0.components.seconds) + 1 },
                treatAsWithdraw: status.treatAsWithdraw)
        }
    }

    /// BGP first (withdraw, Cease), then BFD, whose AdminDown tells the routers not to treat the end of the
    /// BFD sessions as a path failure.
    public func shutdown(message: String) async {
        await speaker.shutdown(message: message)
        bfd.shutdown()
    }
}
