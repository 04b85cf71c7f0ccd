// Decodes the top level of the desired-state file and its small sections (interface, drain, control,
// metrics, stateDirectory), filling defaults from Model.swift. BGP and services have their own files.
import NetAddress

extension ConfigDecoder {
    /// The whole document. Returns a state even when problems were reported; the caller checks the sink.
    func decodeDesiredState(_ root: JSONNode) -> DesiredState? {
        guard case .object = root.value else {
            report(root.position, .root, "expected a JSON object at the top level, got \(root.kindDescription)")
            return nil
        }
        guard
            let top = object(
                root, .root,
                known: ConfigKeys.root)
        else { return nil }
        _ = field(top, "$schema", string)

        let interface = top["interface"].flatMap { decodeInterface($0, top.path.appending("interface")) } ?? .init()
        // No bgp section means a host that only manages addresses: no peers, nothing announced. The model
        // still needs an ASN and router ID, so they are 0 and 0.0.0.0, which no session can use.
        let bgp =
            top["bgp"].flatMap { decodeBGP($0, top.path.appending("bgp")) }
            ?? BGPConfig(asn: 0, routerId: IPv4Address(0))
        let services = top["services"].flatMap { decodeServices($0, top.path.appending("services"), bgp: bgp) } ?? []
        let drain = top["drain"].flatMap { decodeDrain($0, top.path.appending("drain")) } ?? .init()
        let control = top["control"].flatMap { decodeControl($0, top.path.appending("control")) } ?? .init()
        let metrics = top["metrics"].flatMap { decodeMetrics($0, top.path.appending("metrics")) } ?? .init()
        let stateDirectory = field(top, "stateDirectory", absolutePath)?.value ?? "/var/lib/anycastd"
        let state = DesiredState(
            interface: interface, bgp: bgp, services: services, drain: drain, control: control, metrics: metrics,
            stateDirectory: stateDirectory)
        var peerNodes: [JSONNode] = []
        if case .object(let members)? = top["bgp"]?.value,
            case .array(let nodes)? = members.first(where: {
                $0.key == "peers"
            })?.value.value
        {
            peerNodes = nodes
        }
        checkPeerGroupServices(
            state, servicesNode: top["services"], servicesPath: top.path.appending("services"), drainNode: top["drain"],
            drainPath: top.path.appending("drain"), peerNodes: peerNodes,
            peersPath: top.path.appending("bgp").appending("peers"))
        return state
    }

    private func decodeInterface(_ node: JSONNode, _ path: JSONPath) -> InterfaceConfig? {
        guard let view = object(node, path, known: ConfigKeys.interface) else { return nil }
        var config = InterfaceConfig()
        if let name = field(view, "name", interfaceName) { config.name = name.value }
        if let kind = field(view, "kind", choice(["dummy", "existing"])) {
            config.kind = InterfaceKind(rawValue: kind.value) ?? .dummy
        }
        if let uplinks = field(view, "uplinks", list(interfaceName)) {
            reportDuplicates(uplinks.value, what: "uplink", describe: quoteJSONString)
            for uplink in uplinks.value where uplink.value == config.name {
                report(
                    uplink.position, uplink.path,
                    "uplink \(quoteExcerpt(uplink.value)) is the anycast interface itself")
            }
            config.uplinks = uplinks.value.map(\.value)
        }
        if let sysctlNode = view["sysctl"] {
            config.sysctl = decodeSysctl(sysctlNode, path.appending("sysctl")) ?? .init()
        }
        return config
    }

    private func interfaceName(_ node: JSONNode, _ path: JSONPath) -> String? {
        guard let name = string(node, path) else { return nil }
        if let problem = interfaceNameProblem(name) {
            report(node.position, path, problem)
            return nil
        }
        return name
    }

    private func decodeSysctl(_ node: JSONNode, _ path: JSONPath) -> InterfaceSysctl? {
        guard let view = object(node, path, known: ConfigKeys.sysctl) else {
            return nil
        }
        var sysctl = InterfaceSysctl()
        if let arpIgnore = field(view, "arpIgnore", int(0...8)) {
            // The kernel stores 4...7 but gives them no meaning (Documentation/networking/ip-sysctl.rst).
            if (4...7).contains(arpIgnore.value) {
                report(
                    arpIgnore.position, arpIgnore.path, "arp_ignore \(arpIgnore.value) is reserved; use 0, 1, 2, 3 or 8"
                )
            }
            sysctl.arpIgnore = arpIgnore.value
        }
        if let arpAnnounce = field(view, "arpAnnounce", int(0...2)) { sysctl.arpAnnounce = arpAnnounce.value }
        if let rpFilter = field(view, "rpFilter", int(0...2)) { sysctl.rpFilter = rpFilter.value }
        if let setAll = field(view, "setAll", bool) { sysctl.setAll = setAll.value }
        return sysctl
    }

    private func decodeDrain(_ node: JSONNode, _ path: JSONPath) -> DrainConfig? {
        guard let view = object(node, path, known: ConfigKeys.drain) else { return nil }
        var drain = DrainConfig()
        if let delay = field(view, "delay", duration(.zero...Duration.seconds(600))) { drain.delay = delay.value }
        if let graceful = field(view, "gracefulShutdown", bool) { drain.gracefulShutdown = graceful.value }
        return drain
    }

    private func decodeControl(_ node: JSONNode, _ path: JSONPath) -> ControlConfig? {
        guard let view = object(node, path, known: ConfigKeys.control) else { return nil }
        var control = ControlConfig()
        if let socket = field(view, "socket", absolutePath) {
            // sun_path holds 108 bytes including the terminating NUL.
            if socket.value.utf8.count > 107 {
                report(
                    socket.position, socket.path,
                    "socket path is \(socket.value.utf8.count) bytes; Unix sockets allow at most 107")
            }
            control.socket = socket.value
        }
        return control
    }

    private func decodeMetrics(_ node: JSONNode, _ path: JSONPath) -> MetricsConfig? {
        guard let view = object(node, path, known: ConfigKeys.metrics) else { return nil }
        var metrics = MetricsConfig()
        if let listen = field(view, "listen", string) {
            if let parsed = parseListenAddress(listen.value) {
                // Stored in one spelling so that status output and comparisons on reload agree.
                metrics.listen =
                    parsed.address.family == .ipv6
                    ? "[\(parsed.address)]:\(parsed.port)" : "\(parsed.address):\(parsed.port)"
            } else {
                report(
                    listen.position, listen.path,
                    "invalid listen address \(quoteExcerpt(listen.value)); expected IP:PORT such as "
                        + "\"127.0.0.1:9477\" or \"[::1]:9477\", with PORT 1 to 65535")
            }
        }
        return metrics
    }
}
