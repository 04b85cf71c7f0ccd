// Decodes one framed BGP message (from BGPFraming) into a BGPMessage. Errors are BGPDecodeErrors holding
// the NOTIFICATION to send; UPDATE errors that RFC 7606 handles without a reset come back as an
// UpdateDisposition next to the message instead.
// RFC 4271 §4 and §6, RFC 5492, RFC 9072, RFC 6793, RFC 4760, RFC 7606, RFC 8092, RFC 2918, RFC 7313.
import NIOCore
import NetAddress

/// What the session negotiated, which changes how messages are read and written.
public struct CodecContext: Hashable, Sendable {
    /// Both sides sent the 4-octet AS capability: AS_PATH and AGGREGATOR carry 4-octet ASNs.
    public var fourOctetAS: Bool
    /// Families both sides advertised; MP_REACH/MP_UNREACH for any other family are discarded.
    public var families: Set<BGPFamily>
    /// iBGP session (same ASN): LOCAL_PREF is mandatory and kept, confederation segments allowed.
    public var isInternal: Bool

    public init(fourOctetAS: Bool, families: Set<BGPFamily> = [.ipv4Unicast, .ipv6Unicast], isInternal: Bool = false) {
        self.fourOctetAS = fourOctetAS
        self.families = families
        self.isInternal = isInternal
    }
}

/// The context a decoder uses (the same as the encoder's).
public typealias DecodeContext = CodecContext

/// What RFC 7606 says to do with a decoded UPDATE that was not bad enough to reset the session.
public enum UpdateDisposition: Hashable, Sendable {
    /// Everything was fine.
    case normal
    /// Treat every announced prefix in it as withdrawn (RFC 7606 §2); the reason is for the log.
    case treatAsWithdraw(reason: String)
    /// These attribute type codes were malformed or repeated and have been dropped from the message.
    case attributeDiscarded([UInt8])
}

/// A decoded message and, for an UPDATE, what to do with it.
public struct DecodedMessage: Hashable, Sendable {
    /// The message as decoded; for treat-as-withdraw, without the malformed attributes.
    public var message: BGPMessage
    /// `.normal` for everything but UPDATEs with RFC 7606 findings.
    public var disposition: UpdateDisposition

    public init(message: BGPMessage, disposition: UpdateDisposition = .normal) {
        self.message = message
        self.disposition = disposition
    }
}

extension BGPMessage {
    /// Decodes one whole message, header included, as returned by `BGPFraming.nextMessage(in:)`.
    public static func decode(frame: ByteBuffer, context: DecodeContext) throws(BGPDecodeError) -> DecodedMessage {
        try decode(bytes: Array(frame.readableBytesView), context: context)
    }

    /// Decodes one whole message, header included; the header is checked again.
    public static func decode(bytes: [UInt8], context: DecodeContext) throws(BGPDecodeError) -> DecodedMessage {
        guard bytes.count >= BGPConstants.headerLength else {
            throw BGPDecodeError(
                code: 1, subcode: 2, data: [UInt8(bytes.count >> 8 & 0xFF), UInt8(bytes.count & 0xFF)],
                reason: "message header: only \(bytes.count) bytes")
        }
        let length = try BGPFraming.checkHeader(Array(bytes[0..<BGPConstants.headerLength]))
        let lengthField = [bytes[16], bytes[17]]
        guard length == bytes.count else {
            throw BGPDecodeError(
                code: 1, subcode: 2, data: lengthField,
                reason: "message header: length field \(length) but the frame has \(bytes.count) bytes")
        }
        var body = ByteReader(bytes, from: BGPConstants.headerLength)
        func badLength(_ what: String) -> BGPDecodeError {
            BGPDecodeError(code: 1, subcode: 2, data: lengthField, reason: "\(what): bad message length \(length)")
        }
        switch bytes[18] {
        case 1:
            guard length >= 29 else { throw badLength("OPEN") }
            return DecodedMessage(message: .open(try OpenMessage.decode(&body, lengthField: lengthField)))
        case 2:
            guard length >= 23 else { throw badLength("UPDATE") }
            let (update, disposition) = try UpdateMessage.decode(&body, context: context)
            return DecodedMessage(message: .update(update), disposition: disposition)
        case 3:
            guard length >= 21 else { throw badLength("NOTIFICATION") }
            let code = body.u8()!
            let subcode = body.u8()!
            return DecodedMessage(
                message: .notification(NotificationMessage(code: code, subcode: subcode, data: body.rest())))
        case 4:
            guard length == 19 else { throw badLength("KEEPALIVE") }
            return DecodedMessage(message: .keepalive)
        default:
            // RFC 7313 §5: a ROUTE-REFRESH of the wrong length gets 7/1 with the whole message as data.
            guard length == 23 else {
                throw BGPDecodeError(
                    code: 7, subcode: 1, data: bytes, reason: "ROUTE-REFRESH: bad message length \(length)")
            }
            let afi = body.u16()!
            let subtype = body.u8()!
            let safi = body.u8()!
            return DecodedMessage(
                message: .routeRefresh(RouteRefreshMessage(family: BGPFamily(afi: afi, safi: safi), subtype: subtype)))
        }
    }
}

