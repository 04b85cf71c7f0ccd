// Decodes the `bgp` section: the local speaker and its peers, with the checks a router operator would
// make before bringing a session up (RFC 4271 hold time, RFC 6793/7607 ASNs, RFC 5082 GTSM, next hops
// for the address family that does not match the session's transport).
import NetAddress

extension ConfigDecoder {
    static let peerKeys = ConfigKeys.peer

    func decodeBGP(_ node: JSONNode, _ path: JSONPath) -> BGPConfig? {
        guard let view = object(node, path, known: ConfigKeys.bgp) else { return nil }
        let asn = required(view, "asn", asnValue)
        let routerId = required(view, "routerId", ipv4Address)
        if let routerId, routerId.value.isUnspecified {
            report(routerId.position, routerId.path, "router ID must not be 0.0.0.0")
        }
        var config = BGPConfig(asn: asn?.value ?? 0, routerId: routerId?.value ?? IPv4Address(0))
        if let holdTime = field(view, "holdTime", holdTime) { config.holdTime = holdTime.value }
        if let node = view["gracefulRestart"] {
            config.gracefulRestart = decodeGracefulRestart(node, path.appending("gracefulRestart"))
        }

        if let peers = field(view, "peers", array) {
            var names: [Located<String>] = []
            var addresses: [Located<IPAddress>] = []
            for element in peers.value {
                guard let decoded = decodePeer(element.node, element.path, localASN: asn?.value) else { continue }
                config.peers.append(decoded.peer)
                if let name = decoded.name { names.append(name) }
                if let address = decoded.address { addresses.append(address) }
            }
            reportDuplicates(names, what: "peer name", describe: quoteJSONString)
            reportDuplicates(addresses, what: "peer address")
        }
        return config
    }

    private func asnValue(_ node: JSONNode, _ path: JSONPath) -> UInt32? {
        // 0 and 23456 get their own explanation; everything else outside 1...2^32-1 is plainly out of range.
        if case .number(let text) = node.value, let value = Int64(text), let problem = asnProblem(value) {
            report(node.position, path, problem)
            return nil
        }
        return integer(node, path, in: 1...Int64(UInt32.max)).map { UInt32($0) }
    }

    /// RFC 4271 section 4.2: 0 (no keepalives) or 3 to 65535 seconds, in whole seconds.
    private func holdTime(_ node: JSONNode, _ path: JSONPath) -> Duration? {
        guard let value = duration(.zero...Duration.seconds(65535))(node, path) else { return nil }
        let milliseconds = wholeMilliseconds(value) ?? 0
        if milliseconds % 1000 != 0 || (milliseconds > 0 && milliseconds < 3000) {
            report(
                node.position, path,
                "hold time must be 0s (no keepalives) or 3s to 65535s in whole seconds (RFC 4271), "
                    + "got \(formatDuration(value))")
            return nil
        }
        return value
    }

