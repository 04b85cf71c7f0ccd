// Peer groups and peer profiles, checked after the peers (and again after the services) are decoded.
//
// A group is a set of peers that must carry identical announcements: Azure Route Server's two instances,
// say, which route a virtual network's VMs inconsistently when one of them has a route the other lacks.
// So the per-peer attributes that shape an announcement (families, next hop, prepend, MED, communities)
// must be equal across a group, and a service that names peers must name all of a group or none of it.
//
// A profile is the known rule set of the router on the far side. "azure-route-server" follows Azure's
// published behaviour (documentation, FAQ and limits, 2025): ASN 65515, eBGP multihop only, a 2-octet
// host ASN other than 65515 and 65517-65520, IPv4 only, no MD5, no BFD, fixed 60 s / 180 s timers, only
// AS-path length compared, at most 1,000 routes per peer. What Azure would refuse is an error; what it
// would ignore or cut short is a warning (`anycastd check` prints warnings and still exits 0).
import NetAddress

extension ConfigDecoder {
    /// Azure Route Server's own ASN.
    static let azureRouteServerASN: UInt32 = 65515
    /// Local ASNs Azure reserves for itself (65515 and 65517-65520).
    static let azureReservedASNs: Set<UInt32> = [65515, 65517, 65518, 65519, 65520]
    /// Routes Azure Route Server accepts from one peer (limits page; its FAQ says 4,000).
    static let azureRouteLimit = 1000
    /// NO_ADVERTISE (RFC 1997), the one community Azure Route Server acts on.
    static let noAdvertise = Community(0xFFFF_FF02)

    /// One peer as written: the decoded value, its JSON object and its path.
    private struct PeerSource {
        var peer: PeerConfig
        var node: JSONNode
        var path: JSONPath
    }

    /// Checks groups and profiles over the decoded peers; `peerNodes` are the `bgp.peers` elements.
    func checkPeerGroups(
        _ config: BGPConfig, localASN: Located<UInt32>?, peerNodes: [JSONNode], peersPath: JSONPath
    ) {
        let sources = peerSources(config, peerNodes: peerNodes, peersPath: peersPath)
        checkGroupAttributes(sources)
        let azure = sources.filter { $0.peer.profile == .azureRouteServer }
        guard !azure.isEmpty else { return }
        if let localASN {
            let names = azure.map { quoteJSONString($0.peer.name) }.joined(separator: ", ")
            let peers = azure.count > 1 ? "peers" : "peer"
            let who = "Azure Route Server (profile \"azure-route-server\" on \(peers) \(names))"
            if localASN.value > 65535 {
                report(
                    localASN.position, localASN.path,
                    "\(localASN.value) is a 4-octet ASN; \(who) accepts only a 2-octet ASN (1 to 65535) "
                        + "other than 65515 and 65517 to 65520")
            } else if Self.azureReservedASNs.contains(localASN.value) {
                report(
                    localASN.position, localASN.path,
                    "ASN \(localASN.value) is reserved by Azure (65515, 65517 to 65520); \(who) refuses it")
            }
        }
        for source in azure { checkAzurePeer(source) }
    }

    /// The decoded peers matched to their JSON objects by name (invalid elements were already reported).
    private func peerSources(_ config: BGPConfig, peerNodes: [JSONNode], peersPath: JSONPath) -> [PeerSource] {
        var byName: [String: PeerConfig] = [:]
        for peer in config.peers where byName[peer.name] == nil { byName[peer.name] = peer }
        var sources: [PeerSource] = []
        for (index, node) in peerNodes.enumerated() {
            guard case .string(let name)? = Self.member(node, "name")?.value.value, let peer = byName[name] else {
                continue
            }
            byName[name] = nil  // a duplicate name is reported elsewhere; check the first one only
            sources.append(PeerSource(peer: peer, node: node, path: peersPath.appending(index)))
        }
        return sources
    }