extension OpenMessage {
    static func decode(_ body: inout ByteReader, lengthField: [UInt8]) throws(BGPDecodeError) -> OpenMessage {
        let version = body.u8()!
        let myAS = body.u16()!
        let holdTime = body.u16()!
        let identifier = IPv4Address(body.u32()!)
        var optionalLength = Int(body.u8()!)
        guard version == BGPConstants.version else {
            throw BGPDecodeError(
                code: 2, subcode: 1, data: [0, BGPConstants.version],
                reason: "OPEN: version \(version), only version 4 is supported")
        }
        guard myAS != 0 else { throw BGPDecodeError(code: 2, subcode: 2, reason: "OPEN: My AS is 0") }
        guard holdTime == 0 || holdTime >= 3 else {
            throw BGPDecodeError(code: 2, subcode: 6, reason: "OPEN: hold time \(holdTime) s (must be 0 or at least 3)")
        }
        guard identifier.value != 0 else {
            throw BGPDecodeError(code: 2, subcode: 3, reason: "OPEN: BGP identifier is 0.0.0.0")
        }
        // RFC 9072: Non-Ext OP Len 255 followed by Non-Ext OP Type 255 announces 2-byte lengths.
        var extended = false
        if optionalLength == 255, body.peek() == 255 {
            _ = body.u8()
            guard let length = body.u16() else {
                throw BGPDecodeError(
                    code: 1, subcode: 2, data: lengthField,
                    reason: "OPEN: truncated extended optional parameters length")
            }
            optionalLength = Int(length)
            extended = true
        }
        guard body.remaining == optionalLength else {
            throw BGPDecodeError(
                code: 1, subcode: 2, data: lengthField,
                reason: "OPEN: optional parameters length \(optionalLength) but \(body.remaining) bytes follow")
        }
        var capabilities: [Capability] = []
        while body.remaining > 0 {
            let type = body.u8()!
            guard let length = extended ? body.u16().map(Int.init) : body.u8().map(Int.init),
                let value = body.bytes(length)
            else {
                throw BGPDecodeError(
                    code: 2, subcode: 0, reason: "OPEN: optional parameter \(type) overruns the message")
            }
            guard type == 2 else {
                throw BGPDecodeError(code: 2, subcode: 4, reason: "OPEN: unsupported optional parameter type \(type)")
            }
            capabilities += try Capability.decodeList(value)
        }
        if let asn = capabilities.lazy.compactMap({ if case .fourOctetAS(let asn) = $0 { asn } else { nil } }).first,
            asn == 0
        {
            throw BGPDecodeError(code: 2, subcode: 2, reason: "OPEN: 4-octet AS capability carries AS 0")
        }
        return OpenMessage(
            version: version, myAS: myAS, holdTime: holdTime, identifier: identifier, capabilities: capabilities)
    }
}

