// The real Announcer: turns the desired state's peers into BGPSpeaker sessions and each Announcement
// into per-peer BGP attributes (AS_PATH with prepends for eBGP, LOCAL_PREF for iBGP, next hop "self"
// resolved by the speaker from the peer's nextHop or the session's local address).
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
    private let peers = Mutex<[String: PeerConfig]>([:])
    private let localASN = Mutex<UInt32>(0)
    private let bfd: BFDController
    public let sessionEvents: AsyncStream<String>

    public init(group: any EventLoopGroup, logger: Logger) {
        let speaker = BGPSpeaker(group: group, logger: logger)
        self.speaker = speaker
        self.logger = logger
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        sessionEvents = stream
        bfd = BFDController(
            logger: logger, onDown: { peer in speaker.bfdDown(peer: peer) },
            onChange: { peer in continuation.yield(peer) })
        Task {
            for await event in speaker.events {
                switch event {
                case .stateChanged(let peer, let from, let to, let reason):
                    // The speaker logs sessions coming up and going down itself.
                    logger.debug("peer \(peer): \(from.rawValue) -> \(to.rawValue)\(reason.map { " (\($0))" } ?? "")")
                    continuation.yield(peer)
                case .routeRefresh(let peer, let family):
                    logger.info("peer \(peer): route refresh for \(family.rawValue) answered")
                }
            }
            continuation.finish()
        }
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
                    ipv4NextHop: peer.nextHop.ipv4, ipv6NextHop: peer.nextHop.ipv6,
                    maxPrefixes: peer.maxPrefixes ?? BGPPeerSettings.defaultMaxPrefixes))
        }
        peers.withLock {
            $0 = Dictionary(state.bgp.peers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        }
        localASN.withLock { $0 = state.bgp.asn }
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

    public func announce(_ routes: [String: [IPPrefix: Announcement]]) async {
        let peers = self.peers.withLock { $0 }
        let localASN = self.localASN.withLock { $0 }
        for (name, announcements) in routes {
            guard let peer = peers[name] else { continue }
            var attributes: [IPPrefix: RouteAttributes] = [:]
            for (prefix, announcement) in announcements {
                attributes[prefix] = Self.attributes(announcement, peer: peer, localASN: localASN)
            }
            speaker.setRoutes(peer: name, attributes)
        }
    }

    /// BGP attributes for one announcement towards one peer. The unspecified next hop means "self".
    static func attributes(_ announcement: Announcement, peer: PeerConfig, localASN: UInt32) -> RouteAttributes {
        let selfNextHop: IPAddress =
            announcement.prefix.family == .ipv4 ? .v4(IPv4Address(0)) : .v6(IPv6Address(high: 0, low: 0))
        if peer.asn == localASN {
            return .internal(
                nextHop: selfNextHop, med: announcement.med, communities: announcement.communities,
                largeCommunities: announcement.largeCommunities)
        }
        return .external(
            localASN: localASN, prepend: peer.asPathPrepend, nextHop: selfNextHop, med: announcement.med,
            communities: announcement.communities, largeCommunities: announcement.largeCommunities)
    }

    public func establishedPeers() async -> Set<String> {
        Set(speaker.snapshot().filter { $0.state == .established }.map(\.name))
    }

    public func peerStatus() async -> [PeerReport] {
        let peers = self.peers.withLock { $0 }
        let now = ContinuousClock.now
        let wallNow = Date().timeIntervalSince1970
        return speaker.snapshot().map { status in
            let elapsed = now - status.since
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            return PeerReport(
                name: status.name, address: status.address.description, asn: peers[status.name]?.asn ?? 0,
                state: status.state.rawValue, since: wallNow - seconds, lastErrorSent: status.lastErrorSent,
                lastErrorReceived: status.lastErrorReceived,
                prefixesSent: status.families.values.reduce(0) { $0 + $1.prefixesSent },
                prefixesReceived: status.families.values.reduce(0) { $0 + $1.prefixesReceived },
                updatesSent: status.updatesOut, updatesReceived: status.updatesIn, messagesSent: status.messagesOut,
                messagesReceived: status.messagesIn, establishedCount: status.establishedCount,
                bfd: bfd.state(of: status.name), treatAsWithdraw: status.treatAsWithdraw)
        }
    }

    /// BGP first (withdraw, Cease), then BFD, whose AdminDown tells the routers not to treat the end of the
    /// BFD sessions as a path failure.
    public func shutdown(message: String) async {
        await speaker.shutdown(message: message)
        bfd.shutdown()
    }
}
