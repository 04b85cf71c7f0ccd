// The adapter between StateStore and the core: what the state directory held when it was opened. When
// StateStore's API becomes `loadDrains() -> DrainRestore` (.drains / .unreadable(reason)) and
// `loadOwnedAddresses() -> (owned:, ignored:)`, only these lines change: map `.unreadable(reason)` to
// `RestoredDrains.unreadable(reason)` and pass `ignored` as `ignoredOwned`.
import AgentCore

extension StateStore {
    /// Drains and owned addresses, as the core takes them.
    func restore() -> RestoredState {
        RestoredState(directory: directory, drains: .drains(loadDrains()), owned: loadOwnedAddresses())
    }
}
