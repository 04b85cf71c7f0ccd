// Routes as the agent hands them to the speaker, with the next hop typed: either an address decided by the
// configuration, or "this session's own local address", which only the session knows once connected. The
// session shell resolves the latter (PeerController.resolve); no placeholder address crosses the module.
import BGP
import NetAddress

/// Where a route's next hop comes from.
public enum OutboundNextHop: Sendable, Hashable {
    /// The session's local address of the prefix's family (with the link-local one for on-link IPv6 peers).
    case sessionAddress
    /// This address.
    case address(IPAddress)
}

/// One route towards one peer, every attribute decided by the caller.
public struct OutboundRoute: Sendable, Hashable {
    public var nextHop: OutboundNextHop
    /// One AS_SEQUENCE; empty towards iBGP peers.
    public var asPath: [UInt32]
    public var med: UInt32?
    /// Sent to iBGP peers only.
    public var localPref: UInt32?
    public var communities: [Community]
    public var largeCommunities: [LargeCommunity]

    public init(
        nextHop: OutboundNextHop, asPath: [UInt32] = [], med: UInt32? = nil, localPref: UInt32? = nil,
        communities: [Community] = [], largeCommunities: [LargeCommunity] = []
    ) {
        self.nextHop = nextHop
        self.asPath = asPath
        self.med = med
        self.localPref = localPref
        self.communities = communities
        self.largeCommunities = largeCommunities
    }

    /// The attributes the session resolves: `.sessionAddress` is left unspecified here and filled in by
    /// `PeerController.resolve` from the session's local address.
    func attributes(for prefix: IPPrefix) -> RouteAttributes {
        let nextHop: IPAddress
        switch self.nextHop {
        case .address(let address): nextHop = address
        case .sessionAddress:
            nextHop = prefix.family == .ipv4 ? .v4(IPv4Address(0)) : .v6(IPv6Address(high: 0, low: 0))
        }
        return RouteAttributes(
            nextHop: nextHop, asPath: asPath, med: med, localPref: localPref, communities: communities,
            largeCommunities: largeCommunities)
    }
}

extension BGPSpeaker {
    /// Sets the full desired route set for one peer from typed routes; see `setRoutes(peer:_:)`.
    public func setRoutes(peer: String, routes: [IPPrefix: OutboundRoute]) {
        var attributes: [IPPrefix: RouteAttributes] = [:]
        for (prefix, route) in routes { attributes[prefix] = route.attributes(for: prefix) }
        setRoutes(peer: peer, attributes)
    }
}
