// Linux socket options of a BGP TCP connection: TCP MD5 signatures (RFC 2385), GTSM (RFC 5082),
// the eBGP TTL, TCP_USER_TIMEOUT and TCP_NODELAY. BGPConnection applies them to outbound channels in
// the channel initializer (after bind, before connect) and BGPListener to its listening socket (MD5
// keys per peer, before the peer's SYN) and to accepted channels, all through NIO's SocketOptionProvider.
import Glibc
import NIOCore
import NetAddress

/// Why a socket option could not be applied, with what to do about it.
public struct BGPSocketOptionError: Error, CustomStringConvertible, Sendable {
    /// The peer the socket is for.
    public var peer: IPAddress
    /// The option in the operator's words, such as "TCP MD5 signature".
    public var option: String
    /// The errno the kernel returned, 0 when the value was refused before reaching the kernel.
    public var errno: Int32
    /// What happened and what to do.
    public var reason: String

    public var description: String { "peer \(peer): \(option): \(reason)" }
}

/// The socket-level behaviour one BGP session asks for.
struct SocketSettings: Sendable, Equatable {
    /// The TCP MD5 key, nil for none.
    var md5Password: String?
    /// The TTL (hop limit) to send with: 1 for directly connected eBGP, larger for multihop.
    var ttl: Int
    /// GTSM: send with 255 and drop anything that arrives with less than 255 (RFC 5082).
    var ttlSecurity: Bool
    /// TCP_USER_TIMEOUT in milliseconds (the hold time), 0 for the kernel default.
    var userTimeoutMilliseconds: Int
}

enum BGPSocketOptions {
    private static let md5KeyMaximum = 80

    /// Builds the `struct tcp_md5sig` for one peer; a nil key removes the peer's key.
    /// On an AF_INET6 socket, an IPv4 peer is written as `::ffff:a.b.c.d`, as the kernel looks it up.
    static func md5Signature(peer: IPAddress, socketIsIPv6: Bool, key: [UInt8]?) -> tcp_md5sig {
        var signature = tcp_md5sig()
        withUnsafeMutableBytes(of: &signature.tcpm_addr) { raw in
            switch (peer, socketIsIPv6) {
            case (.v4(let address), false):
                raw.storeBytes(of: sa_family_t(AF_INET), toByteOffset: 0, as: sa_family_t.self)
                // sockaddr_in: family (2), port (2), address (4) in network order.
                for (index, byte) in address.bytes.enumerated() { raw[4 + index] = byte }
            case (.v4(let address), true):
                raw.storeBytes(of: sa_family_t(AF_INET6), toByteOffset: 0, as: sa_family_t.self)
                // sockaddr_in6: family (2), port (2), flowinfo (4), address (16).
                let mapped: [UInt8] = Array(repeating: 0, count: 10) + [0xFF, 0xFF] + address.bytes
                for (index, byte) in mapped.enumerated() { raw[8 + index] = byte }
            case (.v6(let address), _):
                raw.storeBytes(of: sa_family_t(AF_INET6), toByteOffset: 0, as: sa_family_t.self)
                for (index, byte) in address.bytes.enumerated() { raw[8 + index] = byte }
            }
        }
        let bytes = key ?? []
        signature.tcpm_keylen = UInt16(bytes.count)
        withUnsafeMutableBytes(of: &signature.tcpm_key) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        return signature
    }

    /// Sets (or with a nil password removes) the TCP MD5 key for `peer` on a socket.
    static func setMD5(
        _ provider: any SocketOptionProvider,
        peer: IPAddress,
        socketIsIPv6: Bool,
        password: String?
    ) -> EventLoopFuture<Void> {
        let key = password.map { Array($0.utf8) }
        if let key, key.isEmpty || key.count > md5KeyMaximum {
            return provider.eventLoop.makeFailedFuture(
                BGPSocketOptionError(
                    peer: peer, option: "TCP MD5 signature", errno: 0,
                    reason: "the password must be 1 to \(md5KeyMaximum) bytes long (it is \(key.count))"))
        }
        let signature = md5Signature(peer: peer, socketIsIPv6: socketIsIPv6, key: key)
        return provider.unsafeSetSocketOption(
            level: SocketOptionLevel(IPPROTO_TCP), name: SocketOptionName(TCP_MD5SIG), value: signature
        ).flatMapErrorThrowing { error in
            throw describe(error, peer: peer, option: "TCP MD5 signature")
        }
    }

