// What the daemon tells BGPSpeaker about each peer (BGPPeerSettings) and what it reads back
// (BGPPeerStatus snapshots and BGPPeerEvent state changes). Plain values; the speaker owns the sessions.
import BGP
import NetAddress

/// One BGP neighbor as configured: who it is, how to reach it, and how to protect the session.
public struct BGPPeerSettings: Sendable, Equatable, CustomStringConvertible {
    /// Unique name used in logs, status and `setRoutes(peer:_:)`.
    public var name: String
    /// The neighbor's address; the TCP session runs to it.
    public var address: IPAddress
    /// The neighbor's TCP port. The default is 179.
    public var port: Int
    /// The neighbor's AS number (2 or 4 octets).
    public var asn: UInt32
    /// Our AS number towards this neighbor.
    public var localASN: UInt32
    /// Our BGP identifier; must be non-zero even on IPv6-only hosts.
    public var routerId: IPv4Address
    /// The source address to bind; also the default next hop for routes of its family.
    public var localAddress: IPAddress?
    /// Never connect out; wait for the neighbor to connect in.
    public var passive: Bool
    /// TTL to send with: 1 for directly connected eBGP, larger for multihop. Ignored with `ttlSecurity`.
    public var ttl: Int
    /// GTSM (RFC 5082): send with TTL 255 and accept only TTL 255.
    public var ttlSecurity: Bool
    /// TCP MD5 password (RFC 2385); never logged.
    public var md5Password: String?
    /// Hold time to offer in seconds: 0 or 3…65535. The default is 90.
    public var holdTime: Int
    /// Address families to negotiate (IPv4 and/or IPv6 unicast).
    public var families: Set<AddressFamily>
    /// Next hop for IPv4 routes when the session's own address is not IPv4.
    public var ipv4NextHop: IPv4Address?
    /// Next hop for IPv6 routes; required when the session runs over IPv4.
    public var ipv6NextHop: IPv6Address?
    /// Seconds between outbound connection attempts, and the first back-off after an error (which then
    /// doubles, with jitter, up to `maximumRetrySeconds`). The default is 5.
    public var connectRetrySeconds: Double
    /// Upper bound of the back-off after repeated errors, in seconds. The default is 120.
    public var maximumRetrySeconds: Double
    /// The most prefixes of one family the peer may announce; one more ends the session with Cease/1
    /// (RFC 4486) and the error back-off. The default is `defaultMaxPrefixes`.
    public var maxPrefixes: UInt32
    /// Graceful Restart (RFC 4724): the restart time to advertise in seconds (1…4095); nil sends no capability.
    /// The forwarding-state bit is set for every family: the anycast addresses stay across a restart.
    public var gracefulRestartTime: UInt16? = nil

    /// 100,000: far above what a router sends a host (a default route, a few aggregates), far below a full
    /// table (about 1,000,000 IPv4 routes), which a router sends only by mistake (a missing export filter).
    public static let defaultMaxPrefixes: UInt32 = 100_000

    public init(
        name: String,
        address: IPAddress,
        port: Int = 179,
        asn: UInt32,
        localASN: UInt32,
        routerId: IPv4Address,
        localAddress: IPAddress? = nil,
        passive: Bool = false,
        ttl: Int = 1,
        ttlSecurity: Bool = false,
        md5Password: String? = nil,
        holdTime: Int = 90,
        families: Set<AddressFamily> = [.ipv4, .ipv6],
        ipv4NextHop: IPv4Address? = nil,
        ipv6NextHop: IPv6Address? = nil,
        connectRetrySeconds: Double = 5,
        maximumRetrySeconds: Double = 120,
        maxPrefixes: UInt32 = BGPPeerSettings.defaultMaxPrefixes
    ) {
        self.name = name
        self.address = address
        self.port = port
        self.asn = asn
        self.localASN = localASN
        self.routerId = routerId
        self.localAddress = localAddress
        self.passive = passive
        self.ttl = ttl
        self.ttlSecurity = ttlSecurity
        self.md5Password = md5Password
        self.holdTime = holdTime
        self.families = families
        self.ipv4NextHop = ipv4NextHop
        self.ipv6NextHop = ipv6NextHop
        self.connectRetrySeconds = connectRetrySeconds
        self.maximumRetrySeconds = maximumRetrySeconds
        self.maxPrefixes = maxPrefixes
    }

