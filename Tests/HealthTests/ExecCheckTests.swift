import CProcess
// The exec check: exit status, output capture and truncation, no shell, timeout kills the whole process
// group, and no child is left behind or unreaped.
import Config
import Foundation
import Health
import Testing

#if canImport(Glibc)
    import Glibc
#endif

struct ExecCheckTests {
    func execCheck(_ command: [String], timeout: Duration = .seconds(5)) -> HealthCheck {
        HealthCheck(config: CheckConfig(kind: .exec(command: command), timeout: timeout), defaultDNSServer: nil)
    }

    /// The pids a script printed, one per word of the result's output part.
    func pids(in detail: String) -> [pid_t] {
        guard let colon = detail.lastIndex(of: ":") else { return [] }
        return detail[detail.index(after: colon)...].split(separator: " ").compactMap { pid_t($0) }
    }

    @Test func trueIsUp() {
        let check = execCheck(["/bin/true"])
        #expect(check.description == "exec /bin/true")
        let result = check.run()
        #expect(result.success)
        #expect(result.detail == "exit 0")
    }

    /// Capabilities the agent holds in its ambient set (systemd's AmbientCapabilities=) do not reach the
    /// check program; the agent's own are untouched.
    @Test func checkProgramsGetNoAmbientCapabilities() throws {
        let capNetAdmin: Int32 = 12
        try #require(acd_raise_ambient_capability(capNetAdmin) == 0, "cannot raise CAP_NET_ADMIN: errno \(errno)")
        #expect(acd_ambient_capabilities() == 1 << 12)
        let result = execCheck(["/bin/grep", "CapAmb", "/proc/self/status"]).run()
        #expect(result.success, "\(result)")
        #expect(result.detail.hasSuffix("CapAmb: 0000000000000000"), "\(result.detail)")
        #expect(acd_ambient_capabilities() == 0)
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let effective = status.split(separator: "\n").first { $0.hasPrefix("CapEff:") }
        #expect(
            effective.map { UInt64($0.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16)! & (1 << 12) } != 0)
    }

    @Test func falseIsDown() {
        let result = execCheck(["/bin/false"]).run()
        #expect(!result.success)
        #expect(result.detail == "exit 1")
    }

    @Test func programIsFoundOnPath() {
        let result = execCheck(["true"]).run()
        #expect(result.success, "\(result)")
    }

    @Test func firstLineOfStdoutOrStderr() {
        let result = execCheck(["/bin/sh", "-c", "echo; echo '  disk full  ' >&2; echo second; exit 3"]).run()
        #expect(!result.success)
        #expect(result.detail == "exit 3: disk full")
    }

    @Test func noShellIsInvolved() {
        let result = execCheck(["/bin/echo", "$HOME", ";", "false"]).run()
        #expect(result.success)
        #expect(result.detail == "exit 0: $HOME ; false")
    }

    @Test func outputIsCutAt200Bytes() {
        let result = execCheck(["/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' a; exit 1"]).run()
        #expect(!result.success)
        #expect(result.detail == "exit 1: " + String(repeating: "a", count: 200) + "…")
    }

    @Test func controlCharactersAreReplaced() {
        let result = execCheck(["/bin/sh", "-c", "printf 'bad\\033[31mred\\tx'; exit 2"]).run()
        #expect(result.detail == "exit 2: bad [31mred x")
    }

    @Test func missingProgram() {
        let result = execCheck(["/nonexistent/check"]).run()
        #expect(!result.success)
        #expect(result.detail == "cannot run /nonexistent/check: No such file or directory")
    }

    @Test func emptyCommand() {
        #expect(execCheck([]).run().detail == "bad check: empty command")
    }

    @Test func killedBySignal() {
        let result = execCheck(["/bin/sh", "-c", "kill -TERM $$"]).run()
        #expect(!result.success)
        #expect(result.detail == "killed by signal 15")
    }

    @Test func timeoutKillsTheWholeGroupAndReaps() async {
        // The shell prints its own pid and a background child's, then waits: both must die at the timeout.
        let start = Date()
        let result = execCheck(["/bin/sh", "-c", "sleep 10 & echo $$ $!; wait"], timeout: .milliseconds(300)).run()
        let elapsed = Date().timeIntervalSince(start)
        #expect(!result.success)
        #expect(result.detail.hasPrefix("timeout after 300 ms, process group killed: "), "\(result)")
        #expect(elapsed >= 0.3 && elapsed < 2, "took \(elapsed) s")
        let found = pids(in: result.detail)
        #expect(found.count == 2, "\(result)")
        for pid in found {
            // SIGKILL to a process that is not our child takes effect asynchronously.
            let gone = await waitUntil(seconds: 3) { processIsGone(pid) }
            #expect(gone, "process \(pid) survived the timeout: \(procStat(pid))")
        }
    }

    @Test func plainSleepIsKilledAtTheTimeout() {
        let result = execCheck(["/bin/sleep", "10"], timeout: .milliseconds(200)).run()
        #expect(!result.success)
        #expect(result.detail == "timeout after 200 ms, process group killed")
        #expect(result.duration < .seconds(2))
    }

    @Test func leftoversOfASuccessfulCheckAreKilled() async {
        // The check exits 0 at once but leaves a background sleep holding the output pipe.
        let result = execCheck(["/bin/sh", "-c", "sleep 10 & echo $! $$; exit 0"], timeout: .seconds(3)).run()
        #expect(result.success, "\(result)")
        #expect(result.duration < .seconds(2), "the exit must be seen without waiting for the pipe: \(result)")
        let found = pids(in: result.detail)
        #expect(found.count == 2, "\(result)")
        for pid in found {
            let gone = await waitUntil(seconds: 3) { processIsGone(pid) }
            #expect(gone, "process \(pid) was left behind: \(procStat(pid))")
        }
    }

    @Test func childIsReapedAfterANormalExit() {
        let result = execCheck(["/bin/sh", "-c", "echo $$; exit 4"]).run()
        #expect(result.detail.hasPrefix("exit 4: "))
        let found = pids(in: result.detail)
        #expect(found.count == 1)
        // Not even a zombie: the check reaped its child.
        for pid in found { #expect(kill(pid, 0) == -1 && errno == ESRCH, "child \(pid) not reaped") }
    }

    @Test func runsInItsOwnProcessGroup() {
        let result = execCheck(["/bin/sh", "-c", "echo $$ $(ps -o pgid= -p $$)"]).run()
        let found = pids(in: result.detail)
        #expect(found.count == 2, "\(result)")
        #expect(found.first == found.last, "pid and process group differ: \(result)")
        #expect(found.first != getpgrp())
    }
}

extension ExecCheckTests {
    @Test func childGetsOnlyStdio() {
        // stdout and stderr are the capture pipe; the daemon's other descriptors do not leak into checks.
        let result = execCheck(["/bin/sh", "-c", "ls -m /proc/$$/fd"]).run()
        #expect(result.detail == "exit 0: 0, 1, 2", "\(result)")
        let stdin = execCheck(["/bin/sh", "-c", "readlink /proc/$$/fd/0"]).run()
        #expect(stdin.detail == "exit 0: /dev/null", "\(stdin)")
    }
}