extension Capability {
    /// Decodes the capabilities packed in one Capabilities optional parameter.
    static func decodeList(_ bytes: [UInt8]) throws(BGPDecodeError) -> [Capability] {
        var reader = ByteReader(bytes)
        var result: [Capability] = []
        while reader.remaining > 0 {
            let code = reader.u8()!
            guard let length = reader.u8(), let value = reader.bytes(Int(length)) else {
                throw BGPDecodeError(code: 2, subcode: 0, reason: "OPEN: capability \(code) overruns its parameter")
            }
            result.append(Capability(code: code, value: value))
        }
        return result
    }

    /// A capability from its code and value; a known code with a value of the wrong size stays unknown.
    init(code: UInt8, value: [UInt8]) {
        switch (code, value.count) {
        case (1, 4):
            self = .multiprotocol(BGPFamily(afi: UInt16(value[0]) << 8 | UInt16(value[1]), safi: value[3]))
        case (2, 0): self = .routeRefresh
        case (70, 0): self = .enhancedRouteRefresh
        case (65, 4): self = .fourOctetAS(value.reduce(0) { $0 << 8 | UInt32($1) })
        case (64, _):
            if let capability = GracefulRestartCapability(value: value) {
                self = .gracefulRestart(capability)
            } else {
                self = .unknown(code: code, value: value)
            }
        default: self = .unknown(code: code, value: value)
        }
    }
}

extension UpdateMessage {
    static func decode(
        _ body: inout ByteReader, context: DecodeContext
    ) throws(BGPDecodeError) -> (UpdateMessage, UpdateDisposition) {
        let withdrawnLength = Int(body.u16()!)
        guard let withdrawnBytes = body.bytes(withdrawnLength) else {
            throw BGPDecodeError(
                code: 3, subcode: 1, reason: "UPDATE: withdrawn routes length \(withdrawnLength) overruns the message")
        }
        guard let attributesLength = body.u16().map(Int.init) else {
            throw BGPDecodeError(code: 3, subcode: 1, reason: "UPDATE: no room for the total path attribute length")
        }
        guard let attributeBytes = body.bytes(attributesLength) else {
            throw BGPDecodeError(
                code: 3, subcode: 1,
                reason: "UPDATE: total path attribute length \(attributesLength) overruns the message")
        }
        let withdrawn = try decodePrefixes(withdrawnBytes, family: .ipv4, what: "withdrawn routes")
        let nlri = try decodePrefixes(body.rest(), family: .ipv4, what: "NLRI")
        var parser = AttributeParser(context: context)
        try parser.parse(attributeBytes)
        let attributes = parser.attributes.sorted { canonicalOrder($0.typeCode) < canonicalOrder($1.typeCode) }
        let update = UpdateMessage(withdrawn: withdrawn, attributes: attributes, nlri: nlri)

        var problems = parser.withdrawReasons
        if !update.announcedPrefixes.isEmpty {
            var missing: [String] = []
            if update.attribute(.origin) == nil { missing.append("ORIGIN") }
            if update.attribute(.asPath) == nil { missing.append("AS_PATH") }
            if !nlri.isEmpty && update.attribute(.nextHop) == nil { missing.append("NEXT_HOP") }
            if context.isInternal && update.attribute(.localPref) == nil { missing.append("LOCAL_PREF") }
            if !missing.isEmpty { problems.append("missing well-known attribute " + missing.joined(separator: ", ")) }
        }
        if !problems.isEmpty { return (update, .treatAsWithdraw(reason: problems.joined(separator: "; "))) }
        if !parser.discarded.isEmpty { return (update, .attributeDiscarded(parser.discarded)) }
        return (update, .normal)
    }
}

/// MP_REACH_NLRI and MP_UNREACH_NLRI first, then ascending type code (RFC 7606 §5.1).
func canonicalOrder(_ type: UInt8) -> Int {
    type == PathAttributeType.mpReachNLRI.rawValue || type == PathAttributeType.mpUnreachNLRI.rawValue
        ? Int(type) - 256 : Int(type)
}