    /// Applies TTL/GTSM, TCP_NODELAY and TCP_USER_TIMEOUT to a connected or connecting socket.
    static func setConnectionOptions(
        _ provider: any SocketOptionProvider,
        peer: IPAddress,
        settings: SocketSettings
    ) -> EventLoopFuture<Void> {
        let isV6 = peer.family == .ipv6
        let sendTTL = CInt(settings.ttlSecurity ? 255 : max(1, min(255, settings.ttl)))
        var steps: [(String, @Sendable () -> EventLoopFuture<Void>)] = []
        steps.append(
            (
                "TTL \(sendTTL)",
                {
                    isV6
                        ? provider.unsafeSetSocketOption(
                            level: SocketOptionLevel(IPPROTO_IPV6), name: SocketOptionName(IPV6_UNICAST_HOPS),
                            value: sendTTL)
                        : provider.unsafeSetSocketOption(
                            level: SocketOptionLevel(IPPROTO_IP), name: SocketOptionName(IP_TTL), value: sendTTL)
                }
            ))
        if settings.ttlSecurity {
            steps.append(
                (
                    "GTSM minimum TTL 255",
                    {
                        isV6
                            ? provider.unsafeSetSocketOption(
                                level: SocketOptionLevel(IPPROTO_IPV6), name: SocketOptionName(IPV6_MINHOPCOUNT),
                                value: CInt(255))
                            : provider.unsafeSetSocketOption(
                                level: SocketOptionLevel(IPPROTO_IP), name: SocketOptionName(IP_MINTTL),
                                value: CInt(255))
                    }
                ))
        }
        steps.append(
            (
                "TCP_NODELAY",
                {
                    provider.unsafeSetSocketOption(
                        level: SocketOptionLevel(IPPROTO_TCP), name: SocketOptionName(TCP_NODELAY), value: CInt(1))
                }
            ))
        if settings.userTimeoutMilliseconds > 0 {
            let timeout = CUnsignedInt(settings.userTimeoutMilliseconds)
            steps.append(
                (
                    "TCP_USER_TIMEOUT \(timeout) ms",
                    {
                        provider.unsafeSetSocketOption(
                            level: SocketOptionLevel(IPPROTO_TCP), name: SocketOptionName(TCP_USER_TIMEOUT),
                            value: timeout)
                    }
                ))
        }
        var future = provider.eventLoop.makeSucceededVoidFuture()
        for (name, step) in steps {
            future = future.flatMap {
                step().flatMapErrorThrowing { error in throw describe(error, peer: peer, option: name) }
            }
        }
        return future
    }

    static func describe(_ error: any Error, peer: IPAddress, option: String) -> any Error {
        if let known = error as? BGPSocketOptionError { return known }
        guard let io = error as? IOError else {
            return BGPSocketOptionError(peer: peer, option: option, errno: 0, reason: "\(error)")
        }
        let code = io.errnoCode
        let reason: String
        switch code {
        case ENOPROTOOPT, EOPNOTSUPP:
            reason =
                option.hasPrefix("TCP MD5")
                ? "kernel without TCP MD5 (needs CONFIG_TCP_MD5SIG); remove the password or use another kernel"
                : "the kernel does not support this option"
        case ENOENT:
            reason = "no key for this peer to remove"
        case EPERM, EACCES:
            reason = "not permitted (run as root or with CAP_NET_ADMIN)"
        default:
            reason = String(cString: strerror(code))
        }
        return BGPSocketOptionError(peer: peer, option: option, errno: code, reason: reason)
    }
}
