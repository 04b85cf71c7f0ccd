// What one peer has been told: the announcement packer. Given the routes the daemon wants that peer to
// have, it returns only the UPDATEs that make the difference (never re-sending an unchanged route, since
// some peers count re-advertisements), packing prefixes that share attributes into as few UPDATEs as fit.
// RFC 4271 §4.3/§9.2, RFC 4760 (IPv6 in MP_REACH/MP_UNREACH), RFC 6793 (AS4_PATH for 2-octet peers),
// RFC 4724 (End-of-RIB), RFC 2918 (refresh), RFC 1997, RFC 8092.
import NetAddress

/// The attributes one announced prefix carries, in the operator's terms.
public struct RouteAttributes: Hashable, Sendable {
    /// The next hop; must be the prefix's family (IPv4 next hops for IPv4 prefixes, IPv6 for IPv6).
    public var nextHop: IPAddress
    /// An IPv6 link-local next hop sent after the global one, only when the peer is on-link.
    public var linkLocalNextHop: IPv6Address?
    /// The AS_PATH as one AS_SEQUENCE: the local ASN repeated 1 + prepend times for eBGP, empty for iBGP.
    public var asPath: [UInt32]
    public var origin: Origin
    public var med: UInt32?
    /// Sent to iBGP peers only (100 when nil there).
    public var localPref: UInt32?
    /// Sorted and without duplicates, so equal sets compare equal.
    public private(set) var communities: [Community]
    /// Sorted and without duplicates.
    public private(set) var largeCommunities: [LargeCommunity]

    public init(
        nextHop: IPAddress, linkLocalNextHop: IPv6Address? = nil, asPath: [UInt32] = [], origin: Origin = .igp,
        med: UInt32? = nil, localPref: UInt32? = nil, communities: [Community] = [],
        largeCommunities: [LargeCommunity] = []
    ) {
        self.nextHop = nextHop
        self.linkLocalNextHop = linkLocalNextHop
        self.asPath = asPath
        self.origin = origin
        self.med = med
        self.localPref = localPref
        self.communities = Array(Set(communities)).sorted()
        self.largeCommunities = Array(Set(largeCommunities)).sorted()
    }

    /// Attributes towards an eBGP peer: AS_PATH is the local ASN, prepended `prepend` more times.
    public static func external(
        localASN: UInt32, prepend: Int = 0, nextHop: IPAddress, linkLocalNextHop: IPv6Address? = nil,
        med: UInt32? = nil, communities: [Community] = [], largeCommunities: [LargeCommunity] = []
    ) -> RouteAttributes {
        RouteAttributes(
            nextHop: nextHop, linkLocalNextHop: linkLocalNextHop,
            asPath: [UInt32](repeating: localASN, count: 1 + max(0, prepend)), med: med,
            communities: communities, largeCommunities: largeCommunities)
    }

    /// Attributes towards an iBGP peer: empty AS_PATH and a LOCAL_PREF.
    public static func `internal`(
        nextHop: IPAddress, linkLocalNextHop: IPv6Address? = nil, localPref: UInt32 = 100, med: UInt32? = nil,
        communities: [Community] = [], largeCommunities: [LargeCommunity] = []
    ) -> RouteAttributes {
        RouteAttributes(
            nextHop: nextHop, linkLocalNextHop: linkLocalNextHop, med: med, localPref: localPref,
            communities: communities, largeCommunities: largeCommunities)
    }

    /// The same attributes with GRACEFUL_SHUTDOWN (65535:0, RFC 8326) added, for a drain.
    public func addingGracefulShutdown() -> RouteAttributes {
        var copy = self
        copy.communities = Array(Set(communities + [.gracefulShutdown])).sorted()
        return copy
    }

    /// The AS_PATH as AS_SEQUENCE segments of at most 255 ASNs each.
    var sequenceSegments: [ASPathSegment] {
        stride(from: 0, to: asPath.count, by: 255).map {
            ASPathSegment(.sequence, Array(asPath[$0..<min($0 + 255, asPath.count)]))
        }
    }