/// Decodes a run of (length, prefix) pairs; any syntax error is Invalid Network Field (3/10), a session
/// reset per RFC 7606 §5.3 because the prefixes cannot be told apart any more.
func decodePrefixes(_ bytes: [UInt8], family: AddressFamily, what: String) throws(BGPDecodeError) -> [IPPrefix] {
    var reader = ByteReader(bytes)
    var result: [IPPrefix] = []
    let width = family == .ipv4 ? 4 : 16
    while reader.remaining > 0 {
        let length = Int(reader.u8()!)
        guard length <= width * 8 else {
            throw BGPDecodeError(code: 3, subcode: 10, reason: "UPDATE: \(what): prefix length \(length) is too long")
        }
        guard let significant = reader.bytes((length + 7) / 8) else {
            throw BGPDecodeError(code: 3, subcode: 10, reason: "UPDATE: \(what): prefix /\(length) overruns the field")
        }
        let address = IPAddress(bytes: significant + [UInt8](repeating: 0, count: width - significant.count))!
        result.append(IPPrefix(address: address, length: length)!)
    }
    return result
}

/// Walks the path attribute section applying RFC 7606 to each attribute.
private struct AttributeParser {
    let context: DecodeContext
    var attributes: [PathAttribute] = []
    var seen = Set<UInt8>()
    var discarded: [UInt8] = []
    var withdrawReasons: [String] = []

    init(context: DecodeContext) { self.context = context }

    mutating func parse(_ bytes: [UInt8]) throws(BGPDecodeError) {
        var reader = ByteReader(bytes)
        while reader.remaining > 0 {
            let start = reader.index
            // RFC 7606 §4: a header or value running past the section is treat-as-withdraw; the Total
            // Attribute Length still locates the NLRI.
            guard reader.remaining >= 3 else {
                withdrawReasons.append("path attributes end inside an attribute header")
                return
            }
            let flags = reader.u8()!
            let type = reader.u8()!
            guard
                let length = flags & AttributeFlags.extendedLength != 0
                    ? reader.u16().map(Int.init) : reader.u8().map(Int.init)
            else {
                withdrawReasons.append("path attributes end inside the header of attribute \(type)")
                return
            }
            guard let value = reader.bytes(length) else {
                withdrawReasons.append("attribute \(type) length \(length) overruns the path attributes")
                return
            }
            let raw = Array(bytes[start..<reader.index])
            if seen.contains(type) {
                // RFC 7606 §3g: a repeated MP attribute resets; any other repeat keeps the first.
                if type == PathAttributeType.mpReachNLRI.rawValue || type == PathAttributeType.mpUnreachNLRI.rawValue {
                    throw BGPDecodeError(code: 3, subcode: 1, reason: "UPDATE: attribute \(type) appears twice")
                }
                if !discarded.contains(type) { discarded.append(type) }
                continue
            }
            seen.insert(type)
            try decodeOne(flags: flags, type: type, value: value, raw: raw)
        }
    }

    mutating func withdraw(_ reason: String) { withdrawReasons.append(reason) }

    mutating func discard(_ type: UInt8) { if !discarded.contains(type) { discarded.append(type) } }

