// Encodes BGPMessages for the wire, strictly: exact attribute flags, extended length only above 255
// bytes, MP_REACH/MP_UNREACH first then ascending type order, at most 4096 bytes. The session shell
// calls it for every message the FSM and AdjRibOut produce.
// RFC 4271 §4, RFC 5492, RFC 9072, RFC 6793, RFC 4760, RFC 7606 §5.1, RFC 1997, RFC 8092, RFC 9003.
import NIOCore
import NetAddress

/// A message that must not be sent as it is; a bug in the caller, described for the log.
public struct BGPEncodeError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}

extension BGPMessage {
    /// Appends the encoded message, header included, to `buffer`.
    public func encode(into buffer: inout ByteBuffer, context: CodecContext) throws(BGPEncodeError) {
        buffer.writeBytes(try encoded(context: context))
    }

    /// The encoded message, header included.
    public func encoded(context: CodecContext) throws(BGPEncodeError) -> [UInt8] {
        var body: [UInt8] = []
        switch self {
        case .open(let open): try open.encodeBody(into: &body)
        case .update(let update): try update.encodeBody(into: &body, context: context)
        case .notification(let notification):
            body += [notification.code, notification.subcode] + notification.data
        case .keepalive: break
        case .routeRefresh(let refresh):
            body.appendU16(refresh.family.afi)
            body += [refresh.subtype, refresh.family.safi]
        }
        let length = BGPConstants.headerLength + body.count
        guard length <= BGPConstants.maxMessageLength else {
            throw BGPEncodeError("\(typeName) would be \(length) bytes, more than the 4096 allowed")
        }
        var bytes = [UInt8](repeating: 0xFF, count: 16)
        bytes.reserveCapacity(length)
        bytes.appendU16(UInt16(length))
        bytes.append(typeCode)
        return bytes + body
    }
}

extension OpenMessage {
    func encodeBody(into body: inout [UInt8]) throws(BGPEncodeError) {
        guard holdTime == 0 || holdTime >= 3 else {
            throw BGPEncodeError("OPEN hold time \(holdTime) s is not 0 or ≥ 3")
        }
        guard identifier.value != 0 else { throw BGPEncodeError("OPEN BGP identifier is 0.0.0.0") }
        body.append(version)
        body.appendU16(myAS)
        body.appendU16(holdTime)
        body.appendU32(identifier.value)
        var capabilityBytes: [UInt8] = []
        for capability in capabilities {
            let value = capability.encodedValue
            guard value.count <= 255 else { throw BGPEncodeError("capability \(capability.code) is over 255 bytes") }
            capabilityBytes += [capability.code, UInt8(value.count)] + value
        }
        if capabilityBytes.isEmpty {
            body.append(0)
        } else if capabilityBytes.count + 2 <= 255 {
            // All capabilities in one parameter, the common form.
            body += [UInt8(capabilityBytes.count + 2), 2, UInt8(capabilityBytes.count)] + capabilityBytes
        } else {
            // RFC 9072 extended optional parameters: one parameter with a 2-byte length.
            body += [255, 255]
            body.appendU16(UInt16(capabilityBytes.count + 3))
            body.append(2)
            body.appendU16(UInt16(capabilityBytes.count))
            body += capabilityBytes
        }
    }
}

extension Capability {
    var encodedValue: [UInt8] {
        switch self {
        case .multiprotocol(let family): [UInt8(family.afi >> 8), UInt8(family.afi & 0xFF), 0, family.safi]
        case .routeRefresh, .enhancedRouteRefresh: []
        case .fourOctetAS(let asn): IPv4Address(asn).bytes
        case .gracefulRestart(let capability): capability.encodedValue
        case .unknown(_, let value): value
        }
    }
}

extension UpdateMessage {
    func encodeBody(into body: inout [UInt8], context: CodecContext) throws(BGPEncodeError) {
        let withdrawnBytes = try encodePrefixes(withdrawn, family: .ipv4, what: "withdrawn routes")
        let nlriBytes = try encodePrefixes(nlri, family: .ipv4, what: "NLRI")
        var attributeBytes: [UInt8] = []
        var seen = Set<UInt8>()
        for attribute in attributes.sorted(by: { canonicalOrder($0.typeCode) < canonicalOrder($1.typeCode) }) {
            guard seen.insert(attribute.typeCode).inserted else {
                throw BGPEncodeError("UPDATE has attribute \(attribute.typeCode) twice")
            }
            try attribute.encode(into: &attributeBytes, context: context)
        }
        guard withdrawnBytes.count <= 0xFFFF, attributeBytes.count <= 0xFFFF else {
            throw BGPEncodeError("UPDATE is too large")
        }
        body.appendU16(UInt16(withdrawnBytes.count))
        body += withdrawnBytes
        body.appendU16(UInt16(attributeBytes.count))
        body += attributeBytes
        body += nlriBytes
    }
}

/// Prefix length then ⌈length/8⌉ bytes of address, for each prefix.
func encodePrefixes(_ prefixes: [IPPrefix], family: AddressFamily, what: String) throws(BGPEncodeError) -> [UInt8] {
    var bytes: [UInt8] = []
    for prefix in prefixes {
        guard prefix.family == family else { throw BGPEncodeError("\(what): \(prefix) is not \(family.rawValue)") }
        bytes.append(UInt8(prefix.length))
        bytes += prefix.address.bytes.prefix((prefix.length + 7) / 8)
    }
    return bytes
}

