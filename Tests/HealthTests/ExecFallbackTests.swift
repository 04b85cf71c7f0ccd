// The exec check without pidfd_open (libc before 2.36 or kernel before 5.3): exits are found by polling
// waitid, and timeouts still kill the whole group.
import Testing

@testable import Health

#if canImport(Glibc)
    import Glibc
#endif

struct ExecFallbackTests {
    func run(_ command: [String], timeoutMs: Int64 = 5000) -> (success: Bool, detail: String) {
        ExecCheck(command: command, usePidfd: false).run(timeout: timeoutMs * 1_000_000, cancel: nil)
    }

    @Test func exitStatusWithoutPidfd() {
        #expect(run(["/bin/true"]) == (true, "exit 0"))
        #expect(run(["/bin/sh", "-c", "echo no >&2; exit 7"]) == (false, "exit 7: no"))
    }

    @Test func timeoutWithoutPidfd() async {
        let result = run(["/bin/sh", "-c", "sleep 10 & echo $$ $!; wait"], timeoutMs: 200)
        #expect(!result.success)
        #expect(result.detail.hasPrefix("timeout after 200 ms, process group killed: "), "\(result)")
        let pids = result.detail.split(separator: ":").last?.split(separator: " ").compactMap { pid_t($0) } ?? []
        #expect(pids.count == 2)
        for pid in pids {
            let gone = await waitUntil(seconds: 3) { processIsGone(pid) }
            #expect(gone, "process \(pid) survived: \(procStat(pid))")
        }
    }

    @Test func cancelKillsTheChild() async {
        let cancel = CancelSignal()
        let task = Task.detached {
            ExecCheck(command: ["/bin/sleep", "10"]).run(timeout: 10_000_000_000, cancel: cancel)
        }
        try? await Task.sleep(for: .milliseconds(200))
        cancel.fire()
        let result = await task.value
        #expect(result == (false, "cancelled"))
    }
}
