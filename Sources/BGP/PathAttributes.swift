// UPDATE messages and their path attributes, as values: what AdjRibOut builds, the encoder writes and the
// decoder (with RFC 7606 dispositions) reads back.
// RFC 4271 §4.3/§5, RFC 4760 (MP_REACH/MP_UNREACH), RFC 1997, RFC 8092, RFC 6793, RFC 4724 (End-of-RIB),
// RFC 7911 (path identifiers, kept beside the prefixes they belong to).
import NetAddress

/// An UPDATE message (RFC 4271 §4.3). IPv6 routes travel in MP_REACH_NLRI / MP_UNREACH_NLRI attributes.
public struct UpdateMessage: Hashable, Sendable {
    /// IPv4 prefixes withdrawn in the Withdrawn Routes field.
    public var withdrawn: [IPPrefix]
    public var attributes: [PathAttribute]
    /// IPv4 prefixes announced in the NLRI field.
    public var nlri: [IPPrefix]
    /// With ADD-PATH (RFC 7911) for IPv4 unicast: the path identifier of each `withdrawn` prefix, in order;
    /// empty otherwise.
    public var withdrawnPathIDs: [UInt32]
    /// With ADD-PATH for IPv4 unicast: the path identifier of each `nlri` prefix, in order; empty otherwise.
    public var nlriPathIDs: [UInt32]

    public init(
        withdrawn: [IPPrefix] = [], attributes: [PathAttribute] = [], nlri: [IPPrefix] = [],
        withdrawnPathIDs: [UInt32] = [], nlriPathIDs: [UInt32] = []
    ) {
        self.withdrawn = withdrawn
        self.attributes = attributes
        self.nlri = nlri
        self.withdrawnPathIDs = withdrawnPathIDs
        self.nlriPathIDs = nlriPathIDs
    }

    /// The End-of-RIB marker for a family (RFC 4724 §2): an empty UPDATE for IPv4 unicast, an UPDATE with
    /// only an empty MP_UNREACH_NLRI for any other family.
    public static func endOfRIB(_ family: BGPFamily) -> UpdateMessage {
        if family == .ipv4Unicast { return UpdateMessage() }
        return UpdateMessage(attributes: [.mpUnreach(MPUnreachNLRI(family: family, withdrawn: []))])
    }

    /// The family whose End-of-RIB this is, or nil when it is not an End-of-RIB marker.
    public var endOfRIBFamily: BGPFamily? {
        guard withdrawn.isEmpty, nlri.isEmpty else { return nil }
        if attributes.isEmpty { return .ipv4Unicast }
        if attributes.count == 1, case .mpUnreach(let unreach) = attributes[0], unreach.withdrawn.isEmpty {
            return unreach.family
        }
        return nil
    }

    /// The first attribute of a type code, if present.
    public func attribute(_ type: PathAttributeType) -> PathAttribute? {
        attributes.first { $0.typeCode == type.rawValue }
    }

    /// Every prefix this UPDATE announces, IPv4 NLRI and MP_REACH_NLRI together.
    public var announcedPrefixes: [IPPrefix] {
        var result = nlri
        for case .mpReach(let reach) in attributes { result += reach.nlri }
        return result
    }

    /// Every prefix this UPDATE withdraws, Withdrawn Routes and MP_UNREACH_NLRI together.
    public var withdrawnPrefixes: [IPPrefix] {
        var result = withdrawn
        for case .mpUnreach(let unreach) in attributes { result += unreach.withdrawn }
        return result
    }

    /// Every path this UPDATE announces with its path identifier (0 without ADD-PATH).
    public var announcedPaths: [PrefixPath] {
        var result = PrefixPath.zip(nlri, nlriPathIDs)
        for case .mpReach(let reach) in attributes { result += PrefixPath.zip(reach.nlri, reach.pathIDs) }
        return result
    }

    /// Every path this UPDATE withdraws with its path identifier (0 without ADD-PATH).
    public var withdrawnPaths: [PrefixPath] {
        var result = PrefixPath.zip(withdrawn, withdrawnPathIDs)
        for case .mpUnreach(let unreach) in attributes { result += PrefixPath.zip(unreach.withdrawn, unreach.pathIDs) }
        return result
    }
}

/// A prefix and the path identifier it came with (RFC 7911 §3); 0 on a session without ADD-PATH, where a
/// prefix has one path.
public struct PrefixPath: Hashable, Sendable, CustomStringConvertible {
    public var prefix: IPPrefix
    public var pathID: UInt32

    public init(_ prefix: IPPrefix, pathID: UInt32 = 0) {
        self.prefix = prefix
        self.pathID = pathID
    }

    public var description: String { pathID == 0 ? "\(prefix)" : "\(prefix) path \(pathID)" }

    /// Prefixes paired with their identifiers; identifiers default to 0 where `ids` has none.
    static func zip(_ prefixes: [IPPrefix], _ ids: [UInt32]) -> [PrefixPath] {
        prefixes.enumerated().map { PrefixPath($1, pathID: $0 < ids.count ? ids[$0] : 0) }
    }
}

/// Path attribute type codes this speaker knows by name.
public enum PathAttributeType: UInt8, Sendable, CaseIterable {
    case origin = 1
    case asPath = 2
    case nextHop = 3
    case multiExitDisc = 4
    case localPref = 5
    case atomicAggregate = 6
    case aggregator = 7
    case communities = 8
    case originatorID = 9
    case clusterList = 10
    case mpReachNLRI = 14
    case mpUnreachNLRI = 15
    case as4Path = 17
    case as4Aggregator = 18
    case largeCommunities = 32
}

