// The agent's side of the interface: observe through netlink, plan with InterfacePlanner, apply in one
// batch, log each change, and remember which addresses it added to an `existing` interface.
import Config
import NetAddress
import Netlink
import Reconciler

extension Agent {
    func observe() throws(NetlinkError) -> ObservedHost {
        ObservedHost(
            links: try netlink.links(), addresses: try netlink.addresses(), ipv4ConfAll: try netlink.ipv4ConfAll())
    }

    func currentTarget(_ state: DesiredState) -> InterfaceTarget {
        let now = ContinuousClock.now
        retiring = retiring.filter { $0.value > now }
        var target = InterfaceTarget(state, draining: Set(retiring.keys), owned: owned)
        target.linkKind = options.linkKind
        return target
    }

    /// Observes the host and plans the interface; nil (logged) when netlink cannot be read.
    func planInterface(_ state: DesiredState) -> InterfacePlan? {
        do {
            lastObserved = try observe()
        } catch {
            logger.error("cannot read the host's interfaces: \(error)")
            return nil
        }
        return InterfacePlanner.plan(target: currentTarget(state), observed: lastObserved)
    }

    /// Observes the host, plans, applies, and logs what changed. Returns false if anything failed.
    @discardableResult
    func reconcileInterface() -> Bool {
        guard let state = desired, let plan = planInterface(state) else { return false }
        if plan.warnings + plan.errors != lastWarnings {
            for error in plan.errors { logger.error("\(error)") }
            for warning in plan.warnings { logger.warning("\(warning)") }
            lastWarnings = plan.warnings + plan.errors
        }
        guard !plan.operations.isEmpty else { return plan.errors.isEmpty }
        let results = netlink.apply(plan.operations, dummyKind: options.linkKind)
        var ok = plan.errors.isEmpty
        for (operation, result) in zip(plan.operations, results) {
            switch result {
            case .success:
                logger.info("\(operation)")
                record(operation, kind: state.interface.kind)
            case .failure(let error):
                logger.error("\(error)")
                ok = false
            }
        }
        if let refreshed = try? observe() { lastObserved = refreshed }
        if !ok { scheduleWakeUp(at: .now + .seconds(1)) }
        return ok
    }

    /// Remembers the addresses added to an existing interface, so only those are ever removed.
    private func record(_ operation: NetlinkOperation, kind: InterfaceKind) {
        guard kind == .existing else { return }
        let before = owned
        switch operation {
        case .addAddress(_, let prefix) where prefix.isRemovableHostPrefix: owned.insert(prefix)
        case .deleteAddress(_, let prefix): owned.remove(prefix)
        default: return
        }
        guard owned != before else { return }
        persistOwnedAddresses()
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
            guard let index = lastObserved.link(named: state.interface.name)?.index else { return true }
            return address.interfaceIndex == index
        }
    }
}
