// The I/O shell of BGP unnumbered's neighbor discovery: one raw ICMPv6 socket per peer interface (bound to
// it, receiving only Router Solicitations and Advertisements), on one PollThread. It sends the agent's
// Router Advertisements to ff02::1 from the interface's link-local address with hop limit 255, reads what
// arrives (at most 1500 bytes a packet, 64 packets a link per second; the rest is read and dropped) and
// hands each to the pure LinkNeighbors, whose neighbor changes go to the caller. An interface that does
// not exist yet is retried every few seconds. Needs CAP_NET_RAW. RFC 4861 §4.1, §4.2, §6.1, §6.2.
import NeighborDiscovery
import NetAddress
import Runtime
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Sends Router Advertisements on the links of unnumbered peers and learns the router on each.
public final class NeighborDiscoverySpeaker: Sendable {
    /// The most packets a link may deliver per second; more are read and dropped.
    public static let packetsPerSecond = 64
    /// How often a missing interface (or one whose socket failed) is tried again.
    public static let retryInterval: Duration = .seconds(5)

    fileprivate struct Shared {
        var interfaces: Set<String> = []
        var neighbors: [String: IPv6Address] = [:]
        var dropped = 0
    }

    /// What the caller and the thread share.
    fileprivate final class Core: Sendable {
        let shared = Mutex(Shared())
    }

    private let core = Core()
    private let thread: PollThread?

    /// Starts the thread. `onChange` runs on it for every neighbor learnt, changed or forgotten (nil), and
    /// `log` for problems worth a line; neither may block.
    public init(
        timing: LinkNeighbors.Timing = .init(),
        onChange: @escaping @Sendable (_ interface: String, _ neighbor: IPv6Address?) -> Void,
        log: @escaping @Sendable (String) -> Void
    ) throws(RuntimeError) {
        let core = self.core
        thread = try PollThread(name: "neighbor-discovery") { thread in
            var loop = DiscoveryLoop(
                core: core, thread: thread, state: LinkNeighbors(timing: timing), onChange: onChange, log: log)
            loop.run()
        }
    }

    deinit { thread?.stop() }

    /// The interfaces with unnumbered peers; an empty set closes every socket.
    public func setInterfaces(_ interfaces: Set<String>) {
        let changed = core.shared.withLock { shared in
            defer { shared.interfaces = interfaces }
            return shared.interfaces != interfaces
        }
        if changed { thread?.wake() }
    }

    /// The router learnt on each interface.
    public var neighbors: [String: IPv6Address] { core.shared.withLock { $0.neighbors } }

    /// Packets dropped over the per-link rate limit since start.
    public var droppedPackets: Int { core.shared.withLock { $0.dropped } }

    /// Closes the sockets and ends the thread.
    public func stop() { thread?.stop() }
}

/// One open link: its socket, interface index and the rate limit window.
private struct LinkSocket {
    var fd: Int32
    var index: UInt32
    var windowStart: Int64 = 0
    var windowCount = 0
}

private struct DiscoveryLoop {
    let core: NeighborDiscoverySpeaker.Core
    let thread: PollThread
    var state: LinkNeighbors
    let onChange: @Sendable (String, IPv6Address?) -> Void
    let log: @Sendable (String) -> Void
    var sockets: [String: LinkSocket] = [:]
    /// When a missing interface is next tried, and whether its failure was logged.
    var retryAt: [String: Int64] = [:]
    var failureLogged: Set<String> = []
    let origin = monotonicNanoseconds()

    init(
        core: NeighborDiscoverySpeaker.Core, thread: PollThread, state: LinkNeighbors,
        onChange: @escaping @Sendable (String, IPv6Address?) -> Void, log: @escaping @Sendable (String) -> Void
    ) {
        self.core = core
        self.thread = thread
        self.state = state
        self.onChange = onChange
        self.log = log
    }

    func now() -> Duration { .nanoseconds(monotonicNanoseconds() - origin) }

    mutating func run() {
        defer { for link in sockets.values { close(link.fd) } }
        while !thread.isStopping {
            let wanted = core.shared.withLock { $0.interfaces }
            if wanted != Set(state.interfaces) { perform(state.setInterfaces(wanted, now: now())) }
            openMissing(wanted)
            perform(state.timerFired(now: now()))
            var deadline = state.nextDeadline.map { origin + nanoseconds($0) }
            if let retry = retryAt.values.min() { deadline = min(deadline ?? retry, retry) }
            let names = sockets.keys.sorted()
            var descriptors = names.map { pollfd(fd: sockets[$0]!.fd, events: Int16(POLLIN), revents: 0) }
            guard thread.wait(&descriptors, until: deadline) else { return }
            for (name, descriptor) in zip(names, descriptors) where descriptor.revents != 0 {
                if descriptor.revents & Int16(POLLIN) != 0 {
                    receive(on: name)
                } else {
                    reopen(name, why: "socket error")
                }
            }
        }
    }

