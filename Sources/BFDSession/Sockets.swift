// The UDP sockets of single-hop BFD (RFC 5881): a receiver bound to a local address on port 3784, and a
// sender per session, bound to the local address and a source port in 49152–65535, connected to the
// peer's port 3784, sending with TTL 255. Plain non-blocking sockets; the speaker's thread polls them.
// The receiver shares its port with nobody (no SO_REUSEADDR or SO_REUSEPORT: 3784 is not a privileged
// port, and a second socket on it would take our packets), and a classic BPF filter drops every datagram
// whose TTL or hop limit is not 255 in the kernel (RFC 5881 §5), so a flood of them never fills the
// receive queue; the TTL is still reported and checked after reading as a second line. Datagrams are read
// in batches (recvmmsg) into buffers that stay put.
// RFC 5881 §4, §5.
import NetAddress

#if canImport(Glibc)
    import Glibc
#endif

/// Port numbers of RFC 5881 §4.
public enum BFDPorts {
    /// Where single-hop Control packets are sent to.
    public static let control: UInt16 = 3784
    /// Where they are sent from: one port per session, unique on the host.
    public static let source: ClosedRange<UInt16> = 49152...65535
}

/// Why a session could not be started.
public enum BFDSessionError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A socket call failed; `operation` names the call and what it was for ("bind 10.0.0.2:3784").
    case socket(operation: String, code: Int32)
    /// A session for this peer and local address runs already.
    case alreadyRunning(BFDPeer)
    /// The peer and the local address are not of the same family.
    case familyMismatch(BFDPeer)
    /// The speaker was shut down.
    case shutDown

    public var description: String {
        switch self {
        case .socket(let operation, let code): "\(operation): \(String(cString: strerror(code)))"
        case .alreadyRunning(let peer): "BFD session with \(peer) runs already"
        case .familyMismatch(let peer): "BFD session with \(peer): the addresses are of different families"
        case .shutDown: "the BFD speaker is shut down"
        }
    }
}

private func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) -> Bool {
    var value = value
    return setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0
}

/// A non-blocking, close-on-exec UDP socket of the address's family, with `options` set; closed again if
/// any fails.
private func udpSocket(
    for address: IPAddress, options: [(level: Int32, name: Int32, value: Int32, what: String)]
) throws(BFDSessionError) -> Int32 {
    let family = address.family == .ipv4 ? AF_INET : AF_INET6
    let fd = socket(
        family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw .socket(operation: "socket", code: errno) }
    for option in options where !setOption(fd, option.level, option.name, option.value) {
        let code = errno
        close(fd)
        throw .socket(operation: "setsockopt \(option.what)", code: code)
    }
    return fd
}

/// One classic BPF instruction (struct sock_filter of linux/filter.h, which Glibc's module does not import).
struct SocketFilterInstruction: Equatable {
    var code: UInt16
    var jumpIfTrue: UInt8
    var jumpIfFalse: UInt8
    var constant: UInt32
}

/// The receive buffer asked for: about 1,000 queued Control packets, so a burst from many peers is not
/// dropped while the thread is busy. Root may exceed net.core.rmem_max (SO_RCVBUFFORCE); others get
/// what the kernel allows.
let receiveBufferBytes: Int32 = 1 << 20

/// The filter that keeps only datagrams sent with TTL (IPv4) or hop limit (IPv6) 255 (RFC 5881 §5).
/// A UDP socket's filter sees the packet from the transport header, so the IP header is read at the
/// negative offset SKF_NET_OFF (-0x100000): the TTL is byte 8 of the IPv4 header, the hop limit byte 7
/// of the IPv6 header. IP_MINTTL would do the same for IPv4, but the kernel applies it to TCP only.
func ttl255Filter(for family: AddressFamily) -> [SocketFilterInstruction] {
    let networkOffset: UInt32 = 0xFFF0_0000  // SKF_NET_OFF as an unsigned 32-bit constant
    let loadByteAbsolute: UInt16 = 0x30  // BPF_LD | BPF_B | BPF_ABS
    let jumpIfEqual: UInt16 = 0x15  // BPF_JMP | BPF_JEQ | BPF_K
    let returnConstant: UInt16 = 0x06  // BPF_RET | BPF_K
    return [
        SocketFilterInstruction(
            code: loadByteAbsolute, jumpIfTrue: 0, jumpIfFalse: 0, constant: networkOffset + (family == .ipv4 ? 8 : 7)),
        SocketFilterInstruction(code: jumpIfEqual, jumpIfTrue: 0, jumpIfFalse: 1, constant: 255),
        SocketFilterInstruction(code: returnConstant, jumpIfTrue: 0, jumpIfFalse: 0, constant: 0xFFFF_FFFF),
        SocketFilterInstruction(code: returnConstant, jumpIfTrue: 0, jumpIfFalse: 0, constant: 0),
    ]
}