    /// The path attributes for a prefix of `family`, without NLRI (MP_REACH_NLRI gets its NLRI later).
    func pathAttributes(family: AddressFamily, context: CodecContext) -> [PathAttribute] {
        var attributes: [PathAttribute] = [.origin(origin)]
        attributes.append(.asPath(sequenceSegments))
        switch nextHop {
        case .v4(let address) where family == .ipv4:
            attributes.append(.nextHop(address))
        default:
            // IPv6 prefixes, and IPv4 ones with an IPv6 next hop (RFC 8950), go in MP_REACH_NLRI.
            var nextHops = [nextHop]
            if let linkLocalNextHop, !linkLocalNextHop.isUnspecified, IPAddress.v6(linkLocalNextHop) != nextHop {
                nextHops.append(.v6(linkLocalNextHop))
            }
            attributes.append(
                .mpReach(MPReachNLRI(family: BGPFamily(unicast: family), nextHops: nextHops, nlri: [])))
        }
        if let med { attributes.append(.multiExitDisc(med)) }
        if context.isInternal { attributes.append(.localPref(localPref ?? 100)) }
        if !communities.isEmpty { attributes.append(.communities(communities)) }
        if !largeCommunities.isEmpty { attributes.append(.largeCommunities(largeCommunities)) }
        // RFC 6793 §4.2.2: a 2-octet peer sees AS_TRANS in AS_PATH and the real path in AS4_PATH.
        if !context.fourOctetAS, asPath.contains(where: { $0 > 0xFFFF }),
            let value = try? encodeASPath(sequenceSegments, fourOctet: true)
        {
            attributes.append(
                .unknown(
                    flags: AttributeFlags.optional | AttributeFlags.transitive,
                    type: PathAttributeType.as4Path.rawValue, value: value))
        }
        return attributes
    }
}

/// The routes one peer has been sent, and the packer producing the UPDATEs that change them. A value
/// type: the daemon keeps one per peer. It only produces UPDATEs between `announceAll()` (on reaching
/// Established) and `reset()` (when the session drops); before that it only remembers the desired set.
/// With the FSM: on `.announceAll` call `announceAll(context: machine.codecContext)`, on
/// `.peerRefreshRequested(f)` send `refresh(f)`, on leaving Established call `reset()`.
public struct AdjRibOut: Sendable {
    /// The negotiated session parameters: which families may be sent and how AS numbers are encoded.
    public var context: CodecContext
    /// The routes the daemon wants this peer to have.
    public private(set) var desired: [IPPrefix: RouteAttributes] = [:]
    /// The routes this peer has been sent and not withdrawn.
    public private(set) var advertised: [IPPrefix: RouteAttributes] = [:]
    /// Desired prefixes that cannot be sent to this peer: family not negotiated, or next hop of the
    /// wrong family. Kept for status output.
    public private(set) var unsendable: Set<IPPrefix> = []
    /// True between `announceAll()` and `reset()`.
    public private(set) var isActive = false

    public init(context: CodecContext) { self.context = context }

    /// Sets the routes this peer should have and returns the UPDATEs that get it there: withdrawals
    /// for prefixes no longer wanted, announcements for new or changed ones, nothing for the rest.
    /// Returns nothing while the session is not Established (the set is remembered for `announceAll`).
    public mutating func setDesired(_ routes: [IPPrefix: RouteAttributes]) -> [UpdateMessage] {
        desired = routes
        var sendable: [IPPrefix: RouteAttributes] = [:]
        unsendable = []
        for (prefix, attributes) in routes {
            if canSend(prefix, attributes) {
                sendable[prefix] = attributes
            } else {
                unsendable.insert(prefix)
            }
        }
        guard isActive else { return [] }
        let withdrawn = advertised.keys.filter { sendable[$0] == nil }
        let changed = sendable.filter { advertised[$0.key] != $0.value }
        advertised = sendable
        return withdrawals(withdrawn) + announcements(changed)
    }

    /// Starts sending on a freshly Established session: the whole desired set, then End-of-RIB for
    /// each negotiated unicast family (RFC 4724 §2).
    public mutating func announceAll() -> [UpdateMessage] {
        isActive = true
        advertised = [:]
        var updates = setDesired(desired)
        for family in context.families.sorted() where family.addressFamily != nil {
            updates.append(.endOfRIB(family))
        }
        return updates
    }

    /// `announceAll()` after taking the session's negotiated context (`SessionStateMachine.codecContext`).
    public mutating func announceAll(context: CodecContext) -> [UpdateMessage] {
        self.context = context
        return announceAll()
    }

