// Decodes the `services` section: each service's host prefixes, the peers that get them and the health
// checks (DNS, TCP, exec) that decide whether they are announced. Cross-checks prefixes between services
// and against the peers' address families.
import NetAddress

extension ConfigDecoder {
    static let serviceKeys = ConfigKeys.service
    static let checkKinds = ConfigKeys.checkKinds
    /// Record types a liveness query can sensibly ask for. ANY is left out: RFC 8482 lets servers answer it
    /// with a synthesized record, so it proves less than it seems.
    static let dnsTypes = ["A", "AAAA", "SOA", "NS", "TXT", "CNAME", "MX", "PTR", "SRV"]
    /// RFC 1035 and RFC 2136 response codes.
    static let dnsRcodes = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
        "NOTZONE",
    ]

    /// Services, checked against the already decoded `bgp` section (peer names, families, addresses).
    func decodeServices(_ node: JSONNode, _ path: JSONPath, bgp: BGPConfig) -> [ServiceConfig]? {
        guard let elements = array(node, path) else { return nil }
        let peers = bgp.peers
        var services: [ServiceConfig] = []
        var names: [Located<String>] = []
        var owners: [IPPrefix: (service: String, position: SourcePosition)] = [:]
        for element in elements {
            guard let view = object(element.node, element.path, known: Self.serviceKeys) else { continue }
            let name = required(view, "name", objectName("service"))
            if let name { names.append(name) }
            var service = ServiceConfig(name: name?.value ?? "", prefixes: [])

            if let prefixes = required(view, "prefixes", list(hostPrefix)) {
                if case .array(let raw) = view["prefixes"]?.value, raw.isEmpty {
                    report(prefixes.position, prefixes.path, "a service needs at least one prefix")
                }
                for prefix in prefixes.value {
                    if let owner = owners[prefix.value] {
                        let message =
                            owner.service == service.name
                            ? "duplicate prefix \(prefix.value) (first at \(owner.position))"
                            : "prefix \(prefix.value) is already in service \(quoteExcerpt(owner.service)) "
                                + "(at \(owner.position)); a prefix can belong to one service only"
                        report(prefix.position, prefix.path, message)
                        continue
                    }
                    owners[prefix.value] = (service.name, prefix.position)
                    service.prefixes.append(prefix.value)
                    if let conflict = hostAddressConflict(prefix.value.address, bgp: bgp) {
                        report(prefix.position, prefix.path, "prefix \(prefix.value) \(conflict)")
                    }
                }
            }
            let selected = field(view, "peers", list(string))
            if let selected {
                reportDuplicates(selected.value, what: "peer", describe: quoteJSONString)
                let known = peers.map(\.name)
                for peer in selected.value where !known.contains(peer.value) {
                    var message = "unknown peer \(quoteExcerpt(peer.value))"
                    if known.isEmpty {
                        message += "; no peers are defined in bgp.peers"
                    } else if let suggestion = closestMatch(to: peer.value, among: known) {
                        message += "; did you mean \(quoteExcerpt(suggestion))?"
                    } else {
                        message += "; defined peers: " + known.joined(separator: ", ")
                    }
                    report(peer.position, peer.path, message)
                }
                var seen: Set<String> = []
                service.peers = selected.value.map(\.value).filter { seen.insert($0).inserted }
            }
            if let checks = field(view, "checks", array) {
                service.checks = checks.value.compactMap { decodeCheck($0.node, $0.path) }
            }
            if let communities = field(view, "communities", list(community)) {
                reportDuplicates(communities.value, what: "community")
                service.communities = communities.value.map(\.value)
            }
            if let large = field(view, "largeCommunities", list(largeCommunity)) {
                reportDuplicates(large.value, what: "large community")
                service.largeCommunities = large.value.map(\.value)
            }
            if let med = field(view, "med", uint32) { service.med = med.value }
            let lastResort = field(view, "lastResort", bool)
            if let lastResort { service.lastResort = lastResort.value }
            decodePolicy(&service, view: view, lastResort: lastResort)
            checkFamiliesCarried(service, view: view, peers: peers, selected: selected)
            services.append(service)
        }
        reportDuplicates(names, what: "service name", describe: quoteJSONString)
        return services
    }

    /// A prefix of a family that none of the service's peers negotiates would silently never be
    /// announced; that is almost always a mistake, so it is reported at the prefix.
    private func checkFamiliesCarried(
        _ service: ServiceConfig, view: ObjectView, peers: [PeerConfig], selected: Located<[Located<String>]>?
    ) {
        guard !peers.isEmpty, let prefixNodes = field(view, "prefixes", array) else { return }
        let receivers = service.peers.isEmpty ? peers : peers.filter { service.peers.contains($0.name) }
        guard !receivers.isEmpty else { return }
        var reported: Set<AddressFamily> = []
        for element in prefixNodes.value {
            guard case .string(let text) = element.node.value, let prefix = IPPrefix(text) else { continue }
            let family = prefix.family
            guard !receivers.contains(where: { $0.families.contains(family) }), reported.insert(family).inserted else {
                continue
            }
            let names = receivers.map(\.name).joined(separator: ", ")
            report(
                element.node.position, element.path,
                "\(familyName(family)) prefix \(prefix) would never be announced: none of the service's peers "
                    + "(\(names)) carries \(family.rawValue); add \"\(family.rawValue)\" to a peer's families")
        }
    }

    /// An anycast address lives on many hosts at once, so it must not double as something that has to be
    /// unique to this host or reach this host only: the router ID, a session endpoint or a next hop.
    private func hostAddressConflict(_ address: IPAddress, bgp: BGPConfig) -> String? {
        if case .v4(let v4) = address, v4 == bgp.routerId {
            return "is also bgp.routerId; each host needs a router ID of its own, not an anycast address"
        }
        for peer in bgp.peers {
            let quoted = quoteExcerpt(peer.name)
            if peer.address == address { return "is the address of peer \(quoted)" }
            if peer.localAddress == address {
                return "is the localAddress of peer \(quoted); a BGP session must use a unicast address of this host"
            }
            if address == peer.nextHop.ipv4.map(IPAddress.v4) || address == peer.nextHop.ipv6.map(IPAddress.v6) {
                return "is a next hop of peer \(quoted); traffic must be sent to a unicast address of this host"
            }
        }
        return nil
    }

    /// A host prefix (/32 or /128) written canonically, that can serve as an anycast address.
    private func hostPrefix(_ node: JSONNode, _ path: JSONPath) -> IPPrefix? {
        guard let text = string(node, path) else { return nil }
        guard let prefix = IPPrefix(text) else {
            report(
                node.position, path,
                "invalid prefix \(quoteExcerpt(text)); expected ADDRESS/32 or ADDRESS/128, such as \"192.0.2.53/32\""
            )
            return nil
        }
        guard text.contains("/") else {
            report(node.position, path, "prefix \(quoteExcerpt(text)) needs a length; write \"\(prefix)\"")
            return nil
        }
        guard prefix.isHost else {
            report(
                node.position, path,
                "prefix \(prefix) is not a host prefix; anycast prefixes must be /32 (IPv4) or /128 (IPv6)")
            return nil
        }
        if let problem = anycastAddressProblem(prefix.address) {
            report(node.position, path, "prefix \(prefix) cannot be announced: \(problem)")
            return nil
        }
        guard text == prefix.description else {
            report(node.position, path, "prefix \(quoteExcerpt(text)) is not in canonical form; write \"\(prefix)\"")
            return nil
        }
        return prefix
    }

    private func decodeCheck(_ node: JSONNode, _ path: JSONPath) -> CheckConfig? {
        guard
            let view = object(node, path, known: ConfigKeys.check)
        else { return nil }
        let kinds = Self.checkKinds.filter(view.has).sorted {
            view.members[$0]!.keyPosition < view.members[$1]!.keyPosition
        }
        if kinds.isEmpty {
            report(view.position, path, "a check needs exactly one of \"dns\", \"tcp\" or \"exec\"")
        }
        for extra in kinds.dropFirst() {
            report(
                view.members[extra]!.keyPosition, path.appending(extra),
                "a check has exactly one kind; \(quoteExcerpt(extra)) conflicts with \(quoteExcerpt(kinds[0]))")
        }
        var kind: CheckKind?
        if let first = kinds.first, let kindNode = view[first] {
            let kindPath = path.appending(first)
            switch first {
            case "dns": kind = decodeDNSCheck(kindNode, kindPath)
            case "tcp": kind = decodeTCPCheck(kindNode, kindPath)
            default: kind = decodeExecCheck(kindNode, kindPath)
            }
        }
        var check = CheckConfig(kind: kind ?? .exec(command: []))
        let interval = field(view, "interval", duration(Duration.milliseconds(10)...Duration.seconds(3600)))
        let timeout = field(view, "timeout", duration(Duration.milliseconds(1)...Duration.seconds(3600)))
        if let interval { check.interval = interval.value }
        if let timeout { check.timeout = timeout.value }
        if check.timeout >= check.interval, interval != nil || timeout != nil {
            // Report at whichever value was written; the other is its default.
            if let timeout {
                let intervalText = formatDuration(check.interval) + (interval == nil ? " (the default)" : "")
                report(
                    timeout.position, timeout.path,
                    "timeout \(formatDuration(timeout.value)) must be shorter than the interval \(intervalText)")
            } else if let interval {
                report(
                    interval.position, interval.path,
                    "interval \(formatDuration(interval.value)) must be longer than the timeout "
                        + "\(formatDuration(check.timeout)) (the default); set a shorter timeout")
            }
        }
        if let rise = field(view, "rise", int(1...100)) { check.rise = rise.value }
        if let fall = field(view, "fall", int(1...100)) { check.fall = fall.value }
        if let onFailure = field(view, "onFailure", choice(CheckFailureAction.allCases.map(\.rawValue))) {
            check.onFailure = CheckFailureAction(rawValue: onFailure.value) ?? .withdraw
        }
        return kind == nil ? nil : check
    }

    // MARK: - Announcement policy (degraded, lastResort, dampening)

    /// Decodes `degraded` and `dampening` and checks that they fit the degrade checks and `lastResort`.
    private func decodePolicy(_ service: inout ServiceConfig, view: ObjectView, lastResort: Located<Bool>?) {
        let degraded = field(view, "degraded", decodeDegraded)
        service.degraded = degraded?.value
        if let dampening = field(view, "dampening", decodeDampening) { service.dampening = dampening.value }
        if degraded == nil, !view.has("degraded"), case .array(let checkNodes)? = view["checks"]?.value {
            for (index, node) in checkNodes.enumerated() {
                guard case .object(let members) = node.value,
                    let member = members.first(where: { $0.key == "onFailure" }),
                    case .string("degrade") = member.value.value
                else { continue }
                report(
                    member.value.position, view.path.appending("checks").appending(index).appending("onFailure"),
                    "a check with onFailure \"degrade\" needs the service's \"degraded\" attributes "
                        + "(asPathPrepend, med, communities or largeCommunities)")
            }
        }
        guard let lastResort, lastResort.value else { return }
        guard let degraded else {
            if !view.has("degraded") {
                report(
                    lastResort.position, lastResort.path,
                    "lastResort needs the service's \"degraded\" attributes with at least one community or "
                        + "large community, so that other hosts' degraded routes can be told apart")
            }
            return
        }
        if degraded.value.communities.isEmpty, degraded.value.largeCommunities.isEmpty {
            report(
                degraded.position, degraded.path,
                "lastResort needs at least one community or large community in degraded, so that other hosts' "
                    + "degraded routes can be told apart from healthy ones")
        }
    }

    private func decodeDegraded(_ node: JSONNode, _ path: JSONPath) -> DegradedAttributes? {
        guard let view = object(node, path, known: ConfigKeys.degraded) else { return nil }
        var degraded = DegradedAttributes()
        if let prepend = field(view, "asPathPrepend", int(0...10)) { degraded.asPathPrepend = prepend.value }
        if let med = field(view, "med", uint32) { degraded.med = med.value }
        if let communities = field(view, "communities", list(community)) {
            reportDuplicates(communities.value, what: "community")
            degraded.communities = Array(communities.value.map(\.value).uniqued())
        }
        if let large = field(view, "largeCommunities", list(largeCommunity)) {
            reportDuplicates(large.value, what: "large community")
            degraded.largeCommunities = Array(large.value.map(\.value).uniqued())
        }
        // Only when every value decoded: a bad value is already reported where it is.
        if !degraded.changesSomething, !hasInvalidMember(view) {
            report(
                view.position, path,
                "degraded changes nothing; set asPathPrepend above 0, med, communities or largeCommunities")
        }
        return degraded
    }

    /// Whether a member of a `degraded` object failed to decode (so "changes nothing" would be misleading).
    private func hasInvalidMember(_ view: ObjectView) -> Bool {
        for (key, member) in view.members {
            switch (key, member.value.value) {
            case ("asPathPrepend", .number), ("med", .number): continue
            case ("communities", .array(let items)), ("largeCommunities", .array(let items)):
                if items.contains(where: { if case .string = $0.value { return false } else { return true } }) {
                    return true
                }
                continue
            default: return true
            }
        }
        return false
    }

    private func decodeDampening(_ node: JSONNode, _ path: JSONPath) -> DampeningConfig? {
        guard let view = object(node, path, known: ConfigKeys.dampening) else { return nil }
        var dampening = DampeningConfig()
        let halfLife = field(view, "halfLife", duration(Duration.seconds(1)...Duration.seconds(86400)))
        let suppress = field(view, "suppress", positiveNumber(upTo: 1000))
        let reuse = field(view, "reuse", positiveNumber(upTo: 1000))
        let maxSuppress = field(view, "maxSuppress", duration(Duration.seconds(1)...Duration.seconds(86400)))
        if let halfLife { dampening.halfLife = halfLife.value }
        if let suppress { dampening.suppress = suppress.value }
        if let reuse { dampening.reuse = reuse.value }
        if let maxSuppress { dampening.maxSuppress = maxSuppress.value }
        let bothValid = (suppress != nil || !view.has("suppress")) && (reuse != nil || !view.has("reuse"))
        if bothValid, dampening.reuse >= dampening.suppress {
            let reuseText = reuse.map { formatNumber($0.value) } ?? "\(formatNumber(dampening.reuse)) (the default)"
            let suppressText =
                suppress.map { formatNumber($0.value) } ?? "\(formatNumber(dampening.suppress)) (the default)"
            let place = reuse.map { ($0.position, $0.path) } ?? suppress.map { ($0.position, $0.path) }
            let (position, at) = place ?? (view.position, path)
            report(position, at, "reuse \(reuseText) must be below suppress \(suppressText)")
        }
        return dampening
    }

    /// A number above 0 and at most `limit`, with or without a fraction ("3", "1.5").
    private func positiveNumber(upTo limit: Double) -> (JSONNode, JSONPath) -> Double? {
        { node, path in
            guard case .number(let text) = node.value else {
                self.typeMismatch(node, path, expected: "a number")
                return nil
            }
            guard let value = Double(text), value > 0, value <= limit else {
                self.report(
                    node.position, path, "\(text) is out of range; expected a number above 0 and at most \(Int(limit))")
                return nil
            }
            return value
        }
    }

    private func decodeDNSCheck(_ node: JSONNode, _ path: JSONPath) -> CheckKind? {
        guard let view = object(node, path, known: ConfigKeys.dnsCheck) else { return nil }
        let server = field(view, "server", ipAddress)?.value
        let port = field(view, "port", int(1...65535))?.value ?? 53
        var name = "."
        if let located = field(view, "name", string) {
            if isValidDNSName(located.value) {
                name = located.value
            } else {
                report(
                    located.position, located.path,
                    "invalid DNS name \(quoteExcerpt(located.value)); expected labels of 1 to 63 letters, digits, "
                        + "'-' or '_' separated by dots, such as \"example.com.\" or \".\"")
            }
        }
        let type = field(view, "type", choice(Self.dnsTypes))?.value ?? "SOA"
        var rcodes = ["NOERROR"]
        if let located = field(view, "rcodes", list(choice(Self.dnsRcodes))) {
            if case .array(let raw) = view["rcodes"]?.value, raw.isEmpty {
                report(located.position, located.path, "rcodes must not be empty")
            }
            reportDuplicates(located.value, what: "rcode", describe: quoteJSONString)
            var seen: Set<String> = []
            rcodes = located.value.map(\.value).filter { seen.insert($0).inserted }
        }
        return .dns(server: server, port: port, name: name, type: type, rcodes: rcodes)
    }

    private func decodeTCPCheck(_ node: JSONNode, _ path: JSONPath) -> CheckKind? {
        guard let view = object(node, path, known: ConfigKeys.tcpCheck) else { return nil }
        let address = required(view, "address", ipAddress)
        let port = required(view, "port", int(1...65535))
        guard let address, let port else { return nil }
        return .tcp(address: address.value, port: port.value)
    }

    private func decodeExecCheck(_ node: JSONNode, _ path: JSONPath) -> CheckKind? {
        guard let view = object(node, path, known: ConfigKeys.execCheck) else { return nil }
        guard let command = required(view, "command", list(string)) else { return nil }
        guard case .array(let raw) = view["command"]?.value, !raw.isEmpty else {
            report(command.position, command.path, "command must not be empty; give the program and its arguments")
            return nil
        }
        if let program = command.value.first, program.value.isEmpty {
            report(program.position, program.path, "the program name (first element) must not be empty")
        }
        return .exec(command: command.value.map(\.value))
    }
}

/// "3", "1.5": a penalty figure as written, without a trailing ".0".
public func formatNumber(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
}

extension Sequence where Element: Hashable {
    /// The elements in order, each only the first time it appears.
    fileprivate func uniqued() -> [Element] {
        var seen: Set<Element> = []
        return filter { seen.insert($0).inserted }
    }
}
