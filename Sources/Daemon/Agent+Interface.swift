// The agent's side of the interface: observe through netlink for the core, and tell which netlink events
// concern the interfaces anycastd manages. Planning, logging and ownership live in AgentCore.
import Config
import NetAddress
import Netlink
import Reconciler

extension Agent {
    func observe() throws(NetlinkError) -> ObservedHost {
        ObservedHost(
            links: try netlink.links(), addresses: try netlink.addresses(), ipv4ConfAll: try netlink.ipv4ConfAll())
    }

    /// The host now; nil (logged) when netlink cannot be read.
    func observeOrLog() -> ObservedHost? {
        do {
            return try observe()
        } catch {
            logger.error("cannot read the host's interfaces: \(error)")
            return nil
        }
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
