// Renders a DesiredState back to JSON in one canonical form: fixed key order (the order of the
// documented example), every default written out, two-space indentation. Only the tests use it (the
// golden `.ok` files and the reader's round trips), so it lives in the test target; the reader accepts
// it and yields the same state again.
import NetAddress

@testable import Config

extension DesiredState {
    /// The state as canonical JSON, ending in a newline. Optional values that are unset (a peer's
    /// `localAddress`, `holdTime`, `med`, `bfd`, ...) are left out, since leaving them out is what
    /// selects their behaviour; everything with a default is written. A state without BGP (ASN 0 and no
    /// peers) is written without a `bgp` section.
    func canonicalJSON() -> String {
        var members: [(String, CanonicalValue)] = [("interface", interface.canonical)]
        if bgp.asn != 0 || !bgp.peers.isEmpty { members.append(("bgp", bgp.canonical)) }
        members += [
            ("services", .array(services.map(\.canonical))),
            (
                "drain",
                .object([("delay", .duration(drain.delay)), ("gracefulShutdown", .bool(drain.gracefulShutdown))])
            ),
            ("control", .object([("socket", .string(control.socket))])),
            ("metrics", .object(metrics.listen.map { [("listen", .string($0))] } ?? [])),
            ("stateDirectory", .string(stateDirectory)),
        ]
        var text = ""
        CanonicalValue.object(members).write(to: &text, indent: "")
        return text + "\n"
    }
}

/// A JSON value with ordered keys, only as much as the renderer needs.
private indirect enum CanonicalValue {
    case string(String)
    case integer(Int64)
    case bool(Bool)
    case array([CanonicalValue])
    case object([(String, CanonicalValue)])

    static func duration(_ value: Duration) -> CanonicalValue { .string(formatDuration(value)) }
    static func int(_ value: Int) -> CanonicalValue { .integer(Int64(value)) }
    static func strings(_ values: [some CustomStringConvertible]) -> CanonicalValue {
        .array(values.map { .string($0.description) })
    }

    func write(to text: inout String, indent: String) {
        switch self {
        case .string(let value): text += quoteJSONString(value)
        case .integer(let value): text += String(value)
        case .bool(let value): text += value ? "true" : "false"
        case .array(let elements):
            // Arrays of scalars stay on one line, as in the documented example.
            if elements.allSatisfy(\.isScalar) {
                text += "["
                for (index, element) in elements.enumerated() {
                    if index > 0 { text += ", " }
                    element.write(to: &text, indent: indent)
                }
                text += "]"
                return
            }
            text += "[\n"
            for (index, element) in elements.enumerated() {
                text += indent + "  "
                element.write(to: &text, indent: indent + "  ")
                text += index == elements.count - 1 ? "\n" : ",\n"
            }
            text += indent + "]"
        case .object(let members):
            if members.isEmpty {
                text += "{}"
                return
            }
            text += "{\n"
            for (index, (key, value)) in members.enumerated() {
                text += indent + "  " + quoteJSONString(key) + ": "
                value.write(to: &text, indent: indent + "  ")
                text += index == members.count - 1 ? "\n" : ",\n"
            }
            text += indent + "}"
        }
    }

    private var isScalar: Bool {
        switch self {
        case .array, .object: false
        default: true
        }
    }
}

extension InterfaceConfig {
    fileprivate var canonical: CanonicalValue {
        .object([
            ("name", .string(name)), ("kind", .string(kind.rawValue)), ("uplinks", .strings(uplinks)),
            (
                "sysctl",
                .object([
                    ("arpIgnore", .int(sysctl.arpIgnore)), ("arpAnnounce", .int(sysctl.arpAnnounce)),
                    ("rpFilter", .int(sysctl.rpFilter)), ("setAll", .bool(sysctl.setAll)),
                ])
            ),
        ])
    }
}

