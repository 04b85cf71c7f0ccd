// NetlinkMonitor: a Runtime.PollThread reads the rtnetlink link and address multicast groups and turns
// RTM_NEWLINK/DELLINK/NEWADDR/DELADDR into NetlinkEvents on an AsyncStream; the Daemon reacts to
// them at once instead of polling. Lost events (ENOBUFS) become .overrun, which calls for a resync.
import CMnl
import Glibc
import Runtime

/// Kernel notifications about links and addresses (`ip monitor link address`), in the network
/// namespace of the thread that created the monitor.
public final class NetlinkMonitor: Sendable {
    private let stream: AsyncStream<NetlinkEvent>
    private let thread: PollThread

    /// Subscribes to RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR and RTNLGRP_IPV6_IFADDR and starts reading.
    /// Events that happen from now on are buffered until `events()` is consumed.
    public convenience init() throws(NetlinkError) {
        // A large buffer rides out bursts (10,000 address changes) without losing events.
        try self.init(receiveBufferBytes: 16 << 20)
    }

    /// A monitor with a chosen socket receive buffer; `beforeEachRead` runs on the reader thread each
    /// time the socket is readable. Tests use a tiny buffer and a slow reader to provoke ENOBUFS.
    init(receiveBufferBytes: Int32, beforeEachRead: (@Sendable () -> Void)? = nil) throws(NetlinkError) {
        let groups = [RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR].map { $0.rawValue }
        let connection = try Connection(groups: groups, receiveBufferBytes: receiveBufferBytes, replyTimeout: false)
        let (stream, continuation) = AsyncStream.makeStream(of: NetlinkEvent.self, bufferingPolicy: .unbounded)
        let reader = MonitorReader(connection: connection, continuation: continuation, beforeEachRead: beforeEachRead)
        do {
            thread = try PollThread(name: "netlink-monitor") { thread in reader.run(on: thread) }
        } catch {
            continuation.finish()
            throw NetlinkError(context: "start the netlink monitor thread", errno: error.code)
        }
        self.stream = stream
    }

    /// The events, in the order the kernel sent them; the stream ends after `stop()`. It has a single
    /// consumer: every call returns the same stream.
    public func events() -> AsyncStream<NetlinkEvent> { stream }

    /// Stops the reader thread and ends the stream; returns once the thread has exited.
    public func stop() { thread.stop() }
}

/// The reader thread's state; it owns the socket, which closes when the thread ends. Used by that
/// thread only (handed over once at start).
private final class MonitorReader: @unchecked Sendable {
    let connection: Connection
    let continuation: AsyncStream<NetlinkEvent>.Continuation
    let beforeEachRead: (@Sendable () -> Void)?

    init(
        connection: Connection, continuation: AsyncStream<NetlinkEvent>.Continuation,
        beforeEachRead: (@Sendable () -> Void)?
    ) {
        self.connection = connection
        self.continuation = continuation
        self.beforeEachRead = beforeEachRead
    }

    /// Waits for the socket, and drains it each time it is readable, until the thread is stopped.
    func run(on thread: PollThread) {
        defer { continuation.finish() }
        var descriptors = [pollfd(fd: connection.fileDescriptor, events: Int16(POLLIN), revents: 0)]
        while thread.wait(&descriptors, until: nil) {
            if descriptors[0].revents != 0 {
                beforeEachRead?()
                drain()
            }
        }
    }

    private func drain() {
        while true {
            switch connection.receive(wait: false) {
            case .success(let messages):
                for message in messages {
                    if let event = MonitorEvents.event(message.body) { continuation.yield(event) }
                }
            case .failure(let error) where error.errno == EAGAIN || error.errno == EWOULDBLOCK: return
            case .failure(let error) where error.errno == EINTR: continue
            // The kernel dropped notifications; the socket keeps working, so read on.
            case .failure(let error) where error.errno == ENOBUFS: continuation.yield(.overrun)
            // Anything else unreadable is as good as lost; poll again rather than spin.
            case .failure:
                continuation.yield(.overrun)
                return
            }
        }
    }
}

/// Which decoded messages are events for the monitor's listener.
enum MonitorEvents {
    static func event(_ body: MessageBody) -> NetlinkEvent? {
        switch body {
        case .link(let link): .linkChanged(link)
        case .linkRemoved(let index, let name): .linkRemoved(index: index, name: name)
        case .address(let address): .addressAdded(address)
        case .addressRemoved(let address): .addressRemoved(address)
        case .ack, .done, .ignored: nil
        }
    }
}