    private func decodePeer(
        _ node: JSONNode, _ path: JSONPath, localASN: UInt32?
    ) -> (peer: PeerConfig, name: Located<String>?, address: Located<IPAddress>?)? {
        guard let view = object(node, path, known: Self.peerKeys) else { return nil }
        let name = required(view, "name", objectName("peer"))
        let address = required(view, "address", peerAddress)
        let asn = required(view, "asn", asnValue)
        var peer = PeerConfig(
            name: name?.value ?? "", address: address?.value ?? .v4(IPv4Address(0)), asn: asn?.value ?? 0)
        let sessionFamily = address?.value.family

        if let local = field(view, "localAddress", ipAddress) {
            if let address, local.value.family != address.value.family {
                report(
                    local.position, local.path,
                    "localAddress \(local.value) is \(familyName(local.value.family)) but the peer address "
                        + "\(address.value) is \(familyName(address.value.family))")
            }
            peer.localAddress = local.value
        }
        if let passive = field(view, "passive", bool) { peer.passive = passive.value }
        let ttlSecurity = field(view, "ttlSecurity", bool)
        peer.ttlSecurity = ttlSecurity?.value ?? false
        let multihop = field(view, "multihop", int(1...255))
        if let multihop {
            // GTSM (RFC 5082) as modelled here requires TTL 255 on receive, which only a directly
            // connected router can deliver; a multihop session with GTSM would never come up.
            if peer.ttlSecurity, multihop.value > 1 {
                report(
                    multihop.position, multihop.path,
                    "multihop \(multihop.value) cannot be combined with ttlSecurity, which accepts only directly "
                        + "connected peers (TTL 255 on receive, RFC 5082); remove one of them")
            }
            peer.multihop = multihop.value
        } else {
            // eBGP peers are normally directly connected; iBGP peers usually are not (loopback to loopback).
            let iBGP = localASN != nil && asn?.value == localASN
            peer.multihop = iBGP && !peer.ttlSecurity ? 255 : 1
        }
        if let passwordFile = field(view, "passwordFile", absolutePath) { peer.passwordFile = passwordFile.value }
        if let holdTime = field(view, "holdTime", holdTime) { peer.holdTime = holdTime.value }
        if let nextHopNode = view["nextHop"] {
            peer.nextHop = decodeNextHop(nextHopNode, path.appending("nextHop")) ?? .init()
        }

        if let families = field(view, "families", list(choice(["ipv4", "ipv6"]))) {
            if families.value.isEmpty, case .array(let elements) = view["families"]?.value, elements.isEmpty {
                report(families.position, families.path, "families must not be empty; list \"ipv4\", \"ipv6\" or both")
            }
            reportDuplicates(families.value, what: "family", describe: quoteJSONString)
            var seen: Set<AddressFamily> = []
            peer.families = []
            for family in families.value {
                guard let value = AddressFamily(rawValue: family.value), seen.insert(value).inserted else { continue }
                peer.families.append(value)
                if let sessionFamily {
                    checkCrossFamilyNextHop(value, over: sessionFamily, nextHop: peer.nextHop, at: family)
                }
            }
        } else if let sessionFamily {
            // Without an explicit list: the session's own family, plus the other family when a next hop
            // for it is configured (announcing it without one would be rejected or blackholed).
            peer.families = AddressFamily.allCases.filter { family in
                family == sessionFamily || (family == .ipv4 ? peer.nextHop.ipv4 != nil : peer.nextHop.ipv6 != nil)
            }
        }

        if let prepend = field(view, "asPathPrepend", int(0...10)) { peer.asPathPrepend = prepend.value }
        if let med = field(view, "med", uint32) { peer.med = med.value }
        if let limit = field(view, "maxPrefixes", int(1...Int(UInt32.max))) { peer.maxPrefixes = UInt32(limit.value) }
        if let communities = field(view, "communities", list(community)) {
            reportDuplicates(communities.value, what: "community")
            peer.communities = communities.value.map(\.value)
        }
        if let large = field(view, "largeCommunities", list(largeCommunity)) {
            reportDuplicates(large.value, what: "large community")
            peer.largeCommunities = large.value.map(\.value)
        }
        if let port = field(view, "port", int(1...65535)) { peer.port = port.value }
        if let node = view["gracefulRestart"] {
            peer.gracefulRestart = decodeGracefulRestart(node, path.appending("gracefulRestart"))
        }
        if let bfdNode = view["bfd"] {
            peer.bfd = decodeBFD(bfdNode, path.appending("bfd"))
            // RFC 5881 single hop: the packets leave from the session's own address with TTL 255.
            if peer.bfd != nil, peer.localAddress == nil {
                report(
                    bfdNode.position, path.appending("bfd"),
                    "BFD needs localAddress: its packets are sent from, and expected at, that address")
            }
            if peer.bfd != nil, peer.multihop > 1 {
                report(
                    bfdNode.position, path.appending("bfd"),
                    "BFD runs single-hop (RFC 5881) only; a multihop \(peer.multihop) session cannot use it")
            }
        }
        return (peer, name, address)
    }

    /// A peer address must be a unicast address reachable without an interface scope.
    private func peerAddress(_ node: JSONNode, _ path: JSONPath) -> IPAddress? {
        guard let address = ipAddress(node, path) else { return nil }
        if case .v6(let v6) = address, v6.isLinkLocal {
            report(
                node.position, path,
                "link-local peer address \(address) needs an interface scope, which is not supported; "
                    + "use a global address")
            return nil
        }
        return address
    }