/// The number of bytes one prefix takes in NLRI or withdrawn routes.
func encodedPrefixSize(_ prefix: IPPrefix) -> Int { 1 + (prefix.length + 7) / 8 }

extension PathAttribute {
    func encode(into bytes: inout [UInt8], context: CodecContext) throws(BGPEncodeError) {
        let value = try encodedValue(context: context)
        guard value.count <= 0xFFFF else { throw BGPEncodeError("attribute \(typeCode) is over 65535 bytes") }
        if value.count > 255 {
            bytes += [flags | AttributeFlags.extendedLength, typeCode]
            bytes.appendU16(UInt16(value.count))
        } else {
            bytes += [flags, typeCode, UInt8(value.count)]
        }
        bytes += value
    }

    func encodedValue(context: CodecContext) throws(BGPEncodeError) -> [UInt8] {
        var value: [UInt8] = []
        switch self {
        case .origin(let origin): value.append(origin.rawValue)
        case .asPath(let segments):
            value = try encodeASPath(segments, fourOctet: context.fourOctetAS)
        case .nextHop(let address):
            guard address.value != 0 else { throw BGPEncodeError("NEXT_HOP is 0.0.0.0") }
            value = address.bytes
        case .multiExitDisc(let metric): value.appendU32(metric)
        case .localPref(let preference): value.appendU32(preference)
        case .atomicAggregate: break
        case .aggregator(let asn, let address):
            if context.fourOctetAS {
                value.appendU32(asn)
            } else {
                value.appendU16(UInt16(asn > 0xFFFF ? BGPConstants.asTrans : asn))
            }
            value += address.bytes
        case .communities(let communities):
            guard !communities.isEmpty else { throw BGPEncodeError("COMMUNITIES is empty") }
            for community in communities { value.appendU32(community.value) }
        case .largeCommunities(let communities):
            guard !communities.isEmpty else { throw BGPEncodeError("LARGE_COMMUNITY is empty") }
            for community in communities {
                value.appendU32(community.global)
                value.appendU32(community.local1)
                value.appendU32(community.local2)
            }
        case .mpReach(let reach):
            guard let addressFamily = reach.family.addressFamily else {
                throw BGPEncodeError("MP_REACH_NLRI for \(reach.family) is not supported")
            }
            let nextHopBytes = reach.nextHops.flatMap(\.bytes)
            let valid: Bool
            switch (addressFamily, reach.nextHops.map(\.family)) {
            case (.ipv4, [.ipv4]), (.ipv6, [.ipv6]): valid = true
            case (.ipv6, [.ipv6, .ipv6]):
                // A zero link-local next hop makes sessions flap (frr#4940): send 16 bytes instead.
                valid = !reach.nextHops[1].isUnspecified
            default: valid = false
            }
            guard valid, !reach.nextHops[0].isUnspecified else {
                throw BGPEncodeError("MP_REACH_NLRI next hop \(reach.nextHops) is not valid for \(reach.family)")
            }
            value.appendU16(reach.family.afi)
            value.append(reach.family.safi)
            value.append(UInt8(nextHopBytes.count))
            value += nextHopBytes
            value.append(0)
            value += try encodePrefixes(reach.nlri, family: addressFamily, what: "MP_REACH_NLRI")
        case .mpUnreach(let unreach):
            guard let addressFamily = unreach.family.addressFamily else {
                throw BGPEncodeError("MP_UNREACH_NLRI for \(unreach.family) is not supported")
            }
            value.appendU16(unreach.family.afi)
            value.append(unreach.family.safi)
            value += try encodePrefixes(unreach.withdrawn, family: addressFamily, what: "MP_UNREACH_NLRI")
        case .unknown(let flags, let type, let bytes):
            guard
                PathAttribute.requiredFlags(forType: type) == nil || type == PathAttributeType.as4Path.rawValue
                    || type == PathAttributeType.as4Aggregator.rawValue
                    || type == PathAttributeType.originatorID.rawValue
                    || type == PathAttributeType.clusterList.rawValue
            else { throw BGPEncodeError("attribute \(type) must be sent in its typed form") }
            guard flags & AttributeFlags.optional != 0 else {
                throw BGPEncodeError("unknown attribute \(type) is not optional")
            }
            value = bytes
        }
        return value
    }
}

/// AS_PATH segments with 4- or 2-octet ASNs; an ASN above 65535 becomes AS_TRANS in 2-octet form.
func encodeASPath(_ segments: [ASPathSegment], fourOctet: Bool) throws(BGPEncodeError) -> [UInt8] {
    var value: [UInt8] = []
    for segment in segments {
        guard !segment.asns.isEmpty, segment.asns.count <= 255 else {
            throw BGPEncodeError("AS_PATH segment has \(segment.asns.count) ASNs (1…255 allowed)")
        }
        value += [segment.kind.rawValue, UInt8(segment.asns.count)]
        for asn in segment.asns {
            if fourOctet {
                value.appendU32(asn)
            } else {
                value.appendU16(UInt16(asn > 0xFFFF ? BGPConstants.asTrans : asn))
            }
        }
    }
    return value
}

extension [UInt8] {
    mutating func appendU16(_ value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(value & 0xFF))
    }

    mutating func appendU32(_ value: UInt32) {
        append(contentsOf: [
            UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF),
        ])
    }
}
