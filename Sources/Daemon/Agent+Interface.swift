// The agent's side of the interface: observe through netlink for the core (dumps the kernel filters to the
// managed links, so churn elsewhere neither slows nor interrupts them), apply monitor events to what was
// observed at once, and tell which netlink events concern the interfaces anycastd manages. Planning,
// logging and ownership live in AgentCore.
import AgentCore
import Config
import NetAddress
import Netlink
import Reconciler

extension Agent {
    /// The managed links and the anycast interface's addresses, read with requests the kernel filters.
    func observe() throws(NetlinkError) -> ObservedHost {
        guard let state = desired else { return ObservedHost() }
        let links = try netlink.links(named: [state.interface.name] + state.interface.uplinks)
        let anycast = links.filter { $0.name == state.interface.name }.map(\.index)
        return ObservedHost(
            links: links, addresses: try netlink.addresses(onLinks: anycast), ipv4ConfAll: try netlink.ipv4ConfAll())
    }

    /// The host now; nil (logged, and read again in a second) when netlink cannot be read.
    func observeOrLog() -> ObservedHost? {
        do {
            return try observe()
        } catch {
            logger.error("cannot read the host's interfaces: \(error); withdrawing until they can be read")
            scheduleTimer(at: now + .seconds(1))
            return nil
        }
    }

    /// Applies a monitor event to what was observed at once, so a deleted address or a link going down
    /// withdraws without waiting for a dump. Returns whether a reconcile should follow (repairs).
    func observed(_ event: NetlinkEvent) async -> Bool {
        guard isRelevant(event) else { return false }
        var host = core.observed
        guard host.apply(event) else {
            logger.warning("netlink events lost (ENOBUFS); full resync")
            return true
        }
        // Only losses need the rule now; additions are announced by the reconcile that follows. Our own
        // removals (after a withdraw) find nothing announced, so a burst of them costs no evaluation.
        let loss: Bool
        switch event {
        case .addressRemoved(let address): loss = core.verdicts[address.prefix].map { $0.blockedBy == nil } ?? false
        case .linkChanged(let link): loss = !link.isUp
        case .linkRemoved: loss = true
        default: loss = false
        }
        if loss { await feed(.interfaceObserved(host, repair: false)) }
        return true
    }

    /// Whether a netlink event concerns the interfaces anycastd manages.
    func isRelevant(_ event: NetlinkEvent) -> Bool {
        guard let state = desired else { return false }
        let names = Set([state.interface.name] + state.interface.uplinks)
        switch event {
        case .overrun: return true
        case .linkChanged(let link): return names.contains(link.name)
        case .linkRemoved(_, let name): return names.contains(name)
        case .addressAdded(let address), .addressRemoved(let address):
            guard let index = core.observed.link(named: state.interface.name)?.index else { return true }
            return address.interfaceIndex == index
        }
    }
}