    private func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// Opens a socket for each wanted interface without one; closes those no longer wanted.
    private mutating func openMissing(_ wanted: Set<String>) {
        for name in sockets.keys where !wanted.contains(name) {
            close(sockets[name]!.fd)
            sockets[name] = nil
        }
        retryAt = retryAt.filter { wanted.contains($0.key) }
        failureLogged.formIntersection(wanted)
        let now = monotonicNanoseconds()
        for name in wanted.sorted() where sockets[name] == nil && (retryAt[name] ?? 0) <= now {
            switch openLinkSocket(name) {
            case .success(let link):
                sockets[name] = link
                retryAt[name] = nil
                if failureLogged.remove(name) != nil { log("\(name): sending Router Advertisements") }
            case .failure(let error):
                retryAt[name] = now + nanoseconds(NeighborDiscoverySpeaker.retryInterval)
                if failureLogged.insert(name).inserted {
                    log("\(name): cannot run neighbor discovery for BGP unnumbered: \(error); retrying every 5 s")
                }
            }
        }
    }

    private mutating func reopen(_ name: String, why: String) {
        guard let link = sockets.removeValue(forKey: name) else { return }
        close(link.fd)
        retryAt[name] = monotonicNanoseconds()
        log("\(name): \(why); reopening the neighbor discovery socket")
    }

    private mutating func perform(_ actions: [LinkNeighbors.Action]) {
        for action in actions {
            switch action {
            case .advertise(let name):
                guard let link = sockets[name] else { continue }
                if !sendAdvertisement(link, interface: name) { reopen(name, why: "sending failed (\(errnoText()))") }
            case .neighborChanged(let name, let neighbor):
                core.shared.withLock { $0.neighbors[name] = neighbor }
                onChange(name, neighbor)
            }
        }
    }

    private mutating func receive(on name: String) {
        guard var link = sockets[name] else { return }
        var buffer = [UInt8](repeating: 0, count: NeighborDiscoveryMessage.maximumLength + 1)
        var control = [UInt8](repeating: 0, count: 128)
        // At most 256 packets per wake-up, so a flood cannot hold the thread.
        for _ in 0..<256 {
            var source = sockaddr_in6()
            let received = buffer.withUnsafeMutableBytes { payload in
                control.withUnsafeMutableBytes { controlBytes in
                    withUnsafeMutablePointer(to: &source) { name in
                        var vector = iovec(iov_base: payload.baseAddress, iov_len: payload.count)
                        return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                            var header = msghdr(
                                msg_name: UnsafeMutableRawPointer(name),
                                msg_namelen: socklen_t(MemoryLayout<sockaddr_in6>.size), msg_iov: vectorPointer,
                                msg_iovlen: 1, msg_control: controlBytes.baseAddress,
                                msg_controllen: controlBytes.count,
                                msg_flags: 0)
                            let count = recvmsg(link.fd, &header, Int32(MSG_DONTWAIT))
                            return (count, Int(header.msg_controllen))
                        }
                    }
                }
            }
            guard received.0 >= 0 else { break }
            let now = monotonicNanoseconds()
            if now - link.windowStart >= 1_000_000_000 {
                link.windowStart = now
                link.windowCount = 0
            }
            link.windowCount += 1
            if link.windowCount > NeighborDiscoverySpeaker.packetsPerSecond {
                core.shared.withLock { $0.dropped += 1 }
                continue
            }
            let bytes = Array(buffer[0..<min(received.0, buffer.count)])
            let address = withUnsafeBytes(of: source.sin6_addr) { IPv6Address(bytes: Array($0)) }
            let hopLimit = control.withUnsafeBytes {
                hopLimitValue(in: UnsafeRawBufferPointer(rebasing: $0[0..<min(received.1, $0.count)]))
            }
            guard
                let message = try? NeighborDiscoveryMessage.decode(
                    bytes, source: address, hopLimit: Int(hopLimit ?? -1))
            else { continue }
            sockets[name] = link
            perform(state.received(message, from: address, on: name, now: self.now()))
        }
        if sockets[name] != nil { sockets[name] = link }
    }
}

/// Why a link's socket could not be set up, in words.
private struct SocketProblem: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The text of errno.
private func errnoText() -> String { String(cString: strerror(errno)) }

private func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) -> Bool {
    var value = value
    return setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0
}

