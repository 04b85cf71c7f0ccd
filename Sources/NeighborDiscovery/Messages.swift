// The two IPv6 Neighbor Discovery messages BGP unnumbered needs (RFC 4861 §4.1, §4.2): Router
// Advertisements, which the agent sends so the switch learns its link-local address and which it reads to
// learn the switch's, and Router Solicitations, which it answers. Pure bytes in and out: the raw socket
// lives in NeighborDiscoverySession. The kernel fills in the ICMPv6 checksum of a raw ICMPv6 socket
// (RFC 3542 §3.1), so it is zero here and not checked on receive (the kernel drops bad ones).
import NetAddress

/// ICMPv6 type numbers (RFC 4861 §4).
public enum ICMPv6Type {
    public static let routerSolicitation: UInt8 = 133
    public static let routerAdvertisement: UInt8 = 134
}

/// A Router Advertisement (RFC 4861 §4.2) with the fields the agent sends or reads.
public struct RouterAdvertisement: Hashable, Sendable {
    /// Hop limit hosts should use; 0 leaves theirs unchanged.
    public var currentHopLimit: UInt8
    /// The M and O flags and the rest of the flag byte, as is.
    public var flags: UInt8
    /// Seconds hosts may use the sender as default router; 0: not a default router.
    public var routerLifetime: UInt16
    public var reachableTime: UInt32
    public var retransTimer: UInt32
    /// The sender's link-layer address (option 1), when given.
    public var sourceLinkLayerAddress: [UInt8]?

    public init(
        currentHopLimit: UInt8 = 0, flags: UInt8 = 0, routerLifetime: UInt16 = 0, reachableTime: UInt32 = 0,
        retransTimer: UInt32 = 0, sourceLinkLayerAddress: [UInt8]? = nil
    ) {
        self.currentHopLimit = currentHopLimit
        self.flags = flags
        self.routerLifetime = routerLifetime
        self.reachableTime = reachableTime
        self.retransTimer = retransTimer
        self.sourceLinkLayerAddress = sourceLinkLayerAddress
    }

    /// What the agent sends: router lifetime 0, so no host takes it as its default router (RFC 4861
    /// §6.2.3), no prefixes, and the interface's MAC address when known.
    public static func unnumbered(linkLayerAddress: [UInt8]?) -> RouterAdvertisement {
        RouterAdvertisement(sourceLinkLayerAddress: linkLayerAddress)
    }

    /// The ICMPv6 message: type, code, checksum (0, the kernel's), then the fixed part and options.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = [ICMPv6Type.routerAdvertisement, 0, 0, 0, currentHopLimit, flags]
        bytes += [UInt8(routerLifetime >> 8), UInt8(routerLifetime & 0xFF)]
        for value in [reachableTime, retransTimer] {
            bytes += [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
        }
        if let address = sourceLinkLayerAddress, !address.isEmpty {
            bytes += linkLayerOption(type: 1, address)
        }
        return bytes
    }
}

/// Option with a link-layer address, padded to a multiple of 8 bytes (RFC 4861 §4.6.1).
private func linkLayerOption(type: UInt8, _ address: [UInt8]) -> [UInt8] {
    let units = (2 + address.count + 7) / 8
    var option: [UInt8] = [type, UInt8(units)] + address
    option += [UInt8](repeating: 0, count: units * 8 - option.count)
    return option
}

/// A received Neighbor Discovery message the agent acts on.
public enum NeighborDiscoveryMessage: Hashable, Sendable {
    case routerAdvertisement(RouterAdvertisement)
    /// A Router Solicitation, with the sender's link-layer address when given.
    case routerSolicitation(sourceLinkLayerAddress: [UInt8]?)
}

/// Why a received packet was ignored, in words for a debug log.
public struct NeighborDiscoveryDecodeError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension NeighborDiscoveryMessage {
    /// The largest packet read: an Ethernet MTU. A longer one is truncated by the socket and ignored.
    public static let maximumLength = 1500

