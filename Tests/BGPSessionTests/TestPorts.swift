// Test ports below the kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range), so a listener
// never collides with the source port of some outgoing connection, and distinct within one test run.
import Foundation
import Synchronization

enum TestPorts {
    /// The first port of the ephemeral range (32768 when it cannot be read).
    static let ephemeralStart: Int = {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        return text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32768
    }()

    private static let next = Mutex<Int?>(nil)

    /// `count` consecutive free-looking ports below the ephemeral range; each call returns new ones.
    static func take(_ count: Int = 2) -> Int {
        next.withLock { next in
            let low = 20000
            let high = max(low + 1000, ephemeralStart - 1)
            var base = next ?? Int.random(in: low..<(high - 500))
            if base + count >= high { base = low }
            next = base + count
            precondition(base + count < ephemeralStart || ephemeralStart <= low, "test port in the ephemeral range")
            return base
        }
    }
}
