// Every exec check's processes, found and ended: the process group kill reaches what a check program
// starts in its own group, but not a helper that calls setsid(2) or double-forks into another group.
// So the agent makes itself a child subreaper (PR_SET_CHILD_SUBREAPER): such orphans are re-parented to
// the agent instead of to init, and a sweep finds them among the agent's children, kills them and reaps
// them. Each run carries a tag in its environment (ANYCASTD_CHECK=N, inherited by its descendants), so a
// helper of a check that is still running is left alone, and the sweep never waits for, nor steals the
// exit status of, a check's own leader (the worker running that check reaps it by pid, never with -1).
import CProcess
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The environment variable that tags a check run and all its descendants.
let checkTagVariable = "ANYCASTD_CHECK"

/// The exec checks' bookkeeping for the whole process: running leaders and tags, and the strays to reap.
final class CheckProcesses: Sendable {
    /// One per process: the subreaper setting and the children it brings are process-wide.
    static let shared = CheckProcesses()

    private struct State {
        /// Leaders spawned and not reaped yet: never reaped by a sweep.
        var leaders: Set<pid_t> = []
        /// Tags of runs whose leader is not reaped yet: their descendants are left alone.
        var runningTags: Set<UInt64> = []
        var nextTag: UInt64 = 1
        /// Process groups of recent check leaders: an orphan that died before a sweep saw it alive is
        /// recognised as a check's by its group (a zombie's environment cannot be read).
        var recentGroups: Set<pid_t> = []
        var recentOrder: [pid_t] = []
        /// Strays killed and not reaped yet.
        var doomed: Set<pid_t> = []
    }

    private let state = Mutex(State())
    private let adopting = Atomic<Bool>(false)
    private let ownsAllChildren = Atomic<Bool>(false)

    /// Becomes a child subreaper so that escaped check helpers are re-parented here and swept.
    /// `ownsAllChildren` (the agent) makes a sweep also end children without a tag (a helper that cleared its
    /// environment) and reap every zombie child that is not a running check: right for the agent, whose only
    /// children are checks; wrong for a process that runs other children (tests), which passes false.
    func adopt(ownsAllChildren: Bool) -> Int32? {
        guard acd_set_child_subreaper() == 0 else { return errno }
        self.ownsAllChildren.store(ownsAllChildren, ordering: .sequentiallyConsistent)
        adopting.store(true, ordering: .sequentiallyConsistent)
        return nil
    }

    /// True once `adopt` succeeded: sweeps have something to do.
    var isAdopting: Bool { adopting.load(ordering: .sequentiallyConsistent) }

    /// Spawns a leader with a fresh tag; the leader is registered in the same critical section, so a sweep
    /// never sees it unregistered (and never reaps it, even as a zombie).
    func spawn(_ body: (UInt64) -> Result<pid_t, SystemCallFailure>) -> (Result<pid_t, SystemCallFailure>, UInt64) {
        state.withLock { state in
            let tag = state.nextTag
            state.nextTag += 1
            state.runningTags.insert(tag)
            let result = body(tag)
            switch result {
            case .success(let pid):
                state.leaders.insert(pid)
                if state.recentGroups.insert(pid).inserted { state.recentOrder.append(pid) }
                if state.recentOrder.count > 4096 {
                    for group in state.recentOrder.prefix(1024) { state.recentGroups.remove(group) }
                    state.recentOrder.removeFirst(1024)
                }
            case .failure: state.runningTags.remove(tag)
            }
            return (result, tag)
        }
    }

    /// Called once the leader is reaped (or was never started): its leftovers become strays.
    func finished(pid: pid_t?, tag: UInt64) {
        state.withLock { state in
            if let pid { state.leaders.remove(pid) }
            state.runningTags.remove(tag)
        }
    }