    /// Everything but the password, which is shown only as set or not.
    public var description: String {
        var text = "\(name) \(address) port \(port) as \(asn) local-as \(localASN) router-id \(routerId)"
        if let localAddress { text += " local \(localAddress)" }
        if passive { text += " passive" }
        text += ttlSecurity ? " ttl-security" : " ttl \(ttl)"
        if md5Password != nil { text += " md5 (set)" }
        if let gracefulRestartTime { text += " graceful-restart \(gracefulRestartTime)" }
        text +=
            " hold \(holdTime) max-prefixes \(maxPrefixes) families \(families.sorted().map(\.rawValue).joined(separator: ","))"
        return text
    }

    /// True when changing from `self` to `other` needs a new session (everything but the back-off and the
    /// prefix limit, which applies from the next UPDATE on).
    func needsReset(comparedTo other: BGPPeerSettings) -> Bool {
        var a = self
        var b = other
        a.maxPrefixes = 0
        b.maxPrefixes = 0
        a.connectRetrySeconds = 0
        b.connectRetrySeconds = 0
        a.maximumRetrySeconds = 0
        b.maximumRetrySeconds = 0
        return a != b
    }
}

/// The session state in RFC 4271 words: the FSM's own enum.
public typealias BGPSessionState = SessionState

/// Per-family prefix counters of one session.
public struct BGPFamilyCounters: Sendable, Equatable {
    /// Prefixes we currently announce to the peer.
    public var prefixesSent: Int = 0
    /// Prefixes the peer currently announces to us (counted, not stored).
    public var prefixesReceived: Int = 0

    public init() {}
}

/// A snapshot of one peer for status output and metrics.
public struct BGPPeerStatus: Sendable, Equatable {
    public var name: String
    public var address: IPAddress
    public var state: BGPSessionState
    /// When the session entered `state`.
    public var since: ContinuousClock.Instant
    /// The last NOTIFICATION we sent, in words (for example "Cease/Administrative Shutdown").
    public var lastErrorSent: String?
    /// The last NOTIFICATION we received, in words, with the RFC 9003 message if any.
    public var lastErrorReceived: String?
    /// The last local failure (connect refused, socket option refused, hold timer...).
    public var lastFailure: String?
    public var messagesIn: Int = 0
    public var messagesOut: Int = 0
    public var updatesIn: Int = 0
    public var updatesOut: Int = 0
    /// Route refresh requests the peer sent us.
    public var routeRefreshesIn: Int = 0
    /// Route refresh requests answered by a refresh of the family still being sent (coalesced).
    public var routeRefreshesCoalesced: Int = 0
    /// UPDATEs treated as withdraw (RFC 7606) since the peer was configured.
    public var treatAsWithdraw: Int = 0
    /// Bytes of messages waiting for the peer to read (the send queue beyond the socket's buffers).
    public var sendQueueBytes: Int = 0
    /// How many times the session reached Established.
    public var establishedCount: Int = 0
    /// Whether the current (or last) session was opened by the peer; nil before the first one.
    public var inbound: Bool?
    public var families: [AddressFamily: BGPFamilyCounters] = [:]

    public init(name: String, address: IPAddress, state: BGPSessionState, since: ContinuousClock.Instant) {
        self.name = name
        self.address = address
        self.state = state
        self.since = since
    }
}

/// What the daemon hears from the speaker.
public enum BGPPeerEvent: Sendable, Equatable {
    /// The session with `peer` moved from one state to another; `reason` says why when it went down.
    case stateChanged(peer: String, from: BGPSessionState, to: BGPSessionState, reason: String?)
    /// The peer asked for a family again (ROUTE-REFRESH) and has been sent it.
    case routeRefresh(peer: String, family: AddressFamily)
}