    /// Every peer of a group must shape its announcements like the group's first peer does.
    private func checkGroupAttributes(_ sources: [PeerSource]) {
        var first: [String: PeerSource] = [:]
        for source in sources {
            guard let group = source.peer.group else { continue }
            guard let reference = first[group] else {
                first[group] = source
                continue
            }
            let attributes: [(key: String, describe: (PeerConfig) -> String)] = [
                ("profile", { $0.profile?.rawValue ?? "none" }),
                ("families", { $0.families.map { "\"\($0.rawValue)\"" }.joined(separator: ", ") }),
                ("nextHop", { Self.describe($0.nextHop) }),
                ("asPathPrepend", { "\($0.asPathPrepend)" }),
                ("med", { $0.med.map { "\($0)" } ?? "none" }),
                ("communities", { Self.describe($0.communities) }),
                ("largeCommunities", { Self.describe($0.largeCommunities) }),
            ]
            for (key, describe) in attributes {
                let mine = describe(source.peer)
                let theirs = describe(reference.peer)
                guard mine != theirs else { continue }
                let at = Self.member(source.node, key) ?? Self.member(source.node, "group")
                report(
                    at?.value.position ?? source.node.position,
                    source.path.appending(at?.key ?? "group"),
                    "peer \(quoteJSONString(source.peer.name)) of group \(quoteJSONString(group)) has \(key) \(mine) "
                        + "but peer \(quoteJSONString(reference.peer.name)) has \(theirs); peers of a group get "
                        + "identical announcements, so set \(key) alike on every peer of the group")
            }
        }
    }

    /// The azure-route-server rules for one peer's own keys.
    private func checkAzurePeer(_ source: PeerSource) {
        let peer = source.peer
        let name = quoteJSONString(peer.name)
        func at(_ key: String) -> (position: SourcePosition, path: JSONPath)? {
            Self.member(source.node, key).map { ($0.value.position, source.path.appending(key)) }
        }
        if peer.asn != Self.azureRouteServerASN, let place = at("asn") {
            report(place.position, place.path, "Azure Route Server's ASN is 65515, not \(peer.asn) (peer \(name))")
        }
        if peer.address.family == .ipv6, let place = at("address") {
            report(place.position, place.path, "Azure Route Server peers over IPv4 only (peer \(name))")
        }
        if case .array(let elements)? = Self.member(source.node, "families")?.value.value {
            for (index, element) in elements.enumerated() {
                guard case .string("ipv6") = element.value else { continue }
                report(
                    element.position, source.path.appending("families").appending(index),
                    "Azure Route Server takes IPv4 routes only; remove \"ipv6\" (peer \(name))")
            }
        } else if peer.families.contains(.ipv6), let place = at("nextHop") {
            report(
                place.position, place.path,
                "an IPv6 next hop makes the peer carry IPv6, which Azure Route Server does not take; "
                    + "remove nextHop.ipv6 or set families to [\"ipv4\"] (peer \(name))")
        }
        if let place = at("passwordFile") {
            report(place.position, place.path, "Azure Route Server does not support TCP MD5 passwords (peer \(name))")
        }
        if peer.multihop == 1, let place = at("multihop") {
            report(
                place.position, place.path,
                "Azure Route Server needs eBGP multihop: use 2 or more, or leave multihop out for the "
                    + "profile's default 2 (peer \(name))")
        }
        if peer.ttlSecurity, let place = at("ttlSecurity") {
            report(
                place.position, place.path,
                "ttlSecurity accepts only directly connected peers; Azure Route Server is reached by eBGP "
                    + "multihop (peer \(name))")
        }
        if let place = at("bfd") {
            report(place.position, place.path, "Azure Route Server does not support BFD (peer \(name))")
        }
        if let holdTime = peer.holdTime, holdTime != .seconds(180), let place = at("holdTime") {
            warn(
                place.position, place.path,
                "Azure Route Server uses fixed timers (keepalive 60s, hold 180s); hold time "
                    + "\(formatDuration(holdTime)) is not what it will run (peer \(name))")
        }
        if let place = at("med") {
            warn(
                place.position, place.path,
                "Azure Route Server ignores MED; only AS-path length prefers a path (peer \(name))")
        }
        if case .array(let elements)? = Self.member(source.node, "communities")?.value.value {
            for (index, element) in elements.enumerated() {
                guard case .string(let text) = element.value, parseCommunity(text) != Self.noAdvertise else {
                    continue
                }
                warn(
                    element.position, source.path.appending("communities").appending(index),
                    "Azure Route Server acts on no community but NO_ADVERTISE (65535:65282); \(text) has no "
                        + "effect there (peer \(name))")
            }
        }
        if let place = at("largeCommunities") {
            warn(place.position, place.path, "Azure Route Server acts on no large community (peer \(name))")
        }
    }

