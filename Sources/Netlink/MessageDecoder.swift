// Pure decoding of rtnetlink replies and events (RTM_NEWLINK/DELLINK, RTM_NEWADDR/DELADDR,
// NLMSG_ERROR with extended ack, NLMSG_DONE) from received bytes. NetlinkSocket and NetlinkMonitor
// feed it what they read; tests feed it captured bytes.
import CMnl
import NetAddress

/// The netlink header fields a reader checks before trusting a message.
struct MessageHeader: Equatable {
    var type: UInt16
    var flags: UInt16
    var sequence: UInt32
    var portID: UInt32
}

/// What one netlink message says, in anycastd's terms.
enum MessageBody: Equatable {
    /// RTM_NEWLINK for a link (AF_UNSPEC family).
    case link(LinkInfo)
    /// RTM_DELLINK.
    case linkRemoved(index: Int32, name: String)
    /// RTM_NEWADDR.
    case address(AddressInfo)
    /// RTM_DELADDR.
    case addressRemoved(AddressInfo)
    /// NLMSG_ERROR: an ACK when errno is 0; `request` is the sequence number it answers.
    case ack(request: UInt32, errno: Int32, extendedMessage: String?)
    /// NLMSG_DONE, ending a dump; errno is non-zero when the dump failed part-way.
    case done(errno: Int32)
    /// Anything else (bridge-port RTM_NEWLINK, NLMSG_NOOP, other families): not for us.
    case ignored
}

/// One decoded message with its header.
struct DecodedMessage: Equatable {
    var header: MessageHeader
    var body: MessageBody
}

/// Decodes rtnetlink messages; never touches a socket.
enum MessageDecoder {
    /// Decodes every whole message in `bytes` (one datagram as read from a netlink socket).
    static func decode(_ bytes: UnsafeRawBufferPointer) -> [DecodedMessage] {
        guard let base = bytes.baseAddress else { return [] }
        var remaining = Int32(clamping: bytes.count)
        var message = base.assumingMemoryBound(to: nlmsghdr.self)
        var result: [DecodedMessage] = []
        while mnl_nlmsg_ok(message, remaining) {
            result.append(decodeOne(message))
            message = UnsafePointer(mnl_nlmsg_next(message, &remaining))
        }
        return result
    }

    /// Decodes every whole message in a byte array (captured bytes in tests).
    static func decode(_ bytes: [UInt8]) -> [DecodedMessage] {
        // Copy into memory aligned for struct nlmsghdr, as a socket buffer would be.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 8)
        defer { buffer.deallocate() }
        buffer.copyBytes(from: bytes)
        return decode(UnsafeRawBufferPointer(buffer))
    }

    private static func decodeOne(_ message: UnsafePointer<nlmsghdr>) -> DecodedMessage {
        let header = MessageHeader(
            type: message.pointee.nlmsg_type, flags: message.pointee.nlmsg_flags,
            sequence: message.pointee.nlmsg_seq, portID: message.pointee.nlmsg_pid)
        let body: MessageBody
        switch Int32(header.type) {
        case NLMSG_ERROR: body = decodeAck(message)
        case NLMSG_DONE:
            let payload = mnl_nlmsg_get_payload_len(message)
            let error = payload >= 4 ? mnl_nlmsg_get_payload(message).loadUnaligned(as: Int32.self) : 0
            body = .done(errno: -error)
        case Int32(RTM_NEWLINK):
            body = decodeLink(message).map { .link($0) } ?? .ignored
        case Int32(RTM_DELLINK):
            body = decodeLink(message).map { .linkRemoved(index: $0.index, name: $0.name) } ?? .ignored
        case Int32(RTM_NEWADDR):
            body = decodeAddress(message).map { .address($0) } ?? .ignored
        case Int32(RTM_DELADDR):
            body = decodeAddress(message).map { .addressRemoved($0) } ?? .ignored
        default: body = .ignored
        }
        return DecodedMessage(header: header, body: body)
    }

    private static func decodeAck(_ message: UnsafePointer<nlmsghdr>) -> MessageBody {
        guard Int(mnl_nlmsg_get_payload_len(message)) >= MemoryLayout<nlmsgerr>.size else {
            return .ack(request: 0, errno: EBADMSG, extendedMessage: "truncated NLMSG_ERROR")
        }
        var text: String?
        var remaining = 0
        if var attribute = acd_ack_first_tlv(message, &remaining) {
            let end = UnsafeRawPointer(attribute) + remaining
            while mnl_attr_ok(attribute, Int32(end - UnsafeRawPointer(attribute))) {
                if attributeType(attribute) == Int(NLMSGERR_ATTR_MSG.rawValue) {
                    text = attributeString(attribute)
                }
                attribute = UnsafePointer(mnl_attr_next(attribute))
            }
        }
        return .ack(
            request: acd_ack_request_seq(message), errno: acd_ack_errno(message),
            extendedMessage: text?.isEmpty == false ? text : nil)
    }

