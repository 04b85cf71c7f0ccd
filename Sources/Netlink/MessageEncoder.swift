// Pure encoding of the rtnetlink requests anycastd sends (links, addresses, devconf, dumps) into
// message bytes with libmnl's mnl_nlmsg_* / mnl_attr_* helpers. NetlinkSocket puts these into batches.
import CMnl
import NetAddress

/// One rtnetlink request, with interfaces already resolved where the kernel needs an index.
enum NetlinkRequest: Equatable {
    /// RTM_NEWLINK, NLM_F_CREATE|NLM_F_EXCL, IFLA_LINKINFO/IFLA_INFO_KIND `kind`.
    case newLink(name: String, kind: String)
    /// RTM_DELLINK by IFLA_IFNAME.
    case deleteLink(name: String)
    /// RTM_NEWLINK by IFLA_IFNAME with ifi_change IFF_UP.
    case setLinkUp(name: String, up: Bool)
    /// RTM_SETLINK IFLA_AF_SPEC/AF_INET6/IFLA_INET6_ADDR_GEN_MODE = IN6_ADDR_GEN_MODE_NONE.
    case setAddrGenModeNone(name: String)
    /// RTM_SETLINK IFLA_AF_SPEC/AF_INET/IFLA_INET_CONF/{key: value}.
    case setIPv4Conf(name: String, key: IPv4DevConf, value: UInt32)
    /// RTM_NEWADDR NLM_F_CREATE|NLM_F_REPLACE; IPv6 gets nodad and preferred lifetime 0.
    case newAddress(index: Int32, prefix: IPPrefix)
    /// RTM_DELADDR.
    case deleteAddress(index: Int32, prefix: IPPrefix)
    /// RTM_GETLINK for one link by IFLA_IFNAME.
    case getLink(name: String)
    /// RTM_GETLINK dump.
    case dumpLinks
    /// RTM_GETADDR dump of both families; `index` other than 0 asks for that link's addresses only (the
    /// kernel filters when the socket has NETLINK_GET_STRICT_CHK, Linux 4.20 and later).
    case dumpAddresses(index: Int32 = 0)
}

/// Builds request messages; never touches a socket.
enum MessageEncoder {
    /// Room one request needs at most (headers, a 15-byte name, nests); callers reserve this much.
    static let maximumMessageSize = 256

    /// IN6_ADDR_GEN_MODE_NONE from linux/if_link.h: the kernel adds no link-local address.
    static let addrGenModeNone: UInt8 = 1

    /// Writes `request` with sequence number `sequence` at `buffer` (which must hold
    /// `maximumMessageSize` bytes) and returns its length.
    static func encode(_ request: NetlinkRequest, sequence: UInt32, into buffer: UnsafeMutableRawPointer) -> Int {
        let message = mnl_nlmsg_put_header(buffer)!
        message.pointee.nlmsg_seq = sequence
        let request_ = Int32(NLM_F_REQUEST)
        let ack = Int32(NLM_F_ACK)
        switch request {
        case .newLink(let name, let kind):
            setHeader(message, type: RTM_NEWLINK, flags: request_ | ack | Int32(NLM_F_CREATE) | Int32(NLM_F_EXCL))
            putLinkHeader(message)
            putName(message, name)
            let info = mnl_attr_nest_start(message, UInt16(IFLA_LINKINFO))
            mnl_attr_put_strz(message, UInt16(IFLA_INFO_KIND), kind)
            mnl_attr_nest_end(message, info)
        case .deleteLink(let name):
            setHeader(message, type: RTM_DELLINK, flags: request_ | ack)
            putLinkHeader(message)
            putName(message, name)
        case .setLinkUp(let name, let up):
            setHeader(message, type: RTM_NEWLINK, flags: request_ | ack)
            let ifi = putLinkHeader(message)
            ifi.pointee.ifi_change = UInt32(IFF_UP)
            ifi.pointee.ifi_flags = up ? UInt32(IFF_UP) : 0
            putName(message, name)
        case .setAddrGenModeNone(let name):
            setHeader(message, type: RTM_SETLINK, flags: request_ | ack)
            putLinkHeader(message)
            putName(message, name)
            let spec = mnl_attr_nest_start(message, UInt16(IFLA_AF_SPEC))
            let inet6 = mnl_attr_nest_start(message, UInt16(AF_INET6))
            mnl_attr_put_u8(message, UInt16(IFLA_INET6_ADDR_GEN_MODE), addrGenModeNone)
            mnl_attr_nest_end(message, inet6)
            mnl_attr_nest_end(message, spec)
        case .setIPv4Conf(let name, let key, let value):
            setHeader(message, type: RTM_SETLINK, flags: request_ | ack)
            putLinkHeader(message)
            putName(message, name)
            let spec = mnl_attr_nest_start(message, UInt16(IFLA_AF_SPEC))
            let inet = mnl_attr_nest_start(message, UInt16(AF_INET))
            let conf = mnl_attr_nest_start(message, UInt16(IFLA_INET_CONF))
            mnl_attr_put_u32(message, UInt16(key.rawValue), value)
            mnl_attr_nest_end(message, conf)
            mnl_attr_nest_end(message, inet)
            mnl_attr_nest_end(message, spec)
        case .newAddress(let index, let prefix):
            setHeader(message, type: RTM_NEWADDR, flags: request_ | ack | Int32(NLM_F_CREATE) | Int32(NLM_F_REPLACE))
            putAddressHeader(message, index: index, prefix: prefix)
        case .deleteAddress(let index, let prefix):
            setHeader(message, type: RTM_DELADDR, flags: request_ | ack)
            putAddressHeader(message, index: index, prefix: prefix)
        case .getLink(let name):
            setHeader(message, type: RTM_GETLINK, flags: request_ | ack)
            putLinkHeader(message)
            mnl_attr_put_u32(message, UInt16(IFLA_EXT_MASK), UInt32(RTEXT_FILTER_SKIP_STATS))
            putName(message, name)
        case .dumpLinks:
            setHeader(message, type: RTM_GETLINK, flags: request_ | Int32(NLM_F_DUMP))
            putLinkHeader(message)
            mnl_attr_put_u32(message, UInt16(IFLA_EXT_MASK), UInt32(RTEXT_FILTER_SKIP_STATS))
        case .dumpAddresses(let index):
            setHeader(message, type: RTM_GETADDR, flags: request_ | Int32(NLM_F_DUMP))
            let ifa = mnl_nlmsg_put_extra_header(message, MemoryLayout<ifaddrmsg>.size)!
                .assumingMemoryBound(to: ifaddrmsg.self)
            ifa.pointee.ifa_family = UInt8(AF_UNSPEC)
            ifa.pointee.ifa_index = UInt32(bitPattern: index)
        }
        return Int(message.pointee.nlmsg_len)
    }