    mutating func decodeOne(flags: UInt8, type: UInt8, value: [UInt8], raw: [UInt8]) throws(BGPDecodeError) {
        guard let required = PathAttribute.requiredFlags(forType: type) else {
            guard flags & AttributeFlags.optional != 0 else {
                throw BGPDecodeError(
                    code: 3, subcode: 2, data: raw, reason: "UPDATE: unrecognized well-known attribute \(type)")
            }
            // Unknown optional attributes are kept, never a reason to reset (RFC 4271 §5, RFC 7606).
            attributes.append(.unknown(flags: flags & ~AttributeFlags.extendedLength, type: type, value: value))
            return
        }
        let kind = PathAttributeType(rawValue: type)!
        if flags & (AttributeFlags.optional | AttributeFlags.transitive) != required {
            withdraw("attribute \(type) has flags 0x\(hex([flags]))")
        }
        let fourOctet = context.fourOctetAS
        switch kind {
        case .origin:
            guard value.count == 1, let origin = Origin(rawValue: value[0]) else {
                return withdraw("ORIGIN is malformed (\(hex(value)))")
            }
            attributes.append(.origin(origin))
        case .asPath:
            guard let segments = decodeASPath(value, asnSize: fourOctet ? 4 : 2) else {
                return withdraw("AS_PATH is malformed (\(hex(value.prefix(32))))")
            }
            if !context.isInternal, segments.contains(where: { $0.kind == .confedSet || $0.kind == .confedSequence }) {
                return withdraw("AS_PATH from an external peer has confederation segments")
            }
            attributes.append(.asPath(segments))
        case .nextHop:
            guard value.count == 4 else { return withdraw("NEXT_HOP length \(value.count)") }
            let address = IPv4Address(bytes: value)
            guard address.value != 0, address.value >> 28 < 0xE else {
                return withdraw("NEXT_HOP \(address) is not a unicast address")
            }
            attributes.append(.nextHop(address))
        case .multiExitDisc:
            guard value.count == 4 else { return withdraw("MULTI_EXIT_DISC length \(value.count)") }
            attributes.append(.multiExitDisc(u32(value, 0)))
        case .localPref:
            guard context.isInternal else { return discard(type) }  // RFC 7606 §7.5
            guard value.count == 4 else { return withdraw("LOCAL_PREF length \(value.count)") }
            attributes.append(.localPref(u32(value, 0)))
        case .atomicAggregate:
            guard value.isEmpty else { return discard(type) }
            attributes.append(.atomicAggregate)
        case .aggregator:
            let size = fourOctet ? 8 : 6
            guard value.count == size else { return discard(type) }
            let asn = fourOctet ? u32(value, 0) : UInt32(value[0]) << 8 | UInt32(value[1])
            attributes.append(.aggregator(asn: asn, address: IPv4Address(bytes: value[(size - 4)...])))
        case .communities:
            guard !value.isEmpty, value.count % 4 == 0 else { return withdraw("COMMUNITIES length \(value.count)") }
            attributes.append(.communities(stride(from: 0, to: value.count, by: 4).map { Community(u32(value, $0)) }))
        case .largeCommunities:
            guard !value.isEmpty, value.count % 12 == 0 else {
                return withdraw("LARGE_COMMUNITY length \(value.count)")
            }
            attributes.append(
                .largeCommunities(
                    stride(from: 0, to: value.count, by: 12).map {
                        LargeCommunity(global: u32(value, $0), local1: u32(value, $0 + 4), local2: u32(value, $0 + 8))
                    }))
        case .originatorID, .clusterList:
            // RFC 7606 §7.9/§7.10: route-reflector attributes from outside are dropped.
            guard context.isInternal else { return discard(type) }
            let valid = kind == .originatorID ? value.count == 4 : !value.isEmpty && value.count % 4 == 0
            guard valid else { return withdraw("attribute \(type) length \(value.count)") }
            attributes.append(.unknown(flags: flags & ~AttributeFlags.extendedLength, type: type, value: value))
        case .as4Path, .as4Aggregator:
            // RFC 6793 §6: discarded between two 4-octet speakers, and when malformed.
            let valid = kind == .as4Aggregator ? value.count == 8 : decodeASPath(value, asnSize: 4) != nil
            guard !fourOctet, valid else { return discard(type) }
            attributes.append(.unknown(flags: flags & ~AttributeFlags.extendedLength, type: type, value: value))
        case .mpReachNLRI, .mpUnreachNLRI:
            try decodeMultiprotocol(kind: kind, value: value, raw: raw)
        }
    }

