// Plain value types for what rtnetlink reports and what anycastd asks of it, in a module of their own that
// does not link libmnl: the Reconciler and AgentCore plan in these terms and build and test without it;
// Netlink (the libmnl shell) re-exports them and turns them into messages.
import NetAddress

/// Per-interface IPv4 settings that anycastd manages (net.ipv4.conf.IF.NAME), as IPV4_DEVCONF_* ids.
public enum IPv4DevConf: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    // Values are the kernel's IPV4_DEVCONF_* enum (linux/ip.h), which IFLA_INET_CONF indexes from 1.
    case rpFilter = 8
    case arpAnnounce = 18
    case arpIgnore = 19

    /// The sysctl name, as in `net.ipv4.conf.IF.rp_filter`.
    public var description: String {
        switch self {
        case .rpFilter: "rp_filter"
        case .arpAnnounce: "arp_announce"
        case .arpIgnore: "arp_ignore"
        }
    }
}

/// A network interface as seen in an RTM_NEWLINK dump or event.
public struct LinkInfo: Sendable, Equatable {
    public var index: Int32
    public var name: String
    /// IFLA_INFO_KIND, such as "dummy" or "veth"; nil for links without one (lo, physical NICs).
    public var kind: String?
    /// IFF_UP: administratively up.
    public var isUp: Bool
    /// IFF_LOWER_UP / operstate: carrier.
    public var isLowerUp: Bool
    /// IFLA_INET6_ADDR_GEN_MODE; 1 (none) means the kernel adds no fe80:: address.
    public var ipv6AddrGenMode: UInt8?
    /// IFLA_INET_CONF values for the settings anycastd manages, when the dump carried them.
    public var ipv4Conf: [IPv4DevConf: UInt32]

    public init(
        index: Int32, name: String, kind: String? = nil, isUp: Bool = false, isLowerUp: Bool = false,
        ipv6AddrGenMode: UInt8? = nil, ipv4Conf: [IPv4DevConf: UInt32] = [:]
    ) {
        self.index = index
        self.name = name
        self.kind = kind
        self.isUp = isUp
        self.isLowerUp = isLowerUp
        self.ipv6AddrGenMode = ipv6AddrGenMode
        self.ipv4Conf = ipv4Conf
    }
}

/// An interface address as seen in an RTM_NEWADDR dump or event.
public struct AddressInfo: Sendable, Equatable, Hashable {
    public var interfaceIndex: Int32
    public var prefix: IPPrefix
    /// IFA_F_* flags (from IFA_FLAGS when present).
    public var flags: UInt32
    /// Seconds; UInt32.max is forever. 0 on IPv6 means deprecated: never chosen as a source address.
    public var preferredLifetime: UInt32
    public var validLifetime: UInt32

    public init(
        interfaceIndex: Int32, prefix: IPPrefix, flags: UInt32 = 0, preferredLifetime: UInt32 = .max,
        validLifetime: UInt32 = .max
    ) {
        self.interfaceIndex = interfaceIndex
        self.prefix = prefix
        self.flags = flags
        self.preferredLifetime = preferredLifetime
        self.validLifetime = validLifetime
    }

    public static let flagNoDAD: UInt32 = 0x02  // IFA_F_NODAD
    public static let flagDeprecated: UInt32 = 0x20  // IFA_F_DEPRECATED
    public static let flagPermanent: UInt32 = 0x80  // IFA_F_PERMANENT
    public static let flagTentative: UInt32 = 0x40  // IFA_F_TENTATIVE
}

/// One change to the host, named by interface name so a plan can refer to a link it creates itself.
public enum NetlinkOperation: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// `ip link add NAME type dummy` with IPv6 addr_gen_mode none (no fe80:: address).
    case createDummy(name: String)
    /// `ip link del NAME`.
    case deleteLink(name: String)
    /// `ip link set NAME up|down`.
    case setLinkUp(name: String, up: Bool)
    /// `ip link set NAME addrgenmode none`: stop the kernel adding an fe80:: address.
    case setAddrGenModeNone(name: String)
    /// net.ipv4.conf.NAME.KEY = VALUE through RTM_SETLINK IFLA_AF_SPEC/AF_INET/IFLA_INET_CONF.
    case setIPv4Conf(name: String, key: IPv4DevConf, value: UInt32)
    /// net.ipv4.conf.all.KEY = VALUE, for opt-in use: written to /proc/sys/net/ipv4/conf/all/KEY, since
    /// rtnetlink has no link called "all" to send RTM_SETLINK to.
    case setIPv4ConfAll(key: IPv4DevConf, value: UInt32)
    /// `ip addr replace PREFIX dev NAME`; IPv6 gets `nodad preferred_lft 0` so it is never a source address.
    case addAddress(name: String, prefix: IPPrefix)
    /// `ip addr del PREFIX dev NAME`.
    case deleteAddress(name: String, prefix: IPPrefix)

    /// The interface the operation acts on, if any.
    public var interfaceName: String? {
        switch self {
        case .createDummy(let name), .deleteLink(let name), .setLinkUp(let name, _), .setAddrGenModeNone(let name),
            .setIPv4Conf(let name, _, _), .addAddress(let name, _), .deleteAddress(let name, _):
            name
        case .setIPv4ConfAll: nil
        }
    }

    /// The operation in `ip` command words, for logs and --dry-run.
    public var description: String {
        switch self {
        case .createDummy(let name): "ip link add \(name) type dummy && ip link set \(name) addrgenmode none"
        case .deleteLink(let name): "ip link del \(name)"
        case .setLinkUp(let name, let up): "ip link set \(name) \(up ? "up" : "down")"
        case .setAddrGenModeNone(let name): "ip link set \(name) addrgenmode none"
        case .setIPv4Conf(let name, let key, let value): "sysctl net.ipv4.conf.\(name).\(key)=\(value)"
        case .setIPv4ConfAll(let key, let value): "sysctl net.ipv4.conf.all.\(key)=\(value)"
        case .addAddress(let name, let prefix):
            prefix.family == .ipv6
                ? "ip addr replace \(prefix) dev \(name) nodad preferred_lft 0"
                : "ip addr replace \(prefix) dev \(name)"
        case .deleteAddress(let name, let prefix): "ip addr del \(prefix) dev \(name)"
        }
    }
}

/// What the kernel reports to a monitor on the link and address groups.
public enum NetlinkEvent: Sendable, Equatable {
    case linkChanged(LinkInfo)
    case linkRemoved(index: Int32, name: String)
    case addressAdded(AddressInfo)
    case addressRemoved(AddressInfo)
    /// The socket overflowed (ENOBUFS): events were lost, the listener must resync fully.
    case overrun
}

/// A netlink failure in the operator's words: the operation, the object, and errno explained.
public struct NetlinkError: Error, Sendable, Equatable, CustomStringConvertible {
    public var operation: String
    public var errno: Int32
    public var message: String

    public init(operation: String, errno: Int32, message: String) {
        self.operation = operation
        self.errno = errno
        self.message = message
    }

    public var description: String { "\(operation): \(message)" }
}
