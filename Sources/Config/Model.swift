// The desired-state model: what /etc/anycastd/anycastd.json says, after parsing, defaults and validation.
// Every other module reads these values; only the reader in this module creates them from a file.
import NetAddress

/// The whole desired state of one host.
public struct DesiredState: Sendable, Equatable {
    public var interface: InterfaceConfig
    /// A file without a `bgp` section gives ASN 0, router ID 0.0.0.0 and no peers: addresses only, nothing announced.
    public var bgp: BGPConfig
    public var services: [ServiceConfig]
    public var drain: DrainConfig
    public var control: ControlConfig
    public var metrics: MetricsConfig
    /// Where anycastd keeps state across restarts (drains, addresses it added). Default `/var/lib/anycastd`.
    public var stateDirectory: String

    public init(
        interface: InterfaceConfig, bgp: BGPConfig, services: [ServiceConfig], drain: DrainConfig = .init(),
        control: ControlConfig = .init(), metrics: MetricsConfig = .init(), stateDirectory: String = "/var/lib/anycastd"
    ) {
        self.interface = interface
        self.bgp = bgp
        self.services = services
        self.drain = drain
        self.control = control
        self.metrics = metrics
        self.stateDirectory = stateDirectory
    }

    /// Every prefix of every service, sorted, without duplicates.
    public var allPrefixes: [IPPrefix] { Array(Set(services.flatMap(\.prefixes))).sorted() }
}

/// How the anycast interface is provided.
public enum InterfaceKind: String, Sendable, Equatable {
    /// A dummy link that anycastd creates and owns completely.
    case dummy
    /// An interface that must already exist (such as `lo`); only addresses anycastd added are removed.
    case existing
}

/// Per-interface IPv4 settings (net.ipv4.conf.IF.*) applied to the anycast interface and the uplinks.
public struct InterfaceSysctl: Sendable, Equatable {
    /// arp_ignore; default 1 (reply only for addresses on the receiving interface).
    public var arpIgnore: Int
    /// arp_announce; default 2 (use the best local address for the target).
    public var arpAnnounce: Int
    /// rp_filter; default 2 (loose), so asymmetric anycast paths are not dropped.
    public var rpFilter: Int
    /// When true, anycastd also lowers `net.ipv4.conf.all` values that defeat the per-interface ones.
    public var setAll: Bool

    public init(arpIgnore: Int = 1, arpAnnounce: Int = 2, rpFilter: Int = 2, setAll: Bool = false) {
        self.arpIgnore = arpIgnore
        self.arpAnnounce = arpAnnounce
        self.rpFilter = rpFilter
        self.setAll = setAll
    }
}

public struct InterfaceConfig: Sendable, Equatable {
    /// Interface name, at most 15 bytes. Default `anycast0`.
    public var name: String
    public var kind: InterfaceKind
    /// Interfaces toward the routers; anycastd only sets the per-interface settings on them.
    public var uplinks: [String]
    public var sysctl: InterfaceSysctl

    public init(
        name: String = "anycast0", kind: InterfaceKind = .dummy, uplinks: [String] = [],
        sysctl: InterfaceSysctl = .init()
    ) {
        self.name = name
        self.kind = kind
        self.uplinks = uplinks
        self.sysctl = sysctl
    }
}

public struct BFDConfig: Sendable, Equatable {
    public var minInterval: Duration
    public var multiplier: Int
    /// Sign and check every BFD packet (RFC 5880 §6.7); nil: no authentication.
    public var authentication: BFDAuthenticationConfig?

    public init(
        minInterval: Duration = .milliseconds(300), multiplier: Int = 3,
        authentication: BFDAuthenticationConfig? = nil
    ) {
        self.minInterval = minInterval
        self.multiplier = multiplier
        self.authentication = authentication
    }
}