    /// Re-sends every advertised route of a family, answering a ROUTE-REFRESH (RFC 2918).
    public func refresh(_ family: BGPFamily) -> [UpdateMessage] {
        guard isActive, let addressFamily = family.addressFamily else { return [] }
        return announcements(advertised.filter { $0.key.family == addressFamily })
    }

    /// Forgets what the peer was told, when the session drops; the desired set is kept.
    public mutating func reset() {
        advertised = [:]
        isActive = false
    }

    private func canSend(_ prefix: IPPrefix, _ attributes: RouteAttributes) -> Bool {
        let family = BGPFamily(unicast: prefix.family)
        let nextHopFits =
            attributes.nextHop.family == prefix.family
            || (attributes.nextHop.family == .ipv6 && context.extendedNextHop.contains(family))
        return context.families.contains(family) && nextHopFits && !attributes.nextHop.isUnspecified
    }

    /// IPv4 withdrawals in the Withdrawn Routes field, IPv6 ones in MP_UNREACH_NLRI, packed to 4096 bytes.
    private func withdrawals(_ prefixes: [IPPrefix]) -> [UpdateMessage] {
        var updates: [UpdateMessage] = []
        let v4 = prefixes.filter { $0.family == .ipv4 }.sorted()
        for chunk in pack(v4, overhead: BGPConstants.headerLength + 4) {
            updates.append(UpdateMessage(withdrawn: chunk))
        }
        let v6 = prefixes.filter { $0.family == .ipv6 }.sorted()
        // Header, two length fields, MP_UNREACH_NLRI header (extended length) and AFI/SAFI.
        for chunk in pack(v6, overhead: BGPConstants.headerLength + 4 + 4 + 3) {
            updates.append(
                UpdateMessage(attributes: [.mpUnreach(MPUnreachNLRI(family: .ipv6Unicast, withdrawn: chunk))]))
        }
        return updates
    }

    /// Announcements grouped by attribute set, each group packed into as few UPDATEs as fit.
    private func announcements(_ routes: [IPPrefix: RouteAttributes]) -> [UpdateMessage] {
        var groups: [GroupKey: [IPPrefix]] = [:]
        for (prefix, attributes) in routes {
            groups[GroupKey(family: prefix.family, attributes: attributes), default: []].append(prefix)
        }
        let ordered = groups.map { ($0.key, $0.value.sorted()) }.sorted { $0.1[0] < $1.1[0] }
        var updates: [UpdateMessage] = []
        for (key, prefixes) in ordered {
            let attributes = key.attributes.pathAttributes(family: key.family, context: context)
            // The attribute size is measured with an empty NLRI; MP_REACH_NLRI may need one more byte
            // for its extended length once the NLRI is in.
            let attributeSize = attributes.reduce(0) { total, attribute in
                var bytes: [UInt8] = []
                try? attribute.encode(into: &bytes, context: context)
                return total + bytes.count
            }
            let classic = key.family == .ipv4 && key.attributes.nextHop.family == .ipv4
            let overhead = BGPConstants.headerLength + 4 + attributeSize + (classic ? 0 : 1)
            for chunk in pack(prefixes, overhead: overhead) {
                if classic {
                    updates.append(UpdateMessage(attributes: attributes, nlri: chunk))
                } else {
                    updates.append(
                        UpdateMessage(
                            attributes: attributes.map { attribute in
                                guard case .mpReach(var reach) = attribute else { return attribute }
                                reach.nlri = chunk
                                return .mpReach(reach)
                            }))
                }
            }
        }
        return updates
    }

    /// Splits prefixes into runs whose encoded size plus `overhead` stays within 4096 bytes.
    private func pack(_ prefixes: [IPPrefix], overhead: Int) -> [[IPPrefix]] {
        var chunks: [[IPPrefix]] = []
        var current: [IPPrefix] = []
        var size = overhead
        for prefix in prefixes {
            let prefixSize = encodedPrefixSize(prefix)
            if size + prefixSize > BGPConstants.maxMessageLength, !current.isEmpty {
                chunks.append(current)
                current = []
                size = overhead
            }
            current.append(prefix)
            size += prefixSize
        }
        if !current.isEmpty { chunks.append(current) }
        return chunks
    }

    private struct GroupKey: Hashable {
        var family: AddressFamily
        var attributes: RouteAttributes
    }
}