extension BGPConfig {
    fileprivate var canonical: CanonicalValue {
        var members: [(String, CanonicalValue)] = [
            ("asn", .integer(Int64(asn))), ("routerId", .string(routerId.description)),
            ("holdTime", .duration(holdTime)),
        ]
        if let gracefulRestart { members.append(("gracefulRestart", gracefulRestart.canonical)) }
        members.append(("peers", .array(peers.map(\.canonical))))
        return .object(members)
    }
}

extension GracefulRestartConfig {
    fileprivate var canonical: CanonicalValue { .object([("restartTime", .duration(restartTime))]) }
}

extension PeerConfig {
    fileprivate var canonical: CanonicalValue {
        var members: [(String, CanonicalValue)] = [
            ("name", .string(name)), ("address", .string(address.description)), ("asn", .integer(Int64(asn))),
        ]
        if let localAddress { members.append(("localAddress", .string(localAddress.description))) }
        members += [("passive", .bool(passive)), ("multihop", .int(multihop)), ("ttlSecurity", .bool(ttlSecurity))]
        if let passwordFile { members.append(("passwordFile", .string(passwordFile))) }
        if let holdTime { members.append(("holdTime", .duration(holdTime))) }
        members.append(("families", .array(families.map { .string($0.rawValue) })))
        var nextHopMembers: [(String, CanonicalValue)] = []
        if let ipv4 = nextHop.ipv4 { nextHopMembers.append(("ipv4", .string(ipv4.description))) }
        if let ipv6 = nextHop.ipv6 { nextHopMembers.append(("ipv6", .string(ipv6.description))) }
        if !nextHopMembers.isEmpty { members.append(("nextHop", .object(nextHopMembers))) }
        members.append(("asPathPrepend", .int(asPathPrepend)))
        if let med { members.append(("med", .integer(Int64(med)))) }
        if let maxPrefixes { members.append(("maxPrefixes", .integer(Int64(maxPrefixes)))) }
        members += [
            ("communities", .strings(communities)), ("largeCommunities", .strings(largeCommunities)),
            ("port", .int(port)),
        ]
        if let bfd {
            var bfdMembers: [(String, CanonicalValue)] = [
                ("minInterval", .duration(bfd.minInterval)), ("multiplier", .int(bfd.multiplier)),
            ]
            if let auth = bfd.authentication {
                bfdMembers.append(
                    (
                        "authentication",
                        .object([
                            ("type", .string(auth.kind.rawValue)), ("keyId", .int(auth.keyID)),
                            ("keyFile", .string(auth.keyFile)),
                        ])
                    ))
            }
            members.append(("bfd", .object(bfdMembers)))
        }
        if let gracefulRestart { members.append(("gracefulRestart", gracefulRestart.canonical)) }
        return .object(members)
    }
}

extension ServiceConfig {
    fileprivate var canonical: CanonicalValue {
        var members: [(String, CanonicalValue)] = [
            ("name", .string(name)), ("prefixes", .strings(prefixes)), ("peers", .strings(peers)),
            ("checks", .array(checks.map(\.canonical))), ("communities", .strings(communities)),
            ("largeCommunities", .strings(largeCommunities)),
        ]
        if let med { members.append(("med", .integer(Int64(med)))) }
        return .object(members)
    }
}

extension CheckConfig {
    fileprivate var canonical: CanonicalValue {
        let kindMember: (String, CanonicalValue)
        switch kind {
        case .dns(let server, let port, let name, let type, let rcodes):
            var members: [(String, CanonicalValue)] = []
            if let server { members.append(("server", .string(server.description))) }
            members += [
                ("port", .int(port)), ("name", .string(name)), ("type", .string(type)), ("rcodes", .strings(rcodes)),
            ]
            kindMember = ("dns", .object(members))
        case .tcp(let address, let port):
            kindMember = ("tcp", .object([("address", .string(address.description)), ("port", .int(port))]))
        case .exec(let command):
            kindMember = ("exec", .object([("command", .strings(command))]))
        }
        return .object([
            kindMember, ("interval", .duration(interval)), ("timeout", .duration(timeout)), ("rise", .int(rise)),
            ("fall", .int(fall)),
        ])
    }
}
