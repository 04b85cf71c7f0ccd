// The one rule, as a pure function: prefix P of service S goes to peer N if and only if P is in the
// desired state, P is on the anycast interface and the interface is up, S is healthy, neither S nor the
// host is drained (a drain first re-announces with GRACEFUL_SHUTDOWN, RFC 8326), and N is meant to get S.
// Whether N's session is Established is the speaker's business: it sends the set once the session is up.
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

    public init(
        state: DesiredState, interfaceUp: Bool, presentPrefixes: Set<IPPrefix>, healthyServices: Set<String>,
        phases: [String: ServicePhase] = [:]
    ) {
        self.state = state
        self.interfaceUp = interfaceUp
        self.presentPrefixes = presentPrefixes
        self.healthyServices = healthyServices
        self.phases = phases
    }
}

/// One route as the service and peer configuration describe it; the speaker adds next hop and AS path.
public struct Announcement: Sendable, Hashable {
    public var prefix: IPPrefix
    public var service: String
    /// Peer then service communities, sorted, without duplicates; GRACEFUL_SHUTDOWN while draining.
    public var communities: [Community]
    public var largeCommunities: [LargeCommunity]
    /// The peer's MED when set (per-uplink preference), else the service's.
    public var med: UInt32?

    public init(
        prefix: IPPrefix, service: String, communities: [Community] = [], largeCommunities: [LargeCommunity] = [],
        med: UInt32? = nil
    ) {
        self.prefix = prefix
        self.service = service
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
}

public enum AnnouncementPlanner {
    /// The routes each configured peer should have now, keyed by peer name (every peer present, maybe empty).
    public static func plan(_ inputs: AnnouncementInputs) -> [String: [IPPrefix: Announcement]] {
        var result: [String: [IPPrefix: Announcement]] = [:]
        for peer in inputs.state.bgp.peers { result[peer.name] = [:] }
        let verdicts = Dictionary(verdicts(inputs).map { ($0.prefix, $0) }, uniquingKeysWith: { first, _ in first })
        for service in inputs.state.services {
            let peers = inputs.state.bgp.peers.filter { service.peers.isEmpty || service.peers.contains($0.name) }
            for prefix in service.prefixes {
                guard let verdict = verdicts[prefix], verdict.blockedBy == nil else { continue }
                for peer in peers where peer.families.contains(prefix.family) {
                    var communities = Set(peer.communities).union(service.communities)
                    if verdict.gracefulShutdown { communities.insert(.gracefulShutdown) }
                    result[peer.name, default: [:]][prefix] = Announcement(
                        prefix: prefix, service: service.name, communities: communities.sorted(),
                        largeCommunities: Set(peer.largeCommunities).union(service.largeCommunities).sorted(),
                        med: peer.med ?? service.med)
                }
            }
        }
        return result
    }

    /// The rule evaluated per prefix, with the reason when it is not announced.
    public static func verdicts(_ inputs: AnnouncementInputs) -> [PrefixVerdict] {
        var verdicts: [PrefixVerdict] = []
        for service in inputs.state.services {
            let phase = inputs.phases[service.name] ?? .active
            for prefix in service.prefixes {
                var blockedBy: String?
                if phase == .withdrawn {
                    blockedBy = "drained"
                } else if !inputs.interfaceUp {
                    blockedBy = "\(inputs.state.interface.name) is down"
                } else if !inputs.presentPrefixes.contains(prefix) {
                    blockedBy = "address not on \(inputs.state.interface.name)"
                } else if !inputs.healthyServices.contains(service.name) {
                    blockedBy = "service \(service.name) is unhealthy"
                }
                verdicts.append(
                    PrefixVerdict(
                        prefix: prefix, service: service.name, blockedBy: blockedBy,
                        gracefulShutdown: blockedBy == nil && phase == .gracefulShutdown))
            }
        }
        return verdicts
    }
}