    /// The checks that need the services: a group is selected whole or not at all, and what the
    /// services add for an azure-route-server peer (MED, communities, the route count).
    func checkPeerGroupServices(
        _ state: DesiredState, servicesNode: JSONNode?, servicesPath: JSONPath, drainNode: JSONNode?,
        drainPath: JSONPath, peerNodes: [JSONNode], peersPath: JSONPath
    ) {
        let sources = peerSources(state.bgp, peerNodes: peerNodes, peersPath: peersPath)
        var groups: [String: [String]] = [:]
        for source in sources {
            if let group = source.peer.group { groups[group, default: []].append(source.peer.name) }
        }
        let azure = sources.filter { $0.peer.profile == .azureRouteServer }
        guard !groups.isEmpty || !azure.isEmpty else { return }
        let byName = Dictionary(state.services.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var serviceNodes: [(ServiceConfig, JSONNode, JSONPath)] = []
        if case .array(let elements)? = servicesNode?.value {
            for (index, node) in elements.enumerated() {
                guard case .string(let name)? = Self.member(node, "name")?.value.value, let service = byName[name]
                else { continue }
                serviceNodes.append((service, node, servicesPath.appending(index)))
            }
        }
        for (service, node, path) in serviceNodes where !service.peers.isEmpty {
            guard let selected = Self.member(node, "peers") else { continue }
            for (group, members) in groups.sorted(by: { $0.key < $1.key }) {
                let named = members.filter { service.peers.contains($0) }
                let missing = members.filter { !service.peers.contains($0) }
                guard !named.isEmpty, !missing.isEmpty else { continue }
                report(
                    selected.value.position, path.appending("peers"),
                    "service \(quoteJSONString(service.name)) names \(named.map(quoteJSONString).joined(separator: ", ")) "
                        + "but not \(missing.map(quoteJSONString).joined(separator: ", ")) of group "
                        + "\(quoteJSONString(group)); peers of a group get identical announcements, so name all of "
                        + "them or none")
            }
        }
        guard !azure.isEmpty else { return }
        func receivers(_ service: ServiceConfig) -> [PeerSource] {
            azure.filter { service.peers.isEmpty || service.peers.contains($0.peer.name) }
        }
        for (service, node, path) in serviceNodes {
            let to = receivers(service)
            guard !to.isEmpty else { continue }
            let names = to.map { quoteJSONString($0.peer.name) }.joined(separator: ", ")
            if let med = Self.member(node, "med") {
                warn(
                    med.value.position, path.appending("med"),
                    "Azure Route Server (peer \(names)) ignores MED; only AS-path length prefers a path")
            }
            if case .array(let elements)? = Self.member(node, "communities")?.value.value {
                for (index, element) in elements.enumerated() {
                    guard case .string(let text) = element.value, parseCommunity(text) != Self.noAdvertise else {
                        continue
                    }
                    warn(
                        element.position, path.appending("communities").appending(index),
                        "Azure Route Server (peer \(names)) acts on no community but NO_ADVERTISE (65535:65282); "
                            + "\(text) has no effect there")
                }
            }
            if let large = Self.member(node, "largeCommunities") {
                warn(
                    large.value.position, path.appending("largeCommunities"),
                    "Azure Route Server (peer \(names)) acts on no large community")
            }
        }
        for source in azure {
            let count = Set(
                state.services.filter { $0.peers.isEmpty || $0.peers.contains(source.peer.name) }
                    .flatMap(\.prefixes).filter { $0.address.family == .ipv4 }
            ).count
            guard count > Self.azureRouteLimit, let profile = Self.member(source.node, "profile") else { continue }
            warn(
                profile.value.position, source.path.appending("profile"),
                "peer \(quoteJSONString(source.peer.name)) would be sent \(count) IPv4 prefixes; Azure Route Server "
                    + "accepts at most \(Self.azureRouteLimit) routes per peer (the limits page; 4,000 in its FAQ)")
        }
        if state.drain.gracefulShutdown {
            let at = Self.member(drainNode, "gracefulShutdown")
            let (position, path) =
                at.map { ($0.value.position, drainPath.appending("gracefulShutdown")) }
                ?? (
                    Self.member(azure[0].node, "profile")?.value.position ?? azure[0].node.position,
                    azure[0].path.appending("profile")
                )
            warn(
                position, path,
                "Azure Route Server ignores GRACEFUL_SHUTDOWN (65535:0), so a drain only withdraws after "
                    + "drain.delay; set drain.gracefulShutdown to false to withdraw at once")
        }
    }

    /// The member `key` of an object node, nil for anything else.
    private static func member(_ node: JSONNode?, _ key: String) -> JSONMember? {
        guard case .object(let members)? = node?.value else { return nil }
        return members.first { $0.key == key }
    }

    private static func describe(_ nextHop: NextHopConfig) -> String {
        let parts = [nextHop.ipv4.map { "ipv4 \($0)" }, nextHop.ipv6.map { "ipv6 \($0)" }].compactMap { $0 }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }

    private static func describe<Element: CustomStringConvertible & Comparable>(_ values: [Element]) -> String {
        values.isEmpty ? "none" : values.sorted().map(\.description).joined(separator: ", ")
    }
}
