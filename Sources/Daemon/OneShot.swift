// `anycastd reconcile --once` and `--dry-run`: one observation, one plan, applied or only printed.
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
        guard await loadConfig(reason: dryRun ? "dry run" : "once"), let state = desired else {
            return ExitStatus.config
        }
        if dryRun {
            guard let plan = planInterface(state) else { return ExitStatus.failure }
            for error in plan.errors { print("error: \(error)") }
            for warning in plan.warnings { print("warning: \(warning)") }
            if plan.operations.isEmpty {
                print("# nothing to do: the host matches \(options.configPath)")
            } else {
                print("# plan for \(options.configPath) (dry run, nothing changed):")
                for operation in plan.operations { print(operation) }
            }
            return plan.errors.isEmpty ? ExitStatus.ok : ExitStatus.failure
        }
        return reconcileInterface() ? ExitStatus.ok : ExitStatus.failure
    }
}
