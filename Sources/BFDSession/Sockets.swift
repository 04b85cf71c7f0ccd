// The UDP sockets of single-hop BFD (RFC 5881): a receiver bound to a local address on port 3784 that
// reports each datagram's TTL or hop limit (RFC 5881 §5: only 255 proves the peer is one hop away), and
// a sender per session, bound to the local address and a source port in 49152–65535, connected to the
// peer's port 3784, sending with TTL 255. Plain non-blocking sockets; the speaker's thread polls them.
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

/// The socket that receives Control packets for `local`: bound to local:3784, reporting TTL/hop limit.
func openReceiver(local: IPAddress) throws(BFDSessionError) -> Int32 {
    var options: [(level: Int32, name: Int32, value: Int32, what: String)] = [
        (SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR")
    ]
    if local.family == .ipv4 {
        options.append((Int32(IPPROTO_IP), IP_RECVTTL, 1, "IP_RECVTTL"))
    } else {
        options.append((Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1, "IPV6_V6ONLY"))
        options.append((Int32(IPPROTO_IPV6), IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT"))
    }
    let fd = try udpSocket(for: local, options: options)
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

/// One datagram read by `receiveDatagram`.
struct Datagram {
    var count: Int
    var source: IPAddress
    /// The received TTL or hop limit, nil if the kernel did not report it.
    var ttl: Int32?
}

/// Reads one datagram into `buffer`; nil when none is waiting (or on an error, which UDP receivers can
/// only drop: a queued ICMP error, for example).
func receiveDatagram(_ fd: Int32, into buffer: inout [UInt8], control: inout [UInt8]) -> Datagram? {
    var source = sockaddr_storage()
    let received: (count: Int, controlLength: Int) = buffer.withUnsafeMutableBytes { data in
        control.withUnsafeMutableBytes { controlBytes in
            withUnsafeMutablePointer(to: &source) { sourcePointer in
                var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    var message = msghdr()
                    message.msg_name = UnsafeMutableRawPointer(sourcePointer)
                    message.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
                    message.msg_iov = vectorPointer
                    message.msg_iovlen = 1
                    message.msg_control = controlBytes.baseAddress
                    message.msg_controllen = controlBytes.count
                    let count = recvmsg(fd, &message, Int32(MSG_TRUNC))
                    return (count, Int(message.msg_controllen))
                }
            }
        }
    }
    guard received.count >= 0, let address = IPAddress(socketAddress: source) else { return nil }
    return Datagram(
        count: min(received.count, buffer.count), source: address,
        ttl: hopLimit(in: control[0..<min(received.controlLength, control.count)]))
}

/// Finds IP_TTL (IPv4) or IPV6_HOPLIMIT (IPv6) in a control message buffer. Walks the cmsghdr layout by
/// hand: CMSG_FIRSTHDR and CMSG_NXTHDR are macros Swift cannot import.
private func hopLimit(in control: ArraySlice<UInt8>) -> Int32? {
    let header = MemoryLayout<cmsghdr>.size
    let alignment = MemoryLayout<Int>.size
    func aligned(_ value: Int) -> Int { (value + alignment - 1) & ~(alignment - 1) }
    return control.withUnsafeBytes { raw -> Int32? in
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
}
