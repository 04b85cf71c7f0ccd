// The one rule, as a pure function: prefix P of service S goes to peer N if and only if P is in the
// desired state, P is on the anycast interface and the interface is up, S is healthy, neither S nor the
// host is drained (a drain first re-announces with GRACEFUL_SHUTDOWN, RFC 8326), and N is meant to get S.
// Whether N's session is Established is the speaker's business: it sends the set once the session is up.
// Every attribute of a route is decided here, once: next hop (a typed "self" the session resolves, never
// an unspecified-address sentinel), AS path with prepends for eBGP, LOCAL_PREF for iBGP, communities, MED.
// Policies (decided in AgentCore) come in as sets: degraded services get their `degraded` attributes,
// suppressed services are withdrawn, and last-resort prefixes stay announced (degraded) though unhealthy.
import Config
import NetAddress

/// Where a service stands in a drain or stop sequence.
public enum ServicePhase: Sendable, Equatable {
    /// Announced normally (subject to health and address presence).
    case active
    /// Still announced, with GRACEFUL_SHUTDOWN 65535:0 added so routers move traffic away first.
    case gracefulShutdown
    /// Withdrawn on purpose (drained or stopping).
    case withdrawn
}

/// Everything the rule depends on, at one instant.
public struct AnnouncementInputs: Sendable, Equatable {
    public var state: DesiredState
    public var interfaceUp: Bool
    public var presentPrefixes: Set<IPPrefix>
    public var healthyServices: Set<String>
    /// Drain or stop phase per service name; a missing service is active.
    public var phases: [String: ServicePhase]
    /// Services with a failing `onFailure: "degrade"` check: announced with their `degraded` attributes.
    public var degradedServices: Set<String>
    /// Services held withdrawn by flap dampening even while healthy.
    public var suppressedServices: Set<String>
    /// Prefixes kept announced, degraded, as the last resort although their service is unhealthy or suppressed.
    public var lastResort: Set<IPPrefix>

    public init(
        state: DesiredState, interfaceUp: Bool, presentPrefixes: Set<IPPrefix>, healthyServices: Set<String>,
        phases: [String: ServicePhase] = [:], degradedServices: Set<String> = [], suppressedServices: Set<String> = [],
        lastResort: Set<IPPrefix> = []
    ) {
        self.state = state
        self.interfaceUp = interfaceUp
        self.presentPrefixes = presentPrefixes
        self.healthyServices = healthyServices
        self.phases = phases
        self.degradedServices = degradedServices
        self.suppressedServices = suppressedServices
        self.lastResort = lastResort
    }
}

/// The next hop of an announced route.
public enum NextHop: Sendable, Hashable {
    /// The BGP session's own local address (of the prefix's family); only the session knows it.
    case sessionAddress
    /// A configured next hop (`nextHop.ipv4` / `nextHop.ipv6` of the peer).
    case address(IPAddress)
}

/// One route towards one peer, with every attribute decided.
public struct Announcement: Sendable, Hashable {
    public var prefix: IPPrefix
    public var service: String
    public var nextHop: NextHop
    /// One AS_SEQUENCE: the local ASN repeated 1 + prepend times towards eBGP peers, empty towards iBGP.
    public var asPath: [UInt32]
    /// Sent to iBGP peers only (100 there); nil towards eBGP peers.
    public var localPref: UInt32?
    /// Peer then service communities, sorted, without duplicates; GRACEFUL_SHUTDOWN while draining.
    public var communities: [Community]
    public var largeCommunities: [LargeCommunity]
    /// The peer's MED when set (per-uplink preference), else the service's.
    public var med: UInt32?

    public init(
        prefix: IPPrefix, service: String, nextHop: NextHop = .sessionAddress, asPath: [UInt32] = [],
        localPref: UInt32? = nil, communities: [Community] = [], largeCommunities: [LargeCommunity] = [],
        med: UInt32? = nil
    ) {
        self.prefix = prefix
        self.service = service
        self.nextHop = nextHop
        self.asPath = asPath
        self.localPref = localPref
        self.communities = communities
        self.largeCommunities = largeCommunities
        self.med = med
    }
}

/// Why a prefix is or is not announced, for status output and logs.
public struct PrefixVerdict: Sendable, Equatable {
    public var prefix: IPPrefix
    public var service: String
    /// Nil when announced (to every peer meant to get it); otherwise the first failing condition.
    public var blockedBy: String?
    public var gracefulShutdown: Bool
    /// Announced with the service's `degraded` attributes.
    public var degraded = false
    /// Announced only as the last resort (the service is unhealthy or suppressed).
    public var lastResort = false
    /// Blocked only by failed checks or dampening: what `lastResort` may keep announced.
    public var lastResortCandidate = false
}

