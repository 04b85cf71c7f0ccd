// The adapter between StateStore and the core: what the state directory held when it was opened, in the
// core's terms. An unreadable drain file reaches the core as `.unreadable`, which keeps the host drained.
import AgentCore

extension StateStore {
    /// Drains and owned addresses, as the core takes them.
    func restore() -> RestoredState {
        let drains: RestoredDrains =
            switch loadDrains() {
            case .drains(let drains): .drains(drains)
            case .unreadable(let reason): .unreadable(reason)
            }
        let owned = loadOwnedAddresses()
        return RestoredState(
            directory: directory, drains: drains, owned: owned.owned, ignoredOwned: owned.ignored,
            restarted: hasRestartMarker())
    }
}
