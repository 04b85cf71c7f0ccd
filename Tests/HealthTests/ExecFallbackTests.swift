// The exec check without pidfd_open (libc before 2.36 or kernel before 5.3): exits are found by polling
// waitid, and timeouts still kill the whole group.
import Foundation
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

    @Test func cancelKillsTheChild() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "acd-health-cancel-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: file) }
        let cancel = CancelSignal()
        let command = ["/bin/sh", "-c", "echo $$ > \(file.path); exec /bin/sleep 10"]
        let task = Task.detached {
            ExecCheck(command: command).run(timeout: 10_000_000_000, cancel: cancel)
        }
        // Cancel only once the child runs (it wrote its pid), so the test is about killing it.
        let written = await waitUntil(seconds: 5) {
            ((try? String(contentsOf: file, encoding: .utf8)) ?? "").hasSuffix("\n")
        }
        #expect(written, "the check never started")
        let pid = pid_t(
            ((try? String(contentsOf: file, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines))
        cancel.fire()
        let result = await task.value
        #expect(result == (false, "cancelled"))
        let child = try #require(pid)
        // The check reaped its child before returning: no process, not even a zombie, has that pid now.
        #expect(kill(child, 0) == -1 && errno == ESRCH, "child \(child) survived cancel: \(procStat(child))")
    }
}