    /// Announcing family F over a session of the other family needs an explicit next hop of family F,
    /// since the session's own addresses cannot serve as one.
    private func checkCrossFamilyNextHop(
        _ family: AddressFamily, over session: AddressFamily, nextHop: NextHopConfig, at location: Located<String>
    ) {
        if family == .ipv6, session == .ipv4, nextHop.ipv6 == nil {
            report(
                location.position, location.path,
                "family \"ipv6\" needs nextHop.ipv6 to announce IPv6 over an IPv4 session")
        }
        if family == .ipv4, session == .ipv6, nextHop.ipv4 == nil {
            report(
                location.position, location.path,
                "family \"ipv4\" needs nextHop.ipv4 to announce IPv4 over an IPv6 session")
        }
    }

    private func decodeNextHop(_ node: JSONNode, _ path: JSONPath) -> NextHopConfig? {
        guard let view = object(node, path, known: ConfigKeys.nextHop) else { return nil }
        var nextHop = NextHopConfig()
        if let ipv4 = field(view, "ipv4", ipv4Address) {
            if ipv4.value.isUnspecified {
                report(ipv4.position, ipv4.path, "next hop must not be 0.0.0.0")
            }
            nextHop.ipv4 = ipv4.value
        }
        if let ipv6 = field(view, "ipv6", ipv6Address) {
            if ipv6.value.isLinkLocal {
                report(
                    ipv6.position, ipv6.path,
                    "next hop \(ipv6.value) is link-local; use a global address (a link-local next hop alone "
                        + "is not valid in MP_REACH_NLRI, RFC 2545)")
            } else if ipv6.value.isUnspecified {
                report(ipv6.position, ipv6.path, "next hop must not be ::")
            }
            nextHop.ipv6 = ipv6.value
        }
        return nextHop
    }

    /// RFC 4724 §3: the restart time is a 12-bit number of seconds; 0 would tell routers to drop the routes
    /// at once, which is what leaving Graceful Restart off does.
    private func decodeGracefulRestart(_ node: JSONNode, _ path: JSONPath) -> GracefulRestartConfig? {
        guard let view = object(node, path, known: ConfigKeys.gracefulRestart) else { return nil }
        var config = GracefulRestartConfig()
        if let time = field(view, "restartTime", duration(.zero...Duration.seconds(86400 * 365))) {
            let milliseconds = wholeMilliseconds(time.value) ?? 0
            if milliseconds % 1000 != 0 || milliseconds < 1000 || milliseconds > 4_095_000 {
                report(
                    time.position, time.path,
                    "restartTime must be 1s to 4095s in whole seconds (a 12-bit field, RFC 4724), "
                        + "got \(formatDuration(time.value))")
                return nil
            }
            config.restartTime = time.value
        }
        return config
    }

    private func decodeBFD(_ node: JSONNode, _ path: JSONPath) -> BFDConfig? {
        guard let view = object(node, path, known: ConfigKeys.bfd) else { return nil }
        var bfd = BFDConfig()
        if let interval = field(view, "minInterval", duration(Duration.milliseconds(10)...Duration.seconds(60))) {
            bfd.minInterval = interval.value
        }
        if let multiplier = field(view, "multiplier", int(1...255)) { bfd.multiplier = multiplier.value }
        if let node = view["authentication"] {
            bfd.authentication = decodeBFDAuthentication(node, path.appending("authentication"))
        }
        return bfd
    }

    private func decodeBFDAuthentication(_ node: JSONNode, _ path: JSONPath) -> BFDAuthenticationConfig? {
        guard let view = object(node, path, known: ConfigKeys.bfdAuthentication) else { return nil }
        let kind = required(view, "type", choice(BFDAuthenticationConfig.Kind.allCases.map(\.rawValue)))
        let keyID = field(view, "keyId", int(0...255))
        let keyFile = required(view, "keyFile", absolutePath)
        guard let kind, let keyFile, let value = BFDAuthenticationConfig.Kind(rawValue: kind.value) else { return nil }
        return BFDAuthenticationConfig(kind: value, keyID: keyID?.value ?? 1, keyFile: keyFile.value)
    }

    func objectName(_ what: String) -> (JSONNode, JSONPath) -> String? {
        { node, path in
            guard let name = self.string(node, path) else { return nil }
            if let problem = objectNameProblem(name, what: what) {
                self.report(node.position, path, problem)
                return nil
            }
            return name
        }
    }
}

func familyName(_ family: AddressFamily) -> String { family == .ipv4 ? "IPv4" : "IPv6" }