    /// Kills the strays of finished checks among this process's children and reaps those already dead.
    /// Returns true when another sweep is needed soon (strays were killed and are not reaped yet). Costs a
    /// read of /proc/self/task/*/children and one /proc/PID/stat per child; reads environments only of
    /// unknown live children.
    @discardableResult
    func sweep() -> Bool {
        guard isAdopting else { return false }
        let me = getpid()
        let ownsAll = ownsAllChildren.load(ordering: .sequentiallyConsistent)
        var pending = false
        for pid in childPIDs(of: me) {
            guard let stat = ProcStat(pid: pid), stat.parent == me else { continue }
            let tag = stat.state == "Z" ? nil : readTag(pid)
            let action: SweepAction = state.withLock { state in
                if state.leaders.contains(pid) { return .leave }
                if let tag, state.runningTags.contains(tag) { return .leave }
                if stat.state == "Z" {
                    let ours = ownsAll || state.doomed.contains(pid) || state.recentGroups.contains(stat.group)
                    return ours ? .reap : .leave
                }
                guard tag != nil || ownsAll else { return .leave }
                state.doomed.insert(pid)
                return .kill
            }
            switch action {
            case .leave: break
            case .kill:
                kill(pid, SIGKILL)
                pending = true
            case .reap:
                var status: Int32 = 0
                let reaped = waitpid(pid, &status, WNOHANG)
                if reaped == pid || (reaped < 0 && errno == ECHILD) {
                    _ = state.withLock { $0.doomed.remove(pid) }
                } else {
                    pending = true
                }
            }
        }
        return pending || state.withLock { !$0.doomed.isEmpty }
    }

    private enum SweepAction {
        case leave
        case kill
        case reap
    }
}

/// The fields of /proc/PID/stat a sweep needs.
struct ProcStat {
    var state: Character
    var parent: pid_t
    var group: pid_t

    init?(pid: pid_t) {
        guard let text = readSmallFile("/proc/\(pid)/stat", limit: 4096) else { return nil }
        // The command name may hold spaces and parentheses: the fields start after the last ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 3, let state = fields[0].first, let parent = pid_t(fields[1]), let group = pid_t(fields[2])
        else { return nil }
        self.state = state
        self.parent = parent
        self.group = group
    }
}

/// This process's children: from /proc/self/task/*/children (CONFIG_PROC_CHILDREN; an orphan may be
/// re-parented to any thread), else from a walk of /proc.
func childPIDs(of me: pid_t) -> [pid_t] {
    let tasks = directoryNames("/proc/self/task")
    var children: [pid_t] = []
    var haveChildrenFiles = !tasks.isEmpty
    for task in tasks {
        guard let text = readSmallFile("/proc/self/task/\(task)/children", limit: 1 << 20) else {
            haveChildrenFiles = false
            break
        }
        children += text.split(whereSeparator: \.isWhitespace).compactMap { pid_t($0) }
    }
    if haveChildrenFiles { return children }
    return directoryNames("/proc").compactMap { pid_t($0) }.filter { ProcStat(pid: $0)?.parent == me }
}

/// The run tag in /proc/PID/environ, or nil (no tag, or not readable).
func readTag(_ pid: pid_t) -> UInt64? {
    guard let text = readSmallFile("/proc/\(pid)/environ", limit: 256 << 10) else { return nil }
    let prefix = checkTagVariable + "="
    for entry in text.split(separator: "\0") where entry.hasPrefix(prefix) {
        return UInt64(entry.dropFirst(prefix.count))
    }
    return nil
}

/// The first `limit` bytes of a /proc file as text, or nil if it cannot be opened.
func readSmallFile(_ path: String, limit: Int) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while bytes.count < limit {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { break }
        bytes += buffer[0..<count]
    }
    return String(decoding: bytes.prefix(limit), as: UTF8.self)
}

/// The entries of a directory, without "." and "..".
func directoryNames(_ path: String) -> [String] {
    guard let directory = opendir(path) else { return [] }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}
