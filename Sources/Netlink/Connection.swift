// The rtnetlink socket I/O under NetlinkSocket and NetlinkMonitor: opening and configuring a libmnl
// socket, request/reply dumps, and batches of acknowledged requests. It checks that every reply
// comes from the kernel, for our port and our sequence number; encoding and decoding live elsewhere.
import CMnl
import Glibc

/// An errno from the kernel with its extended-ack text.
struct KernelError: Error, Equatable {
    var errno: Int32
    var message: String?
}

/// One NETLINK_ROUTE socket; not thread-safe, so its owners keep it behind a lock or on one thread.
final class Connection {
    /// Largest batch written in one sendmsg. Every message in it is acknowledged, and the kernel
    /// queues all acknowledgements before sendmsg returns, so this bounds what the receive buffer
    /// must hold (about 1,000 address messages, each ACK taking about 1 KiB of buffer).
    static let batchLimit = 64 * 1024
    /// How long a reply may take before a request is given up as unanswered.
    static let replyTimeoutSeconds = 10
    /// Dumps interrupted by concurrent changes (NLM_F_DUMP_INTR) are retried this many times.
    static let dumpAttempts = 10

    let socket: OpaquePointer
    let portID: UInt32
    private var sequence: UInt32
    /// How many dumps came back marked NLM_F_DUMP_INTR and were retried.
    private(set) var interruptedDumps = 0
    private let receiveBuffer: UnsafeMutableRawBufferPointer
    private let sendBuffer: UnsafeMutableRawBufferPointer

