// The BGP-4 message model: what the codec (Encoder.swift, Decoder.swift) reads and writes and what the
// session FSM (SessionFSM.swift) consumes. Plain values, no I/O.
// RFC 4271 §4, RFC 5492 (capabilities), RFC 6793 (4-octet AS), RFC 4760 (MP-BGP), RFC 2918/7313 (refresh).
import NetAddress

/// An AFI/SAFI pair (RFC 4760), such as IPv4 unicast (1/1) or IPv6 unicast (2/1).
public struct BGPFamily: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var afi: UInt16
    public var safi: UInt8

    public init(afi: UInt16, safi: UInt8) {
        self.afi = afi
        self.safi = safi
    }

    /// AFI 1, SAFI 1.
    public static let ipv4Unicast = BGPFamily(afi: 1, safi: 1)
    /// AFI 2, SAFI 1.
    public static let ipv6Unicast = BGPFamily(afi: 2, safi: 1)

    /// The unicast family carrying prefixes of an address family.
    public init(unicast family: AddressFamily) {
        self = family == .ipv4 ? .ipv4Unicast : .ipv6Unicast
    }

    /// The address family when this is IPv4 or IPv6 unicast, else nil.
    public var addressFamily: AddressFamily? {
        switch self {
        case .ipv4Unicast: .ipv4
        case .ipv6Unicast: .ipv6
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .ipv4Unicast: "ipv4-unicast"
        case .ipv6Unicast: "ipv6-unicast"
        default: "afi \(afi)/safi \(safi)"
        }
    }

    public static func < (lhs: BGPFamily, rhs: BGPFamily) -> Bool { (lhs.afi, lhs.safi) < (rhs.afi, rhs.safi) }
}

/// Limits and well-known numbers of the protocol.
public enum BGPConstants {
    /// RFC 4271 §4.1: the largest message allowed without RFC 8654 (which we do not negotiate).
    public static let maxMessageLength = 4096
    /// Marker, length and type.
    public static let headerLength = 19
    /// RFC 6793: stands in for a 4-octet ASN in 2-octet fields.
    public static let asTrans: UInt32 = 23456
    /// RFC 4271: the only version we speak.
    public static let version: UInt8 = 4
}

/// One BGP message (RFC 4271 §4, RFC 2918).
public enum BGPMessage: Hashable, Sendable {
    case open(OpenMessage)
    case update(UpdateMessage)
    case notification(NotificationMessage)
    case keepalive
    case routeRefresh(RouteRefreshMessage)

    /// The message type code on the wire.
    public var typeCode: UInt8 {
        switch self {
        case .open: 1
        case .update: 2
        case .notification: 3
        case .keepalive: 4
        case .routeRefresh: 5
        }
    }

    /// The message type in words, for logs.
    public var typeName: String {
        switch self {
        case .open: "OPEN"
        case .update: "UPDATE"
        case .notification: "NOTIFICATION"
        case .keepalive: "KEEPALIVE"
        case .routeRefresh: "ROUTE-REFRESH"
        }
    }
}

/// A capability advertised in OPEN (RFC 5492). Unknown ones are kept so they can be logged, never acted on.
public enum Capability: Hashable, Sendable {
    /// Code 1 (RFC 4760).
    case multiprotocol(BGPFamily)
    /// Code 2 (RFC 2918).
    case routeRefresh
    /// Code 70 (RFC 7313).
    case enhancedRouteRefresh
    /// Code 65 (RFC 6793), carrying the speaker's real ASN.
    case fourOctetAS(UInt32)
    /// Code 64 (RFC 4724).
    case gracefulRestart(GracefulRestartCapability)
    /// Any other code, or a known code with a malformed value.
    case unknown(code: UInt8, value: [UInt8])

    /// The capability code on the wire.
    public var code: UInt8 {
        switch self {
        case .multiprotocol: 1
        case .routeRefresh: 2
        case .enhancedRouteRefresh: 70
        case .fourOctetAS: 65
        case .gracefulRestart: 64
        case .unknown(let code, _): code
        }
    }
}

/// An OPEN message (RFC 4271 §4.2).
public struct OpenMessage: Hashable, Sendable {
    public var version: UInt8
    /// The 2-octet "My Autonomous System" field: AS_TRANS (23456) when the real ASN exceeds 65535.
    public var myAS: UInt16
    /// Proposed hold time in seconds: 0 or at least 3.
    public var holdTime: UInt16
    /// The BGP identifier; never zero.
    public var identifier: IPv4Address
    public var capabilities: [Capability]

    public init(
        version: UInt8 = BGPConstants.version, myAS: UInt16, holdTime: UInt16, identifier: IPv4Address,
        capabilities: [Capability]
    ) {
        self.version = version
        self.myAS = myAS
        self.holdTime = holdTime
        self.identifier = identifier
        self.capabilities = capabilities
    }

    /// The OPEN a speaker with this ASN sends: AS_TRANS in My AS only when the ASN needs 4 octets, and
    /// the 4-octet AS capability always (RFC 6793 §4.1).
    public init(
        asn: UInt32, holdTime: UInt16, identifier: IPv4Address, families: [BGPFamily],
        routeRefresh: Bool = true, enhancedRouteRefresh: Bool = false,
        gracefulRestart: GracefulRestartCapability? = nil
    ) {
        var capabilities = families.map { Capability.multiprotocol($0) }
        if routeRefresh { capabilities.append(.routeRefresh) }
        if enhancedRouteRefresh { capabilities.append(.enhancedRouteRefresh) }
        // After the others, so that an OPEN without it is byte for byte the OPEN sent before it existed.
        capabilities.append(.fourOctetAS(asn))
        if let gracefulRestart { capabilities.append(.gracefulRestart(gracefulRestart)) }
        self.init(
            myAS: asn > 0xFFFF ? UInt16(BGPConstants.asTrans) : UInt16(asn), holdTime: holdTime,
            identifier: identifier, capabilities: capabilities)
    }

    /// The speaker's ASN: the 4-octet AS capability's value when present, else My AS.
    public var asn: UInt32 {
        for case .fourOctetAS(let asn) in capabilities { return asn }
        return UInt32(myAS)
    }

    /// True when the 4-octet AS capability is present.
    public var supportsFourOctetAS: Bool {
        capabilities.contains { if case .fourOctetAS = $0 { true } else { false } }
    }

    /// Families from multiprotocol capabilities; IPv4 unicast alone when there are none (RFC 4760 §8).
    public var families: Set<BGPFamily> {
        var result = Set<BGPFamily>()
        for case .multiprotocol(let family) in capabilities { result.insert(family) }
        return result.isEmpty ? [.ipv4Unicast] : result
    }

    /// True when route refresh (code 2) is advertised.
    public var supportsRouteRefresh: Bool { capabilities.contains(.routeRefresh) }

    /// True when enhanced route refresh (code 70) is advertised.
    public var supportsEnhancedRouteRefresh: Bool { capabilities.contains(.enhancedRouteRefresh) }
}

/// A ROUTE-REFRESH message (RFC 2918; subtypes from RFC 7313).
public struct RouteRefreshMessage: Hashable, Sendable {
    /// 0 = request, 1 = beginning of route refresh, 2 = end of route refresh; others are ignored.
    public var subtype: UInt8
    public var family: BGPFamily

    public init(family: BGPFamily, subtype: UInt8 = 0) {
        self.family = family
        self.subtype = subtype
    }
}
