// The adapter between StateStore and the core: what the state directory held when it was opened.
import AgentCore

extension StateStore {
    /// Drains and owned addresses, as the core takes them.
    func restore() -> RestoredState {
        RestoredState(directory: directory, drains: .drains(loadDrains()), owned: loadOwnedAddresses())
    }
}