    /// RFC 7606 §7.11/§7.12: a malformed MP attribute resets the session (we do not disable families);
    /// one for a family that was not negotiated is dropped.
    mutating func decodeMultiprotocol(kind: PathAttributeType, value: [UInt8], raw: [UInt8]) throws(BGPDecodeError) {
        let name = kind == .mpReachNLRI ? "MP_REACH_NLRI" : "MP_UNREACH_NLRI"
        func malformed(_ why: String) -> BGPDecodeError {
            BGPDecodeError(code: 3, subcode: 9, data: raw, reason: "UPDATE: \(name) \(why)")
        }
        var reader = ByteReader(value)
        guard let afi = reader.u16(), let safi = reader.u8() else { throw malformed("is too short") }
        let family = BGPFamily(afi: afi, safi: safi)
        guard context.families.contains(family), let addressFamily = family.addressFamily else {
            return discard(kind.rawValue)
        }
        if kind == .mpUnreachNLRI {
            let withdrawn = try decodePrefixes(reader.rest(), family: addressFamily, what: name)
            attributes.append(.mpUnreach(MPUnreachNLRI(family: family, withdrawn: withdrawn)))
            return
        }
        guard let nextHopLength = reader.u8(), let nextHopBytes = reader.bytes(Int(nextHopLength)),
            reader.u8() != nil
        else { throw malformed("is truncated") }
        var nextHops: [IPAddress]
        switch (addressFamily, nextHopBytes.count) {
        case (.ipv4, 4), (.ipv6, 16): nextHops = [IPAddress(bytes: nextHopBytes)!]
        case (.ipv6, 32):
            // An all-zero link-local half carries nothing (and trips peers, frr#4940): keep the global only.
            let linkLocal = IPAddress(bytes: nextHopBytes[16..<32])!
            nextHops = [IPAddress(bytes: nextHopBytes[0..<16])!] + (linkLocal.isUnspecified ? [] : [linkLocal])
        default: throw malformed("has a \(nextHopBytes.count)-byte next hop for \(family)")
        }
        if nextHops[0].isUnspecified { withdraw("\(name) next hop is unspecified") }
        let nlri = try decodePrefixes(reader.rest(), family: addressFamily, what: name)
        attributes.append(.mpReach(MPReachNLRI(family: family, nextHops: nextHops, nlri: nlri)))
    }
}

/// AS_PATH segments, or nil when malformed (unknown segment type, empty segment, overrun).
func decodeASPath(_ bytes: [UInt8], asnSize: Int) -> [ASPathSegment]? {
    var reader = ByteReader(bytes)
    var segments: [ASPathSegment] = []
    while reader.remaining > 0 {
        guard let rawKind = reader.u8(), let kind = ASPathSegment.Kind(rawValue: rawKind), let count = reader.u8(),
            count > 0, let asnBytes = reader.bytes(Int(count) * asnSize)
        else { return nil }
        let asns = stride(from: 0, to: asnBytes.count, by: asnSize).map { offset in
            asnBytes[offset..<offset + asnSize].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        }
        segments.append(ASPathSegment(kind, asns))
    }
    return segments
}

private func u32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
}

/// A bounds-checked cursor over bytes; every read returns nil instead of running past the end.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var index: Int

    init(_ bytes: [UInt8], from index: Int = 0) {
        self.bytes = bytes
        self.index = index
    }

    var remaining: Int { bytes.count - index }

    func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func u8() -> UInt8? {
        guard remaining >= 1 else { return nil }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func u16() -> UInt16? {
        guard remaining >= 2 else { return nil }
        defer { index += 2 }
        return UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])
    }

    mutating func u32() -> UInt32? {
        guard remaining >= 4 else { return nil }
        defer { index += 4 }
        return bytes[index..<index + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func bytes(_ count: Int) -> [UInt8]? {
        guard count >= 0, remaining >= count else { return nil }
        defer { index += count }
        return Array(bytes[index..<index + count])
    }

    mutating func rest() -> [UInt8] {
        defer { index = bytes.count }
        return Array(bytes[index...])
    }
}
