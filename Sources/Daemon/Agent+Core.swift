// The shell side of AgentCore: every input becomes an event stamped with the continuous clock, and every
// action the core returns is carried out here, in order. Actions that have a result (applying netlink
// operations, observing, writing state files) feed that result back as the next event.
import AgentCore
import FoundationEssentials
import Logging
import NetAddress
import Netlink
import Reconciler

#if canImport(Glibc)
    import Glibc
#endif

extension Agent {
    /// Hands one event to the core at the current instant and carries out what it decides.
    func feed(_ event: AgentEvent) async {
        let actions = core.handle(event, now: now)
        for action in actions { await perform(action) }
    }

    func perform(_ action: AgentAction) async {
        switch action {
        case .observe:
            guard let host = observeOrLog() else {
                // What is on the interface is unknown: announce nothing until it can be read again.
                await feed(.interfaceObserved(ObservedHost(ipv4ConfAll: core.observed.ipv4ConfAll), repair: false))
                return
            }
            await feed(.interfaceObserved(host, repair: true))
        case .applyInterface(let operations):
            let results = netlink.apply(operations, dummyKind: options.linkKind)
            let errors = results.map { result -> NetlinkError? in
                if case .failure(let error) = result { return error }
                return nil
            }
            await feed(.interfaceApplied(operations, errors))
            if let host = observeOrLog() { await feed(.interfaceObserved(host, repair: false)) }
        case .setRoutes(let routes):
            announcer.announce(routes)
        case .persistDrains(let drains):
            await feed(.persisted(.drains, persist { try $0.saveDrains(drains) }))
        case .persistOwnedAddresses(let owned):
            await feed(.persisted(.ownedAddresses, persist { try $0.saveOwnedAddresses(owned) }))
        case .armTimer(let instant):
            scheduleTimer(at: instant)
        case .log(let level, let message):
            logger.log(level: level.logging, "\(message)")
        case .reply(let request, let reply):
            replies[request] = reply
        case .runChecks(let services):
            health.recheck(services: services)
        case .checkClosely:
            health.beginStop()
        case .resetSession(let peer, _):
            announcer.resetSession(peer: peer)
        case .shutdownSessions(let message):
            await announcer.shutdown(message: message)
            // Routers already know; nothing left to do may keep the process alive (see StopDeadline).
            if stopDeadline == nil { stopDeadline = StopDeadline(seconds: 3, status: ExitStatus.ok) }
        case .exit(let code):
            exitRequests?.yield(code)
        case .finishRestart:
            announcer.finishRestart()
        case .handOverSessions:
            await announcer.handOver()
        case .saveRestartMarker(let present):
            guard let store else { return }
            do {
                if present { try store.saveRestartMarker() } else { try store.removeRestartMarker() }
            } catch {
                logger.warning("\(error); the next start may not know whether it follows a restart (R bit)")
            }
        }
    }

    /// Writes a state file; the outcome the core needs (a missing store means nothing to write).
    private func persist(_ write: (StateStore) throws -> Void) -> PersistResult {
        guard let store else { return .ok }
        do {
            try write(store)
            return .ok
        } catch {
            return .failed("\(error)")
        }
    }

    /// Sends a control request through the core and returns its reply.
    func request(_ make: (RequestID) -> AgentEvent) async -> ControlResponse {
        let id = nextRequest
        nextRequest += 1
        await feed(make(id))
        guard let reply = replies.removeValue(forKey: id) else {
            return ControlResponse(ok: false, message: "the agent did not answer the request")
        }
        return ControlResponse(ok: reply.ok, message: reply.message)
    }
}

extension LogLevel {
    var logging: Logger.Level {
        switch self {
        case .debug: .debug
        case .info: .info
        case .notice: .notice
        case .warning: .warning
        case .error: .error
        }
    }
}