    /// Decodes one ICMPv6 message received from `source` with IPv6 hop limit `hopLimit`, with the
    /// validity checks of RFC 4861 §6.1.1 and §6.1.2: hop limit 255 (it was not forwarded), code 0, the
    /// fixed length, options of non-zero length within the packet; a Router Advertisement must come from
    /// a link-local address.
    public static func decode(
        _ bytes: [UInt8], source: IPv6Address, hopLimit: Int
    ) throws(NeighborDiscoveryDecodeError) -> NeighborDiscoveryMessage {
        guard bytes.count >= 4 else { throw NeighborDiscoveryDecodeError("\(bytes.count)-byte ICMPv6 message") }
        guard bytes.count <= maximumLength else {
            throw NeighborDiscoveryDecodeError("\(bytes.count)-byte message is over \(maximumLength) bytes")
        }
        guard hopLimit == 255 else {
            throw NeighborDiscoveryDecodeError("hop limit \(hopLimit), not 255: forwarded from another link")
        }
        guard bytes[1] == 0 else { throw NeighborDiscoveryDecodeError("ICMPv6 code \(bytes[1]), not 0") }
        switch bytes[0] {
        case ICMPv6Type.routerAdvertisement:
            guard bytes.count >= 16 else {
                throw NeighborDiscoveryDecodeError("Router Advertisement of \(bytes.count) bytes, under 16")
            }
            guard source.isLinkLocal else {
                throw NeighborDiscoveryDecodeError("Router Advertisement from \(source), not a link-local address")
            }
            func u32(_ at: Int) -> UInt32 { bytes[at..<at + 4].reduce(0) { $0 << 8 | UInt32($1) } }
            let options = try Self.options(Array(bytes[16...]))
            return .routerAdvertisement(
                RouterAdvertisement(
                    currentHopLimit: bytes[4], flags: bytes[5],
                    routerLifetime: UInt16(bytes[6]) << 8 | UInt16(bytes[7]),
                    reachableTime: u32(8), retransTimer: u32(12), sourceLinkLayerAddress: options[1]))
        case ICMPv6Type.routerSolicitation:
            guard bytes.count >= 8 else {
                throw NeighborDiscoveryDecodeError("Router Solicitation of \(bytes.count) bytes, under 8")
            }
            let options = try Self.options(Array(bytes[8...]))
            // RFC 4861 §6.1.1: from the unspecified address, there is no link-layer address to give.
            if source.isUnspecified, options[1] != nil {
                throw NeighborDiscoveryDecodeError("Router Solicitation from :: with a link-layer address")
            }
            return .routerSolicitation(sourceLinkLayerAddress: options[1])
        default:
            throw NeighborDiscoveryDecodeError("ICMPv6 type \(bytes[0]) is not a router message")
        }
    }

    /// The link-layer address options by type (the first of each), trailing padding dropped.
    private static func options(_ bytes: [UInt8]) throws(NeighborDiscoveryDecodeError) -> [UInt8: [UInt8]] {
        var result: [UInt8: [UInt8]] = [:]
        var index = 0
        while index < bytes.count {
            guard index + 2 <= bytes.count, bytes[index + 1] > 0 else {
                throw NeighborDiscoveryDecodeError("option at byte \(index) has length 0 or is truncated")
            }
            let length = Int(bytes[index + 1]) * 8
            guard index + length <= bytes.count else {
                throw NeighborDiscoveryDecodeError("option at byte \(index) overruns the message")
            }
            let type = bytes[index]
            if type == 1 || type == 2, result[type] == nil {
                // Ethernet: 6 bytes; other link types keep their padding-less length unknown, so keep all.
                let value = Array(bytes[(index + 2)..<(index + length)])
                result[type] = length == 8 ? Array(value.prefix(6)) : value
            }
            index += length
        }
        return result
    }
}
