// The agent's side of the state directory: restore drains and owned addresses at start (an unreadable drain
// file keeps the host drained), save them after each change, and remember what could not be saved so status
// and metrics show that the state on disk is not the agent's.
import NetAddress

/// Why the state on disk differs from the agent's; all nil when it matches.
struct StateErrors: Sendable, Equatable {
    /// The `drained` file could not be trusted at start; the host is kept drained.
    var drainsUnreadable: String?
    /// The last save of the drains failed.
    var drainsNotSaved: String?
    /// The last save of the owned addresses failed.
    var ownedNotSaved: String?

    var all: [String] { [drainsUnreadable, drainsNotSaved, ownedNotSaved].compactMap { $0 } }
    var persisted: Bool { all.isEmpty }
}

extension Agent {
    /// Reads the state directory. A drain file that cannot be read fails safe: the host stays drained.
    func restoreState(_ store: StateStore) {
        let loaded = store.loadOwnedAddresses()
        owned = loaded.owned
        for line in loaded.ignored { logger.warning("\(line)") }
        stateErrors = StateErrors()
        switch store.loadDrains() {
        case .drains(let restored):
            drains = restored
        case .unreadable(let reason):
            drains = ["*"]
            let text = "drain state unreadable: \(reason); the host stays drained until `anycastd undrain`"
            stateErrors.drainsUnreadable = text
            logger.error("\(text)")
        }
        for drain in drains.sorted() {
            logger.notice("\(drain == "*" ? "host" : drain): drained (kept from before the restart)")
        }
    }

    /// Saves the drains; nil when they are on disk, else why not (logged, and shown in status).
    func persistDrains() -> String? {
        guard let store else { return nil }
        do {
            try store.saveDrains(drains)
            if stateErrors.drainsNotSaved != nil { logger.notice("drains saved to \(store.path("drained"))") }
            stateErrors.drainsNotSaved = nil
            stateErrors.drainsUnreadable = nil
            return nil
        } catch {
            let text = "\(error)"
            if text != stateErrors.drainsNotSaved { logger.error("\(text)") }
            stateErrors.drainsNotSaved = text
            return text
        }
    }

    func persistOwnedAddresses() {
        guard let store else { return }
        do {
            try store.saveOwnedAddresses(owned)
            stateErrors.ownedNotSaved = nil
        } catch {
            let text = "\(error)"
            if text != stateErrors.ownedNotSaved { logger.error("\(text)") }
            stateErrors.ownedNotSaved = text
        }
    }

    /// Tries again to save what could not be saved (a full disk may have room now); at each reconcile pass.
    func retryStateSaves() {
        if stateErrors.drainsNotSaved != nil { _ = persistDrains() }
        if stateErrors.ownedNotSaved != nil { persistOwnedAddresses() }
    }
}
