// The pure planner for the anycast interface: desired state and what netlink observed go in, the ordered
// list of netlink operations that makes the host match comes out. No I/O; the Daemon applies the plan.
// Order coming up: create link -> addrgenmode none -> per-interface settings -> addresses -> link up.
import Config
import NetAddress
import NetlinkTypes

/// What the interface should look like right now.
public struct InterfaceTarget: Sendable, Equatable {
    public var name: String
    public var kind: InterfaceKind
    public var uplinks: [String]
    public var sysctl: InterfaceSysctl
    /// Every prefix that must be on the interface now: the configured ones plus any still draining.
    public var prefixes: Set<IPPrefix>
    /// For `existing` interfaces: the prefixes anycastd itself added earlier (only those that are removable
    /// host prefixes, `IPPrefix.isRemovableHostPrefix`, may be removed).
    public var owned: Set<IPPrefix>
    /// The link kind of an owned interface: "dummy", or a stand-in in tests on kernels without it.
    public var linkKind: String = "dummy"

    public init(
        name: String, kind: InterfaceKind = .dummy, uplinks: [String] = [], sysctl: InterfaceSysctl = .init(),
        prefixes: Set<IPPrefix>, owned: Set<IPPrefix> = []
    ) {
        self.name = name
        self.kind = kind
        self.uplinks = uplinks
        self.sysctl = sysctl
        self.prefixes = prefixes
        self.owned = owned
    }

    /// The target for a desired state, with prefixes that are still draining kept on the interface.
    public init(_ state: DesiredState, draining: Set<IPPrefix> = [], owned: Set<IPPrefix> = []) {
        self.init(
            name: state.interface.name, kind: state.interface.kind, uplinks: state.interface.uplinks,
            sysctl: state.interface.sysctl, prefixes: Set(state.allPrefixes).union(draining), owned: owned)
    }
}

/// A snapshot of the host as netlink reported it.
public struct ObservedHost: Sendable, Equatable {
    public var links: [LinkInfo]
    public var addresses: [AddressInfo]
    /// `net.ipv4.conf.all` values; the kernel applies max(all, interface) for the managed settings.
    public var ipv4ConfAll: [IPv4DevConf: UInt32]

    public init(links: [LinkInfo] = [], addresses: [AddressInfo] = [], ipv4ConfAll: [IPv4DevConf: UInt32] = [:]) {
        self.links = links
        self.addresses = addresses
        self.ipv4ConfAll = ipv4ConfAll
    }

    public func link(named name: String) -> LinkInfo? { links.first { $0.name == name } }

    public func addresses(on link: LinkInfo) -> [AddressInfo] {
        addresses.filter { $0.interfaceIndex == link.index }
    }

    /// Applies one monitor event, so a deletion is known at once, without a dump. Returns false when the
    /// snapshot can no longer be trusted (events were lost): the caller must observe the host again.
    @discardableResult
    public mutating func apply(_ event: NetlinkEvent) -> Bool {
        switch event {
        case .linkChanged(var link):
            if let index = links.firstIndex(where: { $0.index == link.index }) {
                // A notification may leave out attributes a dump carried; keep what it does not say.
                if link.ipv4Conf.isEmpty { link.ipv4Conf = links[index].ipv4Conf }
                if link.ipv6AddrGenMode == nil { link.ipv6AddrGenMode = links[index].ipv6AddrGenMode }
                links[index] = link
            } else {
                links.append(link)
            }
        case .linkRemoved(let index, _):
            links.removeAll { $0.index == index }
            addresses.removeAll { $0.interfaceIndex == index }
        case .addressAdded(let address):
            if let index = addresses.firstIndex(where: { $0.sameAddress(as: address) }) {
                addresses[index] = address
            } else {
                addresses.append(address)
            }
        case .addressRemoved(let address):
            addresses.removeAll { $0.sameAddress(as: address) }
        case .overrun:
            return false
        }
        return true
    }

    /// Prefixes present on the named interface, for the announcement rule.
    public func prefixes(on name: String) -> Set<IPPrefix> {
        guard let link = link(named: name) else { return [] }
        return Set(addresses(on: link).map(\.prefix))
    }
}

extension AddressInfo {
    /// The same address on the same link (flags and lifetimes may differ).
    fileprivate func sameAddress(as other: AddressInfo) -> Bool {
        interfaceIndex == other.interfaceIndex && prefix == other.prefix
    }
}

/// The result of planning: operations in order, plus what the operator should be told.
public struct InterfacePlan: Sendable, Equatable {
    public var operations: [NetlinkOperation] = []
    /// Conditions that the plan cannot fix but that defeat the configuration.
    public var warnings: [String] = []
    /// Conditions that stop anycastd from managing the interface at all.
    public var errors: [String] = []

    public init(operations: [NetlinkOperation] = [], warnings: [String] = [], errors: [String] = []) {
        self.operations = operations
        self.warnings = warnings
        self.errors = errors
    }