public enum AnnouncementPlanner {
    /// The routes each configured peer should have now, keyed by peer name (every peer present, maybe empty).
    public static func plan(_ inputs: AnnouncementInputs) -> [String: [IPPrefix: Announcement]] {
        plan(inputs, verdicts: verdicts(inputs))
    }

    /// The routes for verdicts already computed from the same inputs (the rule is evaluated once per pass).
    public static func plan(_ inputs: AnnouncementInputs, verdicts list: [PrefixVerdict]) -> [String: [IPPrefix:
        Announcement]]
    {
        var result: [String: [IPPrefix: Announcement]] = [:]
        for peer in inputs.state.bgp.peers { result[peer.name] = [:] }
        let verdicts = Dictionary(list.map { ($0.prefix, $0) }, uniquingKeysWith: { first, _ in first })
        let localASN = inputs.state.bgp.asn
        for service in inputs.state.services {
            let peers = inputs.state.bgp.peers.filter { service.peers.isEmpty || service.peers.contains($0.name) }
            for prefix in service.prefixes {
                guard let verdict = verdicts[prefix], verdict.blockedBy == nil else { continue }
                let degraded = verdict.degraded ? service.degraded : nil
                for peer in peers where peer.families.contains(prefix.family) {
                    var communities = Set(peer.communities).union(service.communities)
                    if verdict.gracefulShutdown { communities.insert(.gracefulShutdown) }
                    communities.formUnion(degraded?.communities ?? [])
                    let external = peer.asn != localASN
                    // The degraded prepend goes to eBGP peers only: an iBGP router would find its own ASN.
                    let prepend = max(0, peer.asPathPrepend) + (external ? degraded?.asPathPrepend ?? 0 : 0)
                    result[peer.name, default: [:]][prefix] = Announcement(
                        prefix: prefix, service: service.name, nextHop: nextHop(peer, prefix.family),
                        asPath: external ? [UInt32](repeating: localASN, count: 1 + prepend) : [],
                        localPref: external ? nil : 100, communities: communities.sorted(),
                        largeCommunities: Set(peer.largeCommunities).union(service.largeCommunities)
                            .union(degraded?.largeCommunities ?? []).sorted(),
                        med: degraded?.med ?? peer.med ?? service.med)
                }
            }
        }
        return result
    }

    /// The peer's configured next hop for the family, else the session's own address.
    static func nextHop(_ peer: PeerConfig, _ family: AddressFamily) -> NextHop {
        switch family {
        case .ipv4: peer.nextHop.ipv4.map { .address(.v4($0)) } ?? .sessionAddress
        case .ipv6: peer.nextHop.ipv6.map { .address(.v6($0)) } ?? .sessionAddress
        }
    }

    /// The rule evaluated per prefix, with the reason when it is not announced.
    public static func verdicts(_ inputs: AnnouncementInputs) -> [PrefixVerdict] {
        var verdicts: [PrefixVerdict] = []
        for service in inputs.state.services {
            let phase = inputs.phases[service.name] ?? .active
            for prefix in service.prefixes {
                var blockedBy: String?
                var candidate = false
                if phase == .withdrawn {
                    blockedBy = "drained"
                } else if !inputs.interfaceUp {
                    blockedBy = "\(inputs.state.interface.name) is down"
                } else if !inputs.presentPrefixes.contains(prefix) {
                    blockedBy = "address not on \(inputs.state.interface.name)"
                } else if !inputs.healthyServices.contains(service.name) {
                    blockedBy = "service \(service.name) is unhealthy"
                    candidate = true
                } else if inputs.suppressedServices.contains(service.name) {
                    blockedBy = "service \(service.name) is suppressed (flap dampening)"
                    candidate = true
                }
                let kept = candidate && inputs.lastResort.contains(prefix)
                if kept { blockedBy = nil }
                var verdict = PrefixVerdict(
                    prefix: prefix, service: service.name, blockedBy: blockedBy,
                    gracefulShutdown: blockedBy == nil && phase == .gracefulShutdown)
                verdict.lastResortCandidate = candidate
                verdict.lastResort = kept
                verdict.degraded = blockedBy == nil && (kept || inputs.degradedServices.contains(service.name))
                verdicts.append(verdict)
            }
        }
        return verdicts
    }
}