    /// Opens a socket in the calling thread's network namespace, subscribed to `groups`.
    init(groups: [UInt32] = [], receiveBufferBytes: Int32, replyTimeout: Bool) throws(NetlinkError) {
        let context = "open rtnetlink socket"
        guard let socket = mnl_socket_open2(NETLINK_ROUTE, Int32(SOCK_CLOEXEC.rawValue)) else {
            throw NetlinkError(context: context, errno: errno)
        }
        var enable: Int32 = 1
        // Extended acks carry the kernel's reason as text; capped acks do not echo each request back.
        // Best effort: kernels before 4.12 lack them, and everything works without.
        mnl_socket_setsockopt(socket, NETLINK_EXT_ACK, &enable, socklen_t(MemoryLayout<Int32>.size))
        mnl_socket_setsockopt(socket, NETLINK_CAP_ACK, &enable, socklen_t(MemoryLayout<Int32>.size))
        // Strict checking makes the kernel honour filters in dump requests (an address dump of one link),
        // so churn on other links neither fills the reply nor interrupts it (Linux 4.20; best effort).
        mnl_socket_setsockopt(socket, NETLINK_GET_STRICT_CHK, &enable, socklen_t(MemoryLayout<Int32>.size))
        let fd = mnl_socket_get_fd(socket)
        var size = receiveBufferBytes
        // SO_RCVBUFFORCE passes net.core.rmem_max (needs CAP_NET_ADMIN); SO_RCVBUF is capped by it.
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        if replyTimeout {
            var timeout = timeval(tv_sec: Self.replyTimeoutSeconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        guard mnl_socket_bind(socket, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let error = NetlinkError(context: context, errno: errno)
            mnl_socket_close(socket)
            throw error
        }
        for var group in groups
        where mnl_socket_setsockopt(socket, NETLINK_ADD_MEMBERSHIP, &group, socklen_t(MemoryLayout<UInt32>.size)) != 0 {
            let error = NetlinkError(context: "subscribe to rtnetlink group \(group)", errno: errno)
            mnl_socket_close(socket)
            throw error
        }
        self.socket = socket
        self.portID = mnl_socket_get_portid(socket)
        // Distinct starting points keep replies to an earlier socket on the same port apart.
        self.sequence = UInt32(truncatingIfNeeded: time(nil))
        self.receiveBuffer = .allocate(byteCount: 64 * 1024, alignment: 8)
        self.sendBuffer = .allocate(byteCount: Self.batchLimit + MessageEncoder.maximumMessageSize, alignment: 8)
        self.sendBuffer.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        mnl_socket_close(socket)
        receiveBuffer.deallocate()
        sendBuffer.deallocate()
    }

    var fileDescriptor: Int32 { mnl_socket_get_fd(socket) }

    private func nextSequence() -> UInt32 {
        sequence &+= 1
        return sequence
    }

    /// Reads one datagram and decodes it; datagrams not sent by the kernel are dropped.
    func receive(wait: Bool) -> Result<[DecodedMessage], KernelError> {
        var sender = sockaddr_nl()
        var vector = iovec(iov_base: receiveBuffer.baseAddress, iov_len: receiveBuffer.count)
        let count = withUnsafeMutablePointer(to: &sender) { senderPointer in
            withUnsafeMutablePointer(to: &vector) { vectorPointer in
                var header = msghdr()
                header.msg_name = UnsafeMutableRawPointer(senderPointer)
                header.msg_namelen = socklen_t(MemoryLayout<sockaddr_nl>.size)
                header.msg_iov = vectorPointer
                header.msg_iovlen = 1
                let received = recvmsg(fileDescriptor, &header, wait ? 0 : Int32(MSG_DONTWAIT))
                return received >= 0 && header.msg_flags & Int32(MSG_TRUNC) != 0 ? -2 : received
            }
        }
        if count == -2 { return .failure(KernelError(errno: EMSGSIZE, message: "reply larger than 64 KiB")) }
        guard count >= 0 else { return .failure(KernelError(errno: errno)) }
        guard sender.nl_pid == 0 else { return .success([]) }
        return .success(MessageDecoder.decode(UnsafeRawBufferPointer(rebasing: receiveBuffer[..<count])))
    }

    /// Whether a message answers our request `sequence` (the kernel addresses replies to our port).
    private func answers(_ message: DecodedMessage, _ sequence: UInt32) -> Bool {
        message.header.sequence == sequence && message.header.portID == portID
    }

    /// Sends a dump request and collects the bodies of every reply, retrying when the kernel marks the
    /// dump interrupted (NLM_F_DUMP_INTR: the table changed while it was being read).
    func dump(_ request: NetlinkRequest, context: String) throws(NetlinkError) -> [MessageBody] {
        for _ in 0..<Self.dumpAttempts {
            let sequence = nextSequence()
            let length = MessageEncoder.encode(request, sequence: sequence, into: sendBuffer.baseAddress!)
            guard mnl_socket_sendto(socket, sendBuffer.baseAddress, length) >= 0 else {
                throw NetlinkError(context: context, errno: errno)
            }
            var bodies: [MessageBody] = []
            var interrupted = false
            var finished = false
            while !finished {
                let messages: [DecodedMessage]
                switch receive(wait: true) {
                case .success(let received): messages = received
                case .failure(let error) where error.errno == EINTR: continue
                case .failure(let error) where error.errno == EAGAIN:
                    throw NetlinkError(
                        operation: context, errno: ETIMEDOUT,
                        message: "no answer from the kernel within \(Self.replyTimeoutSeconds) s")
                case .failure(let error): throw NetlinkError(context: context, error)
                }
                for message in messages where answers(message, sequence) {
                    if message.header.flags & UInt16(NLM_F_DUMP_INTR) != 0 { interrupted = true }
                    switch message.body {
                    case .done(let errno):
                        guard errno == 0 else { throw NetlinkError(context: context, errno: errno) }
                        finished = true
                    case .ack(_, let errno, let text):
                        guard errno == 0 else {
                            throw NetlinkError(context: context, errno: errno, kernelMessage: text)
                        }
                        finished = true
                    default:
                        bodies.append(message.body)
                    }
                }
            }
            if !interrupted { return bodies }
            interruptedDumps += 1
        }
        throw NetlinkError(
            operation: context, errno: EINTR,
            message: "the kernel interrupted the dump \(Self.dumpAttempts) times (the table kept changing); retry")
    }

    /// Sends acknowledged requests in as few batches as fit `batchLimit` and returns the first failure
    /// for each tag; tags without an entry succeeded. Requests run in order, each on its own: one
    /// failing does not stop the others.
    func batch(_ requests: [(tag: Int, request: NetlinkRequest)]) -> [Int: KernelError] {
        var failures: [Int: KernelError] = [:]
        guard !requests.isEmpty else { return failures }
        guard let batch = mnl_nlmsg_batch_start(sendBuffer.baseAddress, Self.batchLimit) else {
            for entry in requests { failures[entry.tag] = KernelError(errno: ENOMEM) }
            return failures
        }
        defer { mnl_nlmsg_batch_stop(batch) }
        var inFlight: [(sequence: UInt32, tag: Int)] = []
        for entry in requests {
            let sequence = nextSequence()
            _ = MessageEncoder.encode(entry.request, sequence: sequence, into: mnl_nlmsg_batch_current(batch))
            if mnl_nlmsg_batch_next(batch) {
                inFlight.append((sequence, entry.tag))
                continue
            }
            // The message did not fit: send what is before it, then start over with it at the head.
            sendAndCollect(batch, inFlight, into: &failures)
            mnl_nlmsg_batch_reset(batch)
            inFlight = [(sequence, entry.tag)]
        }
        if !inFlight.isEmpty {
            sendAndCollect(batch, inFlight, into: &failures)
        }
        return failures
    }

    private func sendAndCollect(
        _ batch: OpaquePointer, _ inFlight: [(sequence: UInt32, tag: Int)], into failures: inout [Int: KernelError]
    ) {
        guard mnl_socket_sendto(socket, mnl_nlmsg_batch_head(batch), mnl_nlmsg_batch_size(batch)) >= 0 else {
            let error = KernelError(errno: errno)
            for entry in inFlight where failures[entry.tag] == nil { failures[entry.tag] = error }
            return
        }
        var outstanding = Dictionary(inFlight.map { ($0.sequence, $0.tag) }, uniquingKeysWith: { first, _ in first })
        var overrun = false
        while !outstanding.isEmpty {
            // After an overrun the remaining acknowledgements are either queued already or lost.
            switch receive(wait: !overrun) {
            case .success(let messages):
                for message in messages where message.header.portID == portID {
                    guard case .ack(_, let errno, let text) = message.body,
                        let tag = outstanding.removeValue(forKey: message.header.sequence)
                    else { continue }
                    if errno != 0, failures[tag] == nil { failures[tag] = KernelError(errno: errno, message: text) }
                }
            case .failure(let error) where error.errno == EINTR: continue
            case .failure(let error) where error.errno == ENOBUFS: overrun = true
            case .failure(let error):
                let lost =
                    overrun
                    ? KernelError(errno: ENOBUFS)
                    : error.errno == EAGAIN
                        ? KernelError(errno: ETIMEDOUT, message: "no answer within \(Self.replyTimeoutSeconds) s")
                        : error
                for tag in outstanding.values where failures[tag] == nil { failures[tag] = lost }
                outstanding = [:]
            }
        }
    }
}

extension NetlinkError {
    init(context: String, _ error: KernelError) {
        self.init(context: context, errno: error.errno, kernelMessage: error.message)
    }
}