/// BFD authentication: the type, the key's ID, and the file holding the key (read when the session starts,
/// like `passwordFile`, so the key is not in the configuration).
public struct BFDAuthenticationConfig: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// Keyed SHA1 (RFC 5880 §6.7.4): the sequence number may repeat.
        case keyedSHA1 = "keyed-sha1"
        /// Meticulous Keyed SHA1: the sequence number increases with every packet, so none can be replayed.
        case meticulousKeyedSHA1 = "meticulous-keyed-sha1"
    }

    public var kind: Kind
    public var keyID: Int
    public var keyFile: String

    public init(kind: Kind, keyID: Int = 1, keyFile: String) {
        self.kind = kind
        self.keyID = keyID
        self.keyFile = keyFile
    }
}

public struct NextHopConfig: Sendable, Equatable {
    public var ipv4: IPv4Address?
    public var ipv6: IPv6Address?

    public init(ipv4: IPv4Address? = nil, ipv6: IPv6Address? = nil) {
        self.ipv4 = ipv4
        self.ipv6 = ipv6
    }
}

public struct PeerConfig: Sendable, Equatable {
    /// Unique name used by services and in logs.
    public var name: String
    public var address: IPAddress
    public var asn: UInt32
    public var localAddress: IPAddress?
    /// Only wait for the router to connect in.
    public var passive: Bool
    /// TTL of outgoing BGP packets; 1 is directly connected eBGP. Default 1 (255 for iBGP unless ttlSecurity).
    public var multihop: Int
    /// GTSM (RFC 5082): send TTL 255 and require 255 on receive. The reader rejects it with multihop > 1.
    public var ttlSecurity: Bool
    /// File holding the TCP MD5 password (RFC 2385); never logged.
    public var passwordFile: String?
    /// Hold time offered to this peer; default the global one. 0 or at least 3 s.
    public var holdTime: Duration?
    /// Address families to negotiate. The reader's default is the session's own family, plus the other
    /// family when `nextHop` has an address for it (a family over the other transport needs that next hop).
    public var families: [AddressFamily]
    public var nextHop: NextHopConfig
    /// How many extra times the local ASN is prepended.
    public var asPathPrepend: Int
    public var med: UInt32?
    public var communities: [Community]
    public var largeCommunities: [LargeCommunity]
    public var bfd: BFDConfig?
    /// TCP port of the peer; default 179.
    public var port: Int
    /// The most prefixes of one family the peer may announce before the session is reset with Cease/1
    /// (RFC 4486); nil for the speaker's default (100,000).
    public var maxPrefixes: UInt32?
    /// Graceful Restart (RFC 4724) towards this peer, replacing `bgp.gracefulRestart`; nil uses that one.
    public var gracefulRestart: GracefulRestartConfig?

    public init(
        name: String, address: IPAddress, asn: UInt32, localAddress: IPAddress? = nil, passive: Bool = false,
        multihop: Int = 1, ttlSecurity: Bool = false, passwordFile: String? = nil, holdTime: Duration? = nil,
        families: [AddressFamily] = [.ipv4, .ipv6], nextHop: NextHopConfig = .init(), asPathPrepend: Int = 0,
        med: UInt32? = nil, communities: [Community] = [], largeCommunities: [LargeCommunity] = [],
        bfd: BFDConfig? = nil, port: Int = 179
    ) {
        self.name = name
        self.address = address
        self.asn = asn
        self.localAddress = localAddress
        self.passive = passive
        self.multihop = multihop
        self.ttlSecurity = ttlSecurity
        self.passwordFile = passwordFile
        self.holdTime = holdTime
        self.families = families
        self.nextHop = nextHop
        self.asPathPrepend = asPathPrepend
        self.med = med
        self.communities = communities
        self.largeCommunities = largeCommunities
        self.bfd = bfd
        self.port = port
    }
}

/// BGP Graceful Restart (RFC 4724), restarting-speaker side: how long routers keep this host's routes
/// (stale) after its sessions end without a NOTIFICATION.
public struct GracefulRestartConfig: Sendable, Equatable {
    /// The restart time advertised in the capability: 1 to 4095 whole seconds.
    public var restartTime: Duration

