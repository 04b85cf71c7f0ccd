// The real Announcer: turns the desired state's peers into BGPSpeaker sessions and each Announcement
// (every attribute already decided by the planner) into the speaker's OutboundRoute. The session fills
// in a next hop of `.sessionAddress` with its local address. Session changes and BFD Down go to
// the agent's core, which decides to reset the session; so do the paths peers offer for the own prefixes
// of last-resort services (ADD-PATH receive is advertised to the peers those services are announced to).
// Peers given by `interface` (BGP unnumbered) get their neighbor's link-local address from
// NeighborDiscoverySpeaker, which also advertises ours there.
import AgentCore
import BGP
import BGPSession
import Config
import FoundationEssentials
import Logging
import NIOCore
import NeighborDiscoverySession
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
    /// The peers as last configured, and the neighbor learnt on each unnumbered peer's interface.
    private let unnumbered = Mutex<(peers: [BGPPeerSettings], neighbors: [String: IPv6Address])>(([], [:]))
    /// Started with the first unnumbered peer.
    private let discovery = Mutex<NeighborDiscoverySpeaker?>(nil)

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
            case .receivedPaths(let peer, let prefix, let paths):
                logger.debug("peer \(peer): \(paths.count) paths for \(prefix)")
                continuation.yield(PeerSessionEvent(peer: peer, prefix: prefix, paths: paths.map(Self.receivedPath)))
            }
        }
        continuation.finish()
    }

    public func configure(_ state: DesiredState) async {
        let watched = Self.lastResortPrefixes(state)
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
            var peerSettings = BGPPeerSettings(
                name: peer.name, address: peer.address, port: peer.port, asn: peer.asn, localASN: state.bgp.asn,
                routerId: state.bgp.routerId, localAddress: peer.localAddress, passive: peer.passive,
                ttl: peer.multihop, ttlSecurity: peer.ttlSecurity, md5Password: password,
                holdTime: Int(hold.components.seconds), families: Set(peer.families),
                maxPrefixes: peer.maxPrefixes ?? BGPPeerSettings.defaultMaxPrefixes, interface: peer.interface,
                addPathReceive: !watched[peer.name, default: []].isEmpty, ownPrefixes: watched[peer.name, default: []])
            // RFC 8950 next hops of an unnumbered peer are the session's: a global IPv6 one goes with the
            // link-local one on IPv4 routes too.
            if peer.interface != nil { peerSettings.ipv6NextHop = peer.nextHop.ipv6 }
            if let restart = state.bgp.gracefulRestart(for: peer) {
                peerSettings.gracefulRestartTime = UInt16(clamping: restart.restartTime.components.seconds)
            }
            settings.append(peerSettings)
            // The configured next hops are not session settings: the planner puts them in each route.
        }
        let interfaces = Set(settings.compactMap(\.interface))
        if !interfaces.isEmpty { startDiscovery() }
        discovery.withLock { $0?.setInterfaces(interfaces) }
        speaker.setPeers(
            unnumbered.withLock { state in
                state.peers = settings
                return Self.withNeighbors(settings, state.neighbors)
            })
        bfd.configure(state.bgp.peers)
    }

    /// Unnumbered peers with the neighbor learnt on their interface (`::` while none is).
    static func withNeighbors(_ peers: [BGPPeerSettings], _ neighbors: [String: IPv6Address]) -> [BGPPeerSettings] {
        peers.map { peer in
            guard let interface = peer.interface else { return peer }
            var peer = peer
            peer.address = .v6(neighbors[interface] ?? IPv6Address(high: 0, low: 0))
            return peer
        }
    }

    private func startDiscovery() {
        discovery.withLock { discovery in
            guard discovery == nil else { return }
            let logger = self.logger
            do {
                discovery = try NeighborDiscoverySpeaker(
                    onChange: { [weak self] interface, neighbor in self?.neighborChanged(interface, neighbor) },
                    log: { logger.warning("\($0)") })
            } catch {
                logger.error("BGP unnumbered: cannot start neighbor discovery: \(error)")
            }
        }
    }

    private func neighborChanged(_ interface: String, _ neighbor: IPv6Address?) {
        if let neighbor {
            logger.info("\(interface): router \(neighbor) heard (Router Advertisement)")
        } else {
            logger.notice("\(interface): no Router Advertisement heard for a while; waiting for the router")
        }
        speaker.setPeers(
            unnumbered.withLock { state in
                state.neighbors[interface] = neighbor
                return Self.withNeighbors(state.peers, state.neighbors)
            })
    }

    /// Per peer, the prefixes of the last-resort services announced to it: the paths the peer offers for
    /// them are what the core needs, so such a peer is asked for every path (ADD-PATH receive).
    static func lastResortPrefixes(_ state: DesiredState) -> [String: Set<IPPrefix>] {
        var result: [String: Set<IPPrefix>] = [:]
        for service in state.services where service.lastResort {
            let peers = service.peers.isEmpty ? state.bgp.peers.map(\.name) : service.peers
            for peer in peers { result[peer, default: []].formUnion(service.prefixes) }
        }
        return result
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

    /// What the core reads of one received path.
    static func receivedPath(_ route: ReceivedRoute) -> ReceivedPath {
        ReceivedPath(
            nextHop: route.nextHop, asPath: route.flatASPath, communities: route.communities.map(\.value),
            largeCommunities: route.largeCommunities)
    }
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
        discovery.withLock { $0?.stop() }
    }
}
