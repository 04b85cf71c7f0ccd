// The exec check: runs a program without a shell (posix_spawnp) in its own process group; exit 0 is up.
// On timeout the whole group gets SIGKILL; the child is always reaped, so no zombies. A check script's own
// children die with its group; helpers that leave the group (setsid, a double fork into a new group) are
// re-parented to the agent, a child subreaper, and ended by CheckProcesses' sweep (see there for the one
// limit). Output is kept to its first bytes for the result text.
// Check programs never inherit the agent's capabilities: the ambient set (how systemd's
// AmbientCapabilities= reaches a non-root agent) is emptied before each one starts.
import CProcess

#if canImport(Glibc)
    import Glibc
#endif

/// How much of the program's output (stdout and stderr together) is kept for the result text.
let execOutputLimit = 200

struct ExecCheck: Sendable {
    let command: [String]
    /// False forces the waitid polling used where pidfd_open is missing (tests cover both paths).
    var usePidfd = true

    var description: String { "exec " + command.joined(separator: " ") }

    func run(timeout: Int64, cancel: CancelSignal?) -> (success: Bool, detail: String) {
        guard let program = command.first, !program.isEmpty else { return (false, "bad check: empty command") }
        let deadline = monotonicNanos() + timeout

        guard let (readFD, writeFD) = makePipe() else { return (false, "pipe: \(errorText(errno))") }
        _ = fcntl(readFD, F_SETFL, fcntl(readFD, F_GETFL) | O_NONBLOCK)
        defer { close(readFD) }

        // The agent keeps its own capabilities; only what a child would inherit is dropped. On kernels
        // before 4.3 this fails with EINVAL, and there is no ambient set to inherit either.
        _ = acd_clear_ambient_capabilities()
        let (spawned, tag) = CheckProcesses.shared.spawn { tag in
            spawn(program: program, stdoutFD: writeFD, tag: tag)
        }
        close(writeFD)
        let pid: pid_t
        switch spawned {
        case .success(let value): pid = value
        case .failure(let failure): return (false, "cannot run \(program): \(errorText(failure.code))")
        }
        // Runs after the leader is reaped on every path below: its leftovers become strays for the sweep.
        defer { CheckProcesses.shared.finished(pid: pid, tag: tag) }

        var output = OutputPrefix()
        let exitWatch = ExitWatch(pid: pid, usePidfd: usePidfd)
        defer { exitWatch.close() }
        var outputOpen = true
        var status: Int32?
        while status == nil {
            if let cancel, cancel.isFired {
                killAndReap(pid)
                return (false, "cancelled")
            }
            if monotonicNanos() >= deadline {
                killAndReap(pid)
                output.drain(readFD)
                let text = output.firstLine.map { ": " + $0 } ?? ""
                return (false, "timeout after \(Duration.nanoseconds(timeout).humanText), process group killed\(text)")
            }
            var entries = [
                pollfd(fd: outputOpen ? readFD : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: exitWatch.fd, events: Int16(POLLIN), revents: 0),
            ]
            // Without a pidfd the exit is polled for every 10 ms.
            let until = exitWatch.fd >= 0 ? deadline : min(deadline, monotonicNanos() + 10_000_000)
            if !waitReady(&entries, until: until, cancel: cancel) {
                killAndReap(pid)
                return (false, "cancelled")
            }
            if entries[0].revents != 0 { outputOpen = output.drain(readFD) }
            if exitWatch.fd < 0 || entries[1].revents != 0 {
                switch exitWatch.state() {
                case .running: break
                case .exited(let code): status = code
                case .lost(let code):
                    killAndReap(pid)
                    return (false, "exit status lost: waitid: \(errorText(code)) (is SIGCHLD ignored?)")
                }
            }
        }
        // The leader has exited but is not reaped yet, so its pid still names the group: kill what it
        // left behind in the group, then reap.
        kill(-pid, SIGKILL)
        let final = reap(pid) ?? status ?? 0
        output.drain(readFD)
        return describe(final, output.firstLine)
    }

    private func describe(_ status: Int32, _ line: String?) -> (success: Bool, detail: String) {
        let suffix = line.map { ": " + $0 } ?? ""
        let signal = status & 0x7F
        if signal == 0 {
            let code = (status >> 8) & 0xFF
            return (code == 0, "exit \(code)\(suffix)")
        }
        return (false, "killed by signal \(signal)\(suffix)")
    }