    public var isEmpty: Bool { operations.isEmpty }
}

/// Computes the operations that make the host match the target.
public enum InterfacePlanner {
    /// IFLA_INET6_ADDR_GEN_MODE value for "none".
    static let addrGenModeNone: UInt8 = 1

    public static func plan(target: InterfaceTarget, observed: ObservedHost) -> InterfacePlan {
        var plan = InterfacePlan()
        let link = observed.link(named: target.name)
        switch target.kind {
        case .dummy:
            if let link, link.kind != target.linkKind {
                plan.errors.append(
                    "\(target.name): exists but is of kind \(link.kind ?? "none"), not \(target.linkKind); anycastd will not take it over"
                        + " (rename it, or set interface.kind to \"existing\")")
                return plan
            }
            if link == nil {
                // Creation sets addrgenmode none before the link ever goes up.
                plan.operations.append(.createDummy(name: target.name))
            } else if link?.ipv6AddrGenMode != addrGenModeNone {
                plan.operations.append(.setAddrGenModeNone(name: target.name))
            }
        case .existing:
            if link == nil {
                plan.errors.append(
                    "\(target.name): interface does not exist (interface.kind is \"existing\", so anycastd does not create it)"
                )
                return plan
            }
        }

        planSettings(interface: target.name, link: link, sysctl: target.sysctl, into: &plan)
        for uplink in target.uplinks {
            guard let uplinkInfo = observed.link(named: uplink) else {
                plan.warnings.append("\(uplink): uplink not present; its settings will be applied when it appears")
                continue
            }
            planSettings(interface: uplink, link: uplinkInfo, sysctl: target.sysctl, into: &plan)
        }
        planAllSettings(target: target, observed: observed, into: &plan)
        planAddresses(target: target, link: link, observed: observed, into: &plan)

        if target.kind == .dummy, link?.isUp != true {
            plan.operations.append(.setLinkUp(name: target.name, up: true))
        }
        return plan
    }

    static func desiredValues(_ sysctl: InterfaceSysctl) -> [(IPv4DevConf, UInt32)] {
        [
            (.arpIgnore, UInt32(sysctl.arpIgnore)), (.arpAnnounce, UInt32(sysctl.arpAnnounce)),
            (.rpFilter, UInt32(sysctl.rpFilter)),
        ]
    }

    private static func planSettings(
        interface: String, link: LinkInfo?, sysctl: InterfaceSysctl, into plan: inout InterfacePlan
    ) {
        for (key, value) in desiredValues(sysctl) where link?.ipv4Conf[key] != value {
            plan.operations.append(.setIPv4Conf(name: interface, key: key, value: value))
        }
    }

    /// The kernel uses max(all, interface) for rp_filter and arp_*: a larger `all` value defeats ours.
    private static func planAllSettings(target: InterfaceTarget, observed: ObservedHost, into plan: inout InterfacePlan)
    {
        for (key, value) in desiredValues(target.sysctl) {
            guard let all = observed.ipv4ConfAll[key], all > value else { continue }
            if target.sysctl.setAll {
                plan.operations.append(.setIPv4ConfAll(key: key, value: value))
            } else {
                plan.warnings.append(
                    "net.ipv4.conf.all.\(key)=\(all) defeats \(key)=\(value) on \(target.name) and the uplinks"
                        + " (the kernel uses the larger value); lower it or set interface.sysctl.setAll")
            }
        }
    }

    private static func planAddresses(
        target: InterfaceTarget, link: LinkInfo?, observed: ObservedHost, into plan: inout InterfacePlan
    ) {
        let present = link.map { observed.addresses(on: $0) } ?? []
        var presentByPrefix: [IPPrefix: AddressInfo] = [:]
        for address in present { presentByPrefix[address.prefix] = address }

        // Removals first: a stale address never lingers while new ones are added.
        for address in present.sorted(by: { $0.prefix < $1.prefix }) where !target.prefixes.contains(address.prefix) {
            // On an existing interface only owned, removable host prefixes go: never loopback and the like,
            // whatever the ownership file says.
            let ours =
                target.kind == .dummy
                || (target.owned.contains(address.prefix) && address.prefix.isRemovableHostPrefix)
            if ours {
                plan.operations.append(.deleteAddress(name: target.name, prefix: address.prefix))
            }
        }
        for prefix in target.prefixes.sorted() {
            guard let existing = presentByPrefix[prefix] else {
                plan.operations.append(.addAddress(name: target.name, prefix: prefix))
                continue
            }
            if prefix.family == .ipv6, !isSourceSafe(existing) {
                plan.operations.append(.addAddress(name: target.name, prefix: prefix))
            }
        }
    }

    /// An IPv6 anycast address must be nodad and deprecated (preferred lifetime 0) so it is never a source.
    static func isSourceSafe(_ address: AddressInfo) -> Bool {
        address.flags & AddressInfo.flagNoDAD != 0 && address.preferredLifetime == 0
    }
}
