// What keeps clients of the metrics endpoint and the control socket from taking descriptors, memory or CPU
// that health checks, netlink and BGP need: a cap on open connections per endpoint (a connection above
// it is accepted and closed at once, so the listen backlog never makes the event loop spin), and the
// process's soft descriptor limit raised to its hard limit at start.
import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Counts the open connections of one endpoint and refuses those above its limit.
final class ConnectionGate: Sendable {
    let limit: Int
    private let open = Atomic<Int>(0)
    private let refusedCount = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    /// Connections open now.
    var current: Int { open.load(ordering: .relaxed) }
    /// Connections refused since start.
    var refused: Int { refusedCount.load(ordering: .relaxed) }

    /// Takes a place for a new connection; false (and counted as refused) when all are taken.
    func enter() -> Bool {
        let now = open.add(1, ordering: .acquiringAndReleasing).newValue
        guard now > limit else { return true }
        open.subtract(1, ordering: .acquiringAndReleasing)
        refusedCount.add(1, ordering: .relaxed)
        return false
    }

    func leave() { open.subtract(1, ordering: .acquiringAndReleasing) }

    /// For a child channel initializer: admits `channel` (its place is given back when it closes) or
    /// fails, which makes NIO close the accepted socket at once.
    func admit(_ channel: any Channel) -> Bool {
        guard enter() else { return false }
        channel.closeFuture.whenComplete { _ in self.leave() }
        return true
    }
}

/// The error a refused connection's initializer fails with (NIO then closes the socket).
struct ConnectionRefused: Error, CustomStringConvertible {
    let endpoint: String
    let limit: Int
    var description: String { "\(endpoint): refused a connection: \(limit) connections open (the limit)" }
}

/// The process's descriptor limits, after an attempt to raise the soft one.
public struct DescriptorLimit: Sendable, Equatable {
    public var soft: UInt64
    public var hard: UInt64

    /// The soft limit `raise()` aims for when the hard limit allows it: far above what the capped endpoints,
    /// peers and checks use, yet small enough for programs (exec checks inherit it) that loop up to it.
    public static let target: UInt64 = 65536

    /// Raises the soft RLIMIT_NOFILE towards the hard limit (at most `target`), so that clients of the
    /// endpoints can never starve health checks (a pipe and /dev/null per exec), netlink or BGP of
    /// descriptors. Never lowers it. Returns the limits in force.
    @discardableResult
    public static func raise() -> DescriptorLimit {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return DescriptorLimit(soft: 0, hard: 0) }
        let wanted = min(UInt64(limit.rlim_max), target)
        if UInt64(limit.rlim_cur) < wanted {
            var raised = limit
            raised.rlim_cur = rlim_t(wanted)
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return DescriptorLimit(soft: UInt64(limit.rlim_cur), hard: UInt64(limit.rlim_max))
    }
}
