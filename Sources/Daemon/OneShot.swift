// `anycastd reconcile --once` and `--dry-run`: one observation, one plan, applied or only printed. Neither
// starts a health check or a BGP session; a dry run writes nothing at all (it reads the state directory).
import AgentCore
import Config
import Logging
import Netlink
import Reconciler

/// Exit statuses, after sysexits(3) where one fits.
public enum ExitStatus {
    public static let ok: Int32 = 0
    public static let failure: Int32 = 1
    /// EX_UNAVAILABLE: the daemon is not running or cannot be reached.
    public static let unavailable: Int32 = 69
    /// EX_CONFIG: the configuration file is invalid.
    public static let config: Int32 = 78
}

extension Agent {
    /// Plans once; prints the plan (dry run) or applies it. Returns the exit status.
    public func reconcileOnce(dryRun: Bool) async -> Int32 {
        guard await loadConfig(reason: dryRun ? "dry run" : "once", startServices: false), let state = desired else {
            return ExitStatus.config
        }
        guard let host = observeOrLog() else { return ExitStatus.failure }
        _ = core.handle(.interfaceObserved(host, repair: false), now: now)
        guard let plan = core.interfacePlan(now: now) else { return ExitStatus.failure }
        guard dryRun else { return await apply(plan) }
        for error in plan.errors { print("error: \(error)") }
        for warning in plan.warnings { print("warning: \(warning)") }
        if plan.operations.isEmpty {
            print("# nothing to do: the host matches \(options.configPath)")
        } else {
            print("# plan for \(options.configPath) (dry run, nothing changed):")
            for operation in plan.operations { print(operation) }
        }
        print("# announcements (health not checked):")
        for service in state.services {
            let health = service.checks.isEmpty ? "no checks" : "health not checked"
            let drained = core.drains.contains(service.name) || core.drains.contains("*") ? ", drained" : ""
            for prefix in service.prefixes {
                // The rule as the host is now, before the plan; an unhealthy verdict only means "not checked".
                let blocked = core.verdicts[prefix]?.blockedBy.flatMap {
                    $0 == "service \(service.name) is unhealthy" || $0 == "drained" ? nil : $0
                }
                print("\(service.name) \(prefix): \(health)\(drained)\(blocked.map { " (now: \($0))" } ?? "")")
            }
        }
        return plan.errors.isEmpty ? ExitStatus.ok : ExitStatus.failure
    }

    /// Applies one plan and records the addresses it added to an existing interface.
    private func apply(_ plan: InterfacePlan) async -> Int32 {
        for error in plan.errors { logger.error("\(error)") }
        for warning in plan.warnings { logger.warning("\(warning)") }
        guard !plan.operations.isEmpty else { return plan.errors.isEmpty ? ExitStatus.ok : ExitStatus.failure }
        let results = netlink.apply(plan.operations, dummyKind: options.linkKind)
        let errors = results.map { result -> NetlinkError? in
            if case .failure(let error) = result { return error }
            return nil
        }
        for action in core.handle(.interfaceApplied(plan.operations, errors), now: now) {
            switch action {
            case .log, .persistOwnedAddresses: await perform(action)
            default: break  // no timers, routes or retries in a one-shot run
            }
        }
        return plan.errors.isEmpty && errors.allSatisfy({ $0 == nil }) ? ExitStatus.ok : ExitStatus.failure
    }
}
