// The stop deadline's evidence: the line it logs before _exit names every thread with its state.
import Testing

@testable import Daemon

@Suite struct StopDeadlineTests {
    @Test func describesEveryThreadWithItsState() {
        let text = StopDeadline.threads()
        let entries = text.split(separator: ";").map { $0.split(separator: " ") }
        #expect(entries.count >= 2, "\(text)")
        #expect(entries.allSatisfy { $0.count == 4 && Int($0[0]) != nil }, "\(text)")
        // The calling thread is running while it reads its own state.
        #expect(entries.contains { $0.count == 4 && $0[2] == "R" }, "\(text)")
    }
}