    /// Decodes an ifinfomsg and its attributes; nil for other families (AF_BRIDGE port messages).
    static func decodeLink(_ message: UnsafePointer<nlmsghdr>) -> LinkInfo? {
        let headerSize = MemoryLayout<ifinfomsg>.size
        guard Int(mnl_nlmsg_get_payload_len(message)) >= headerSize else { return nil }
        let ifi = mnl_nlmsg_get_payload(message).loadUnaligned(as: ifinfomsg.self)
        guard ifi.ifi_family == UInt8(AF_UNSPEC) else { return nil }
        var link = LinkInfo(
            index: ifi.ifi_index, name: "", isUp: ifi.ifi_flags & UInt32(IFF_UP) != 0,
            isLowerUp: ifi.ifi_flags & iffLowerUp != 0)
        forEachAttribute(in: message, headerSize: headerSize) { attribute in
            switch attributeType(attribute) {
            case Int(IFLA_IFNAME): link.name = attributeString(attribute)
            case Int(IFLA_LINKINFO):
                forEachNested(in: attribute) { info in
                    if attributeType(info) == Int(IFLA_INFO_KIND) { link.kind = attributeString(info) }
                }
            case Int(IFLA_AF_SPEC): decodeAFSpec(attribute, into: &link)
            default: break
            }
        }
        return link
    }

    /// IFLA_AF_SPEC holds one nest per family: AF_INET → IFLA_INET_CONF (a u32 array indexed by
    /// IPV4_DEVCONF_* − 1), AF_INET6 → IFLA_INET6_ADDR_GEN_MODE.
    private static func decodeAFSpec(_ spec: UnsafePointer<nlattr>, into link: inout LinkInfo) {
        forEachNested(in: spec) { family in
            switch attributeType(family) {
            case Int(AF_INET):
                forEachNested(in: family) { attribute in
                    guard attributeType(attribute) == Int(IFLA_INET_CONF) else { return }
                    let values = attributeBytes(attribute)
                    for key in IPv4DevConf.allCases where key.rawValue * 4 <= values.count {
                        link.ipv4Conf[key] = values.loadUnaligned(
                            fromByteOffset: (key.rawValue - 1) * 4, as: UInt32.self)
                    }
                }
            case Int(AF_INET6):
                forEachNested(in: family) { attribute in
                    if attributeType(attribute) == Int(IFLA_INET6_ADDR_GEN_MODE) {
                        link.ipv6AddrGenMode = attributeU8(attribute)
                    }
                }
            default: break
            }
        }
    }

    /// Decodes an ifaddrmsg and its attributes; nil for families other than IPv4/IPv6 or no address.
    static func decodeAddress(_ message: UnsafePointer<nlmsghdr>) -> AddressInfo? {
        let headerSize = MemoryLayout<ifaddrmsg>.size
        guard Int(mnl_nlmsg_get_payload_len(message)) >= headerSize else { return nil }
        let ifa = mnl_nlmsg_get_payload(message).loadUnaligned(as: ifaddrmsg.self)
        let addressLength: Int
        switch Int32(ifa.ifa_family) {
        case AF_INET: addressLength = 4
        case AF_INET6: addressLength = 16
        default: return nil
        }
        var local: IPAddress?
        var address: IPAddress?
        var flags = UInt32(ifa.ifa_flags)
        var preferred = UInt32.max
        var valid = UInt32.max
        forEachAttribute(in: message, headerSize: headerSize) { attribute in
            let bytes = attributeBytes(attribute)
            switch attributeType(attribute) {
            // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links.
            case Int(IFA_LOCAL) where bytes.count == addressLength: local = IPAddress(bytes: bytes)
            case Int(IFA_ADDRESS) where bytes.count == addressLength: address = IPAddress(bytes: bytes)
            // IFA_FLAGS carries all 32 flag bits; ifa_flags only the low eight.
            case Int(IFA_FLAGS): flags = attributeU32(attribute) ?? flags
            case Int(IFA_CACHEINFO) where bytes.count >= MemoryLayout<ifa_cacheinfo>.size:
                let info = bytes.loadUnaligned(as: ifa_cacheinfo.self)
                preferred = info.ifa_prefered
                valid = info.ifa_valid
            default: break
            }
        }
        guard let chosen = local ?? address, let prefix = IPPrefix(address: chosen, length: Int(ifa.ifa_prefixlen))
        else { return nil }
        return AddressInfo(
            interfaceIndex: Int32(bitPattern: ifa.ifa_index), prefix: prefix, flags: flags,
            preferredLifetime: preferred, validLifetime: valid)
    }
}

/// IFF_LOWER_UP (carrier) from linux/if.h, which cannot be included next to glibc's net/if.h.
let iffLowerUp: UInt32 = 0x1_0000