    /// Starts the program with stdin from /dev/null, stdout and stderr into `stdoutFD`, default signal
    /// dispositions and an empty signal mask (the daemon blocks or ignores some), in a new process group, with
    /// the run's tag (ANYCASTD_CHECK=N) added to the agent's environment.
    private func spawn(program: String, stdoutFD: Int32, tag: UInt64) -> Result<pid_t, SystemCallFailure> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutFD, 1)
        posix_spawn_file_actions_adddup2(&actions, stdoutFD, 2)
        // Other parts of the daemon (netlink, BGP sockets) may hold descriptors without close-on-exec; the
        // check program gets stdio only (where libc has closefrom for spawn: glibc 2.34+).
        _ = Self.addCloseFrom.map { $0(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) }
        argv.append(nil)
        defer { argv.forEach { free($0) } }
        var environment: [UnsafeMutablePointer<CChar>?] = [strdup("\(checkTagVariable)=\(tag)")]
        defer { free(environment[0]) }
        let tagPrefix = Array("\(checkTagVariable)=".utf8CString.dropLast())
        var entry = environ
        while let variable = entry.pointee {
            if strncmp(variable, tagPrefix, tagPrefix.count) != 0 { environment.append(variable) }
            entry += 1
        }
        environment.append(nil)
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, program, &actions, &attributes, argv, environment)
        return result == 0 ? .success(pid) : .failure(SystemCallFailure(call: "posix_spawnp", code: result))
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    /// posix_spawn_file_actions_addclosefrom_np, which Glibc's Swift overlay does not export.
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    private func killAndReap(_ pid: pid_t) {
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
        _ = reap(pid)
    }

    /// waitpid that retries on EINTR; nil if the child was already reaped.
    private func reap(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, 0)
            if result == pid { return status }
            if result < 0 && errno == EINTR { continue }
            return nil
        }
    }
}

/// Learns when a child exits without reaping it (the pid must stay valid for the group kill): a pidfd
/// where the kernel (5.3+) and libc (2.36+) offer one, else waitid(WNOWAIT) polled every 10 ms.
private struct ExitWatch {
    let pid: pid_t
    let fd: Int32

    private typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
    private static let pidfdOpen: PidfdOpen? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pidfd_open") else { return nil }
        return unsafeBitCast(symbol, to: PidfdOpen.self)
    }()

    enum State {
        case running
        /// Exited, with a wait(2)-style status; not reaped yet.
        case exited(Int32)
        /// waitid failed (ECHILD: someone else reaped it, as with SIGCHLD set to SIG_IGN).
        case lost(Int32)
    }

    init(pid: pid_t, usePidfd: Bool) {
        self.pid = pid
        self.fd = usePidfd ? Self.pidfdOpen.map { $0(pid, 0) } ?? -1 : -1
    }

    func state() -> State {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 {
            if errno != EINTR { return .lost(errno) }
        }
        guard info._sifields._sigchld.si_pid == pid else { return .running }
        let code = info._sifields._sigchld.si_status
        return .exited(info.si_code == CLD_EXITED ? (code & 0xFF) << 8 : code & 0x7F)
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
    }
}

/// The first bytes of a child's output; everything after the limit is read and dropped, so the child
/// never blocks on a full pipe.
private struct OutputPrefix {
    var bytes: [UInt8] = []
    var truncated = false

    /// Reads what is available (at most 64 KiB, so a chatty child cannot hold the check past its
    /// deadline); returns false at end of file.
    @discardableResult
    mutating func drain(_ fd: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<16 {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count == 0 { return false }
            if count < 0 { return errno == EAGAIN || errno == EINTR }
            let room = execOutputLimit - bytes.count
            if room > 0 { bytes.append(contentsOf: buffer[0..<min(room, count)]) }
            if count > room { truncated = true }
        }
        return true
    }

    /// The first non-empty line, control characters replaced, marked with "…" if cut at the limit.
    var firstLine: String? {
        let text = String(decoding: bytes, as: UTF8.self)
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" })
        guard let index = lines.firstIndex(where: { !$0.allSatisfy(\.isWhitespace) }) else { return nil }
        let line = String(lines[index]).trimmingWhitespace()
        let cut = truncated && index == lines.count - 1
        return String(line.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
            + (cut ? "…" : "")
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