/// A raw ICMPv6 socket bound to `name`: Router Solicitations and Advertisements only, hop limit 255 out,
/// the hop limit of each packet in, and a member of all-routers (ff02::2) to hear solicitations.
private func openLinkSocket(_ name: String) -> Result<LinkSocket, SocketProblem> {
    let index = if_nametoindex(name)
    guard index != 0 else { return .failure(SocketProblem("no such interface")) }
    let fd = socket(AF_INET6, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(IPPROTO_ICMPV6))
    guard fd >= 0 else { return .failure(SocketProblem("raw ICMPv6 socket: \(errnoText())")) }
    func fail(_ what: String) -> Result<LinkSocket, SocketProblem> {
        let text = errnoText()
        close(fd)
        return .failure(SocketProblem("\(what): \(text)"))
    }
    let bound = name.withCString { pointer in
        setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, pointer, socklen_t(strlen(pointer) + 1)) == 0
    }
    guard bound else { return fail("SO_BINDTODEVICE") }
    // ICMP6_FILTER (1): a bit set blocks a type; pass only 133 and 134.
    var filter = [UInt32](repeating: 0xFFFF_FFFF, count: 8)
    for type in [ICMPv6Type.routerSolicitation, ICMPv6Type.routerAdvertisement] {
        filter[Int(type >> 5)] &= ~(UInt32(1) << UInt32(type & 31))
    }
    guard setsockopt(fd, Int32(IPPROTO_ICMPV6), 1, &filter, socklen_t(32)) == 0 else { return fail("ICMP6_FILTER") }
    guard setOption(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_HOPS, 255),
        setOption(fd, Int32(IPPROTO_IPV6), IPV6_UNICAST_HOPS, 255),
        setOption(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_LOOP, 0),
        setOption(fd, Int32(IPPROTO_IPV6), IPV6_RECVHOPLIMIT, 1)
    else { return fail("hop limit options") }
    var request = ipv6_mreq()
    withUnsafeMutableBytes(of: &request.ipv6mr_multiaddr) { $0.copyBytes(from: allRouters.bytes) }
    request.ipv6mr_interface = index
    guard
        setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_ADD_MEMBERSHIP, &request, socklen_t(MemoryLayout<ipv6_mreq>.size)) == 0
    else { return fail("join ff02::2") }
    return .success(LinkSocket(fd: fd, index: index))
}

private let allNodes = IPv6Address(high: 0xFF02_0000_0000_0000, low: 1)
private let allRouters = IPv6Address(high: 0xFF02_0000_0000_0000, low: 2)

/// Sends one Router Advertisement to ff02::1 on the link; the kernel picks the link-local source.
private func sendAdvertisement(_ link: LinkSocket, interface: String) -> Bool {
    let message = RouterAdvertisement.unnumbered(linkLayerAddress: linkLayerAddress(interface)).encoded()
    var destination = sockaddr_in6()
    destination.sin6_family = sa_family_t(AF_INET6)
    destination.sin6_scope_id = link.index
    withUnsafeMutableBytes(of: &destination.sin6_addr) { $0.copyBytes(from: allNodes.bytes) }
    let sent = withUnsafePointer(to: &destination) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
            sendto(
                link.fd, message, message.count, Int32(MSG_DONTWAIT), address,
                socklen_t(MemoryLayout<sockaddr_in6>.size))
        }
    }
    // A link without a link-local address yet (DAD still running) or down refuses: try at the next tick.
    return sent == message.count || errno == EADDRNOTAVAIL || errno == ENETDOWN || errno == EAGAIN
}

/// The interface's MAC address from sysfs, or nil (then the advertisement goes without it).
private func linkLayerAddress(_ interface: String) -> [UInt8]? {
    guard let file = fopen("/sys/class/net/\(interface)/address", "r") else { return nil }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 64)
    guard fgets(&line, Int32(line.count), file) != nil else { return nil }
    let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    let bytes = text.trimmingSuffixNewline.split(separator: ":").compactMap { UInt8($0, radix: 16) }
    return bytes.count == 6 && bytes.contains { $0 != 0 } ? bytes : nil
}

extension String {
    fileprivate var trimmingSuffixNewline: Substring { self.hasSuffix("\n") ? self.dropLast() : Substring(self) }
}

/// IPV6_HOPLIMIT from a control message buffer; CMSG_* are macros Swift cannot import.
private func hopLimitValue(in raw: UnsafeRawBufferPointer) -> Int32? {
    let header = MemoryLayout<cmsghdr>.size
    let alignment = MemoryLayout<Int>.size
    func aligned(_ value: Int) -> Int { (value + alignment - 1) & ~(alignment - 1) }
    var offset = 0
    while offset + header <= raw.count {
        let length = Int(raw.loadUnaligned(fromByteOffset: offset, as: Int.self))
        let level = raw.loadUnaligned(fromByteOffset: offset + MemoryLayout<Int>.size, as: Int32.self)
        let type = raw.loadUnaligned(fromByteOffset: offset + MemoryLayout<Int>.size + 4, as: Int32.self)
        guard length >= header, offset + length <= raw.count else { return nil }
        if level == Int32(IPPROTO_IPV6) && type == IPV6_HOPLIMIT && length >= aligned(header) + 4 {
            return raw.loadUnaligned(fromByteOffset: offset + aligned(header), as: Int32.self)
        }
        offset += aligned(length)
    }
    return nil
}