    public init(restartTime: Duration = .seconds(120)) { self.restartTime = restartTime }
}

public struct BGPConfig: Sendable, Equatable {
    public var asn: UInt32
    public var routerId: IPv4Address
    /// Default hold time offered to peers; default 90 s.
    public var holdTime: Duration
    public var peers: [PeerConfig]
    /// Graceful Restart for every peer unless a peer sets its own; nil (the default) is off.
    public var gracefulRestart: GracefulRestartConfig?

    /// The Graceful Restart settings in effect for `peer`: its own, else the global ones, else nil (off).
    public func gracefulRestart(for peer: PeerConfig) -> GracefulRestartConfig? {
        peer.gracefulRestart ?? gracefulRestart
    }

    public init(asn: UInt32, routerId: IPv4Address, holdTime: Duration = .seconds(90), peers: [PeerConfig] = []) {
        self.asn = asn
        self.routerId = routerId
        self.holdTime = holdTime
        self.peers = peers
    }
}

public enum CheckKind: Sendable, Equatable {
    /// A UDP DNS query; up when an answer with one of `rcodes` arrives in time.
    case dns(server: IPAddress?, port: Int, name: String, type: String, rcodes: [String])
    /// A TCP connect.
    case tcp(address: IPAddress, port: Int)
    /// A program run without a shell; exit status 0 is up.
    case exec(command: [String])
}

public struct CheckConfig: Sendable, Equatable {
    public var kind: CheckKind
    /// Default 1 s.
    public var interval: Duration
    /// Default 500 ms; must be below the interval.
    public var timeout: Duration
    /// Successes in a row to become up; default 2.
    public var rise: Int
    /// Failures in a row to become down; default 2.
    public var fall: Int

    public init(
        kind: CheckKind, interval: Duration = .seconds(1), timeout: Duration = .milliseconds(500), rise: Int = 2,
        fall: Int = 2
    ) {
        self.kind = kind
        self.interval = interval
        self.timeout = timeout
        self.rise = rise
        self.fall = fall
    }
}

public struct ServiceConfig: Sendable, Equatable {
    public var name: String
    /// Host prefixes only (/32, /128).
    public var prefixes: [IPPrefix]
    /// Names of the peers that get this service's routes; empty means all peers.
    public var peers: [String]
    /// All must be up for the service to be up. No checks means always up.
    public var checks: [CheckConfig]
    public var communities: [Community]
    public var largeCommunities: [LargeCommunity]
    public var med: UInt32?

    public init(
        name: String, prefixes: [IPPrefix], peers: [String] = [], checks: [CheckConfig] = [],
        communities: [Community] = [], largeCommunities: [LargeCommunity] = [], med: UInt32? = nil
    ) {
        self.name = name
        self.prefixes = prefixes
        self.peers = peers
        self.checks = checks
        self.communities = communities
        self.largeCommunities = largeCommunities
        self.med = med
    }
}

public struct DrainConfig: Sendable, Equatable {
    /// How long to wait after withdrawing (and after GRACEFUL_SHUTDOWN) before going further. Default 2 s.
    public var delay: Duration
    /// Re-announce with GRACEFUL_SHUTDOWN 65535:0 before withdrawing. Default true.
    public var gracefulShutdown: Bool

    public init(delay: Duration = .seconds(2), gracefulShutdown: Bool = true) {
        self.delay = delay
        self.gracefulShutdown = gracefulShutdown
    }
}

public struct ControlConfig: Sendable, Equatable {
    /// Unix socket for `anycastd status/drain/undrain`. Default `/run/anycastd/anycastd.sock`.
    public var socket: String

    public init(socket: String = "/run/anycastd/anycastd.sock") { self.socket = socket }
}

public struct MetricsConfig: Sendable, Equatable {
    /// `HOST:PORT` for the Prometheus endpoint, or nil for none.
    public var listen: String?

    public init(listen: String? = nil) { self.listen = listen }
}