/// Attaches `program` to `fd` (SO_ATTACH_FILTER); false with errno set if the kernel refuses it.
private func attachFilter(_ fd: Int32, _ program: [SocketFilterInstruction]) -> Bool {
    // struct sock_fprog: an unsigned short count, then (aligned) the pointer to the instructions.
    struct Program {
        var count: UInt16
        var instructions: UnsafeMutablePointer<SocketFilterInstruction>
    }
    let attachFilterOption: Int32 = 26  // SO_ATTACH_FILTER
    var instructions = program
    return instructions.withUnsafeMutableBufferPointer { buffer in
        var program = Program(count: UInt16(buffer.count), instructions: buffer.baseAddress!)
        return setsockopt(fd, SOL_SOCKET, attachFilterOption, &program, socklen_t(MemoryLayout<Program>.size)) == 0
    }
}

/// The socket that receives Control packets for `local`: bound to local:3784 and to nobody else, the
/// TTL-255 filter attached before the bind (so no datagram is queued unfiltered), reporting TTL/hop limit.
func openReceiver(local: IPAddress) throws(BFDSessionError) -> Int32 {
    var options: [(level: Int32, name: Int32, value: Int32, what: String)] = []
    if local.family == .ipv4 {
        options.append((Int32(IPPROTO_IP), IP_RECVTTL, 1, "IP_RECVTTL"))
    } else {
        options.append((Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1, "IPV6_V6ONLY"))
        options.append((Int32(IPPROTO_IPV6), IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT"))
    }
    let fd = try udpSocket(for: local, options: options)
    guard attachFilter(fd, ttl255Filter(for: local.family)) else {
        let code = errno
        close(fd)
        throw .socket(operation: "setsockopt SO_ATTACH_FILTER (TTL 255)", code: code)
    }
    if !setOption(fd, SOL_SOCKET, SO_RCVBUFFORCE, receiveBufferBytes) {
        _ = setOption(fd, SOL_SOCKET, SO_RCVBUF, receiveBufferBytes)
    }
    guard local.withSocketAddress(port: Int(BFDPorts.control), { bind(fd, $0, $1) }) == 0 else {
        let code = errno
        close(fd)
        throw .socket(operation: "bind \(local.endpoint(port: Int(BFDPorts.control)))", code: code)
    }
    return fd
}

/// The socket one session sends from: TTL 255, traffic class CS6 (network control), bound to `local` and
/// a free source port picked at random in 49152–65535, connected to the peer's port 3784.
func openSender(local: IPAddress, peer: IPAddress) throws(BFDSessionError) -> (fd: Int32, port: UInt16) {
    let options: [(level: Int32, name: Int32, value: Int32, what: String)] =
        local.family == .ipv4
        ? [(Int32(IPPROTO_IP), IP_TTL, 255, "IP_TTL"), (Int32(IPPROTO_IP), IP_TOS, 0xC0, "IP_TOS")]
        : [
            (Int32(IPPROTO_IPV6), IPV6_UNICAST_HOPS, 255, "IPV6_UNICAST_HOPS"),
            (Int32(IPPROTO_IPV6), IPV6_TCLASS, 0xC0, "IPV6_TCLASS"),
        ]
    let fd = try udpSocket(for: local, options: options)
    var port: UInt16 = 0
    var code = EADDRINUSE
    for _ in 0..<64 where code == EADDRINUSE {
        port = UInt16.random(in: BFDPorts.source)
        code = local.withSocketAddress(port: Int(port), { bind(fd, $0, $1) }) == 0 ? 0 : errno
    }
    guard code == 0 else {
        close(fd)
        throw .socket(operation: "bind \(local.endpoint(port: Int(port)))", code: code)
    }
    guard peer.withSocketAddress(port: Int(BFDPorts.control), { connect(fd, $0, $1) }) == 0 else {
        let code = errno
        close(fd)
        throw .socket(operation: "connect \(peer.endpoint(port: Int(BFDPorts.control)))", code: code)
    }
    return (fd, port)
}

/// One datagram read by `ReceiveBatch`.
struct Datagram {
    var count: Int
    var source: IPAddress
    /// The received TTL or hop limit, nil if the kernel did not report it.
    var ttl: Int32?
}

/// struct mmsghdr of <sys/socket.h>, which Glibc's module leaves out (it needs _GNU_SOURCE).
private struct MultipleMessageHeader {
    var header: msghdr
    var length: UInt32
}

private typealias ReceiveMultipleMessages =
    @convention(c) (
        Int32, UnsafeMutableRawPointer?, UInt32, Int32, UnsafeMutableRawPointer?
    ) -> Int32

/// Reads datagrams in batches: up to `capacity` per recvmmsg(2) call, into buffers it owns (they stay put
/// while the kernel writes them). Without recvmmsg (or if the struct layout differs from C's) it reads
/// one recvmsg(2) at a time into the same buffers. Belongs to the one thread that reads the receivers.
final class ReceiveBatch {
    static let capacity = 32
    /// A Control packet has at most 255 bytes (Length is one byte); longer datagrams are cut and refused.
    static let payloadBytes = 256
    static let controlBytes = 128

    private let headers = UnsafeMutablePointer<MultipleMessageHeader>.allocate(capacity: capacity)
    private let vectors = UnsafeMutablePointer<iovec>.allocate(capacity: capacity)
    private let names = UnsafeMutablePointer<sockaddr_storage>.allocate(capacity: capacity)
    private let payloads = UnsafeMutableRawPointer.allocate(
        byteCount: capacity * payloadBytes, alignment: MemoryLayout<Int>.alignment)
    private let controls = UnsafeMutableRawPointer.allocate(
        byteCount: capacity * controlBytes, alignment: MemoryLayout<Int>.alignment)
    private let receiveMultiple: ReceiveMultipleMessages?

    init() {
        let cLayout = MemoryLayout<MultipleMessageHeader>.offset(of: \.length) == MemoryLayout<msghdr>.size
        receiveMultiple =
            cLayout
            ? dlsym(UnsafeMutableRawPointer(bitPattern: 0), "recvmmsg").map {
                unsafeBitCast($0, to: ReceiveMultipleMessages.self)
            } : nil
        names.initialize(repeating: sockaddr_storage(), count: Self.capacity)
        for index in 0..<Self.capacity {
            vectors[index] = iovec(iov_base: payloads + index * Self.payloadBytes, iov_len: Self.payloadBytes)
            headers[index] = MultipleMessageHeader(header: msghdr(), length: 0)
        }
    }

    /// recvmmsg(2) is used (false: one recvmsg(2) per datagram).
    var readsInBatches: Bool { receiveMultiple != nil }

    deinit {
        headers.deallocate()
        vectors.deallocate()
        names.deallocate()
        payloads.deallocate()
        controls.deallocate()
    }

    /// Reads what is waiting on `fd`, at most `capacity` datagrams, and hands each to `body` with its payload
    /// (valid only during the call). Returns how many were read: fewer than `capacity` means the queue is
    /// empty. Errors (a queued ICMP error, for example) end the batch: UDP receivers can only drop them.
    func receive(_ fd: Int32, _ body: (Datagram, UnsafeRawBufferPointer) -> Void) -> Int {
        for index in 0..<Self.capacity {
            headers[index].length = 0
            headers[index].header = msghdr(
                msg_name: UnsafeMutableRawPointer(names + index),
                msg_namelen: socklen_t(MemoryLayout<sockaddr_storage>.size), msg_iov: vectors + index, msg_iovlen: 1,
                msg_control: controls + index * Self.controlBytes, msg_controllen: Self.controlBytes, msg_flags: 0)
        }
        var count = 0
        if let receiveMultiple {
            count = max(0, Int(receiveMultiple(fd, UnsafeMutableRawPointer(headers), UInt32(Self.capacity), 0, nil)))
        } else {
            while count < Self.capacity {
                let received = recvmsg(fd, &headers[count].header, 0)
                guard received >= 0 else { break }
                headers[count].length = UInt32(received)
                count += 1
            }
        }
        for index in 0..<count {
            guard let source = IPAddress(socketAddress: names[index]) else { continue }
            let control = UnsafeRawBufferPointer(
                start: controls + index * Self.controlBytes,
                count: min(Int(headers[index].header.msg_controllen), Self.controlBytes))
            let length = min(Int(headers[index].length), Self.payloadBytes)
            body(
                Datagram(count: length, source: source, ttl: hopLimit(in: control)),
                UnsafeRawBufferPointer(start: payloads + index * Self.payloadBytes, count: length))
        }
        return count
    }
}

/// Finds IP_TTL (IPv4) or IPV6_HOPLIMIT (IPv6) in a control message buffer. Walks the cmsghdr layout by
/// hand: CMSG_FIRSTHDR and CMSG_NXTHDR are macros Swift cannot import.
private func hopLimit(in raw: UnsafeRawBufferPointer) -> Int32? {
    let header = MemoryLayout<cmsghdr>.size
    let alignment = MemoryLayout<Int>.size
    func aligned(_ value: Int) -> Int { (value + alignment - 1) & ~(alignment - 1) }
    var offset = 0
    while offset + header <= raw.count {
        let length = Int(raw.loadUnaligned(fromByteOffset: offset, as: Int.self))
        let level = raw.loadUnaligned(fromByteOffset: offset + MemoryLayout<Int>.size, as: Int32.self)
        let type = raw.loadUnaligned(fromByteOffset: offset + MemoryLayout<Int>.size + 4, as: Int32.self)
        guard length >= header, offset + length <= raw.count else { return nil }
        let isTTL = level == Int32(IPPROTO_IP) && type == IP_TTL
        let isHopLimit = level == Int32(IPPROTO_IPV6) && type == IPV6_HOPLIMIT
        if (isTTL || isHopLimit) && length >= aligned(header) + 4 {
            return raw.loadUnaligned(fromByteOffset: offset + aligned(header), as: Int32.self)
        }
        offset += aligned(length)
    }
    return nil
}
