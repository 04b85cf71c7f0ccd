// The agent's side of the interface: observe through netlink, plan with InterfacePlanner, apply in one
// batch, log each change, and remember which addresses it added to an `existing` interface.
import Config
import NetAddress
import Netlink
import Reconciler

extension Agent {
    /// The managed links and the anycast interface's addresses, read with requests the kernel filters, so
    /// churn on other interfaces neither slows nor interrupts them.
    func observe() throws(NetlinkError) -> ObservedHost {
        guard let state = desired else { return ObservedHost() }
        let links = try netlink.links(named: [state.interface.name] + state.interface.uplinks)
        let anycast = links.filter { $0.name == state.interface.name }.map(\.index)
        return ObservedHost(
            links: links, addresses: try netlink.addresses(onLinks: anycast), ipv4ConfAll: try netlink.ipv4ConfAll())
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
            // What is on the interface is unknown now: announce nothing until it can be read again.
            logger.error("cannot read the host's interfaces: \(error); withdrawing until they can be read")
            lastObserved = ObservedHost(ipv4ConfAll: lastObserved.ipv4ConfAll)
            scheduleWakeUp(at: .now + .seconds(1))
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
        case .addAddress(_, let prefix): owned.insert(prefix)
        case .deleteAddress(_, let prefix): owned.remove(prefix)
        default: return
        }
        guard owned != before, let store else { return }
        do { try store.saveOwnedAddresses(owned) } catch { logger.error("\(error)") }
    }

    /// Applies a monitor event to what was observed at once, so a deleted address or a link going down
    /// withdraws without waiting for a dump. Returns whether a reconcile should follow (repairs).
    func observed(_ event: NetlinkEvent) async -> Bool {
        guard isRelevant(event) else { return false }
        guard lastObserved.apply(event) else {
            logger.warning("netlink events lost (ENOBUFS); full resync")
            return true
        }
        // Only losses need the rule now; additions are announced by the reconcile that follows. Our own
        // removals (after a withdraw) find nothing announced, so a burst of them costs no evaluation.
        switch event {
        case .addressRemoved(let address):
            if let verdict = lastVerdicts[address.prefix], verdict.blockedBy == nil { await updateAnnouncements() }
        case .linkChanged(let link) where !link.isUp: await updateAnnouncements()
        case .linkRemoved: await updateAnnouncements()
        default: break
        }
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
            guard let index = lastObserved.link(named: state.interface.name)?.index else { return true }
            return address.interfaceIndex == index
        }
    }
}