/// Attribute flag bits (RFC 4271 §4.3).
public enum AttributeFlags {
    public static let optional: UInt8 = 0x80
    public static let transitive: UInt8 = 0x40
    public static let partial: UInt8 = 0x20
    public static let extendedLength: UInt8 = 0x10
}

/// ORIGIN values (RFC 4271 §5.1.1).
public enum Origin: UInt8, Hashable, Sendable {
    case igp = 0
    case egp = 1
    case incomplete = 2
}

/// One AS_PATH segment; ASNs are always held as 4-octet values, the encoding is chosen on the wire.
public struct ASPathSegment: Hashable, Sendable {
    /// Segment types (RFC 4271 §4.3, RFC 5065 for the confederation ones).
    public enum Kind: UInt8, Hashable, Sendable {
        case set = 1
        case sequence = 2
        case confedSequence = 3
        case confedSet = 4
    }

    public var kind: Kind
    public var asns: [UInt32]

    public init(_ kind: Kind, _ asns: [UInt32]) {
        self.kind = kind
        self.asns = asns
    }
}

/// MP_REACH_NLRI for IPv4 or IPv6 unicast (RFC 4760 §3).
public struct MPReachNLRI: Hashable, Sendable {
    public var family: BGPFamily
    /// One address (4 or 16 bytes on the wire), or an IPv6 global plus link-local pair (32 bytes).
    public var nextHops: [IPAddress]
    public var nlri: [IPPrefix]
    /// With ADD-PATH (RFC 7911) for the family: the path identifier of each `nlri` prefix; empty otherwise.
    public var pathIDs: [UInt32]

    public init(family: BGPFamily, nextHops: [IPAddress], nlri: [IPPrefix], pathIDs: [UInt32] = []) {
        self.family = family
        self.nextHops = nextHops
        self.nlri = nlri
        self.pathIDs = pathIDs
    }
}

/// MP_UNREACH_NLRI for IPv4 or IPv6 unicast (RFC 4760 §4).
public struct MPUnreachNLRI: Hashable, Sendable {
    public var family: BGPFamily
    public var withdrawn: [IPPrefix]
    /// With ADD-PATH for the family: the path identifier of each `withdrawn` prefix; empty otherwise.
    public var pathIDs: [UInt32]

    public init(family: BGPFamily, withdrawn: [IPPrefix], pathIDs: [UInt32] = []) {
        self.family = family
        self.withdrawn = withdrawn
        self.pathIDs = pathIDs
    }
}

/// One path attribute. Known ones are typed; the rest keep flags, type and bytes.
public enum PathAttribute: Hashable, Sendable {
    case origin(Origin)
    case asPath([ASPathSegment])
    case nextHop(IPv4Address)
    case multiExitDisc(UInt32)
    case localPref(UInt32)
    case atomicAggregate
    /// AGGREGATOR; the ASN is 2 or 4 octets on the wire depending on the negotiated encoding.
    case aggregator(asn: UInt32, address: IPv4Address)
    case communities([Community])
    case largeCommunities([LargeCommunity])
    case mpReach(MPReachNLRI)
    case mpUnreach(MPUnreachNLRI)
    /// Any other attribute; `flags` never includes the extended-length bit (the encoder chooses it).
    case unknown(flags: UInt8, type: UInt8, value: [UInt8])

    /// The type code on the wire.
    public var typeCode: UInt8 {
        switch self {
        case .origin: PathAttributeType.origin.rawValue
        case .asPath: PathAttributeType.asPath.rawValue
        case .nextHop: PathAttributeType.nextHop.rawValue
        case .multiExitDisc: PathAttributeType.multiExitDisc.rawValue
        case .localPref: PathAttributeType.localPref.rawValue
        case .atomicAggregate: PathAttributeType.atomicAggregate.rawValue
        case .aggregator: PathAttributeType.aggregator.rawValue
        case .communities: PathAttributeType.communities.rawValue
        case .largeCommunities: PathAttributeType.largeCommunities.rawValue
        case .mpReach: PathAttributeType.mpReachNLRI.rawValue
        case .mpUnreach: PathAttributeType.mpUnreachNLRI.rawValue
        case .unknown(_, let type, _): type
        }
    }

    /// The optional, transitive and partial flags this attribute is sent with (RFC 4271 §5, RFC 4760,
    /// RFC 1997, RFC 8092).
    public var flags: UInt8 {
        switch self {
        case .origin, .asPath, .nextHop, .localPref, .atomicAggregate:
            AttributeFlags.transitive
        case .multiExitDisc, .mpReach, .mpUnreach:
            AttributeFlags.optional
        case .aggregator, .communities, .largeCommunities:
            AttributeFlags.optional | AttributeFlags.transitive
        case .unknown(let flags, _, _):
            flags & ~AttributeFlags.extendedLength
        }
    }

    /// The flags the RFCs require for a known type code (optional and transitive bits only), or nil.
    static func requiredFlags(forType type: UInt8) -> UInt8? {
        switch PathAttributeType(rawValue: type) {
        case .origin, .asPath, .nextHop, .localPref, .atomicAggregate: AttributeFlags.transitive
        case .multiExitDisc, .mpReachNLRI, .mpUnreachNLRI, .originatorID, .clusterList: AttributeFlags.optional
        case .aggregator, .communities, .largeCommunities, .as4Path, .as4Aggregator:
            AttributeFlags.optional | AttributeFlags.transitive
        case nil: nil
        }
    }
}