    /// `request` as a byte array, for tests and for single requests.
    static func encode(_ request: NetlinkRequest, sequence: UInt32) -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: maximumMessageSize, alignment: 8)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        let length = encode(request, sequence: sequence, into: buffer.baseAddress!)
        return Array(buffer[..<length])
    }

    private static func setHeader(_ message: UnsafeMutablePointer<nlmsghdr>, type: Int, flags: Int32) {
        message.pointee.nlmsg_type = UInt16(type)
        message.pointee.nlmsg_flags = UInt16(flags)
    }

    @discardableResult
    private static func putLinkHeader(_ message: UnsafeMutablePointer<nlmsghdr>) -> UnsafeMutablePointer<ifinfomsg> {
        let ifi = mnl_nlmsg_put_extra_header(message, MemoryLayout<ifinfomsg>.size)!
            .assumingMemoryBound(to: ifinfomsg.self)
        ifi.pointee.ifi_family = UInt8(AF_UNSPEC)
        return ifi
    }

    private static func putName(_ message: UnsafeMutablePointer<nlmsghdr>, _ name: String) {
        precondition(name.utf8.count < Int(IFNAMSIZ), "interface names are checked before encoding")
        mnl_attr_put_strz(message, UInt16(IFLA_IFNAME), name)
    }

    /// ifaddrmsg plus addresses, as `ip addr replace` sends them: IPv4 with IFA_LOCAL and IFA_ADDRESS;
    /// IPv6 with IFA_ADDRESS, IFA_F_NODAD (no duplicate address detection, so it is usable at once)
    /// and preferred lifetime 0 / valid forever, which the kernel shows as "deprecated": the address
    /// answers but is never chosen as a source address for the host's own connections.
    private static func putAddressHeader(_ message: UnsafeMutablePointer<nlmsghdr>, index: Int32, prefix: IPPrefix) {
        let isAdd = Int(message.pointee.nlmsg_type) == Int(RTM_NEWADDR)
        let ifa = mnl_nlmsg_put_extra_header(message, MemoryLayout<ifaddrmsg>.size)!
            .assumingMemoryBound(to: ifaddrmsg.self)
        ifa.pointee.ifa_family = UInt8(prefix.family == .ipv4 ? AF_INET : AF_INET6)
        ifa.pointee.ifa_prefixlen = UInt8(prefix.length)
        ifa.pointee.ifa_scope = UInt8(RT_SCOPE_UNIVERSE.rawValue)
        ifa.pointee.ifa_index = UInt32(bitPattern: index)
        let bytes = prefix.address.bytes
        bytes.withUnsafeBytes { raw in
            if prefix.family == .ipv4 {
                mnl_attr_put(message, UInt16(IFA_LOCAL), raw.count, raw.baseAddress)
            }
            mnl_attr_put(message, UInt16(IFA_ADDRESS), raw.count, raw.baseAddress)
        }
        guard isAdd, prefix.family == .ipv6 else { return }
        ifa.pointee.ifa_flags = UInt8(IFA_F_NODAD)
        mnl_attr_put_u32(message, UInt16(IFA_FLAGS), UInt32(IFA_F_NODAD))
        var cacheInfo = ifa_cacheinfo(ifa_prefered: 0, ifa_valid: .max, cstamp: 0, tstamp: 0)
        withUnsafeBytes(of: &cacheInfo) { raw in
            mnl_attr_put(message, UInt16(IFA_CACHEINFO), raw.count, raw.baseAddress)
        }
    }
}
