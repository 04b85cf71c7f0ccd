// The TCP side of a BGP session in SwiftNIO: the frame decoder (BGPFraming in a ByteToMessageDecoder),
// the outbound connector (bind the source address, MD5/TTL/GTSM options, connect) and the listener
// (per-peer MD5 keys on the listening socket, connections from unknown sources closed at once).
// The speaker (BGPSpeaker) owns all of them on one EventLoop. RFC 4271 §8, RFC 2385, RFC 5082.
import BGP
import Logging
import NIOCore
import NIOPosix
import NetAddress

/// Cuts the TCP byte stream into whole BGP messages; header errors surface as BGPDecodeError through
/// `errorCaught`, so the session can send the NOTIFICATION they carry before closing.
struct BGPFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try BGPFraming.nextMessage(in: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}

extension SocketAddress {
    /// The address as our address model, nil for Unix sockets.
    var ipAddress: IPAddress? {
        switch self {
        case .v4(let address):
            return .v4(NetAddress.IPv4Address(UInt32(bigEndian: address.address.sin_addr.s_addr)))
        case .v6(let address):
            let bytes = withUnsafeBytes(of: address.address.sin6_addr) { Array($0) }
            let v6 = NetAddress.IPv6Address(bytes: bytes)
            // An IPv4 peer on a dual-stack socket shows up as ::ffff:a.b.c.d.
            if v6.high == 0, v6.low >> 32 == 0xFFFF { return .v4(NetAddress.IPv4Address(UInt32(v6.low & 0xFFFF_FFFF))) }
            return .v6(v6)
        case .unixDomainSocket:
            return nil
        }
    }

    init(_ address: IPAddress, port: Int) throws {
        self = try SocketAddress(ipAddress: address.description, port: port)
    }

    /// An IPv6 address with the scope of an interface index (for link-local addresses).
    init(_ address: NetAddress.IPv6Address, scopeID: UInt32, port: Int) {
        var raw = sockaddr_in6()
        raw.sin6_family = sa_family_t(AF_INET6)
        raw.sin6_port = UInt16(port).bigEndian
        raw.sin6_scope_id = scopeID
        withUnsafeMutableBytes(of: &raw.sin6_addr) { $0.copyBytes(from: address.bytes) }
        self = SocketAddress(raw, host: "\(address)")
    }

    /// The interface index of a scoped IPv6 address; 0 for others.
    var scopeID: UInt32 {
        if case .v6(let address) = self { return address.address.sin6_scope_id }
        return 0
    }
}

/// The index of an interface by name, or nil when it does not exist (now).
func interfaceIndex(_ name: String) -> UInt32? {
    let index = if_nametoindex(name)
    return index == 0 ? nil : index
}

enum BGPConnector {
    /// Opens an outbound TCP connection for `settings` with every socket option in place before the
    /// SYN, then lets `initialize` add the session handlers.
    static func connect(
        on eventLoop: any EventLoop,
        settings: BGPPeerSettings,
        connectTimeout: TimeAmount,
        initialize: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<any Channel> {
        let peer = settings.address
        let socket = BGPSession.socketSettings(settings)
        var bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                // The bootstrap binds before this runs and connects after it: the MD5 key must be on
                // the socket before the SYN goes out.
                guard let provider = channel as? any SocketOptionProvider else {
                    return channel.eventLoop.makeFailedFuture(
                        BGPSocketOptionError(
                            peer: peer, option: "socket options", errno: 0, reason: "channel has no socket options"))
                }
                var ready = channel.eventLoop.makeSucceededVoidFuture()
                if let password = socket.md5Password {
                    ready = BGPSocketOptions.setMD5(
                        provider, peer: peer, socketIsIPv6: peer.family == .ipv6, password: password)
                }
                return ready.flatMap {
                    BGPSocketOptions.setConnectionOptions(provider, peer: peer, settings: socket)
                }.flatMap { initialize(channel) }
            }
        if let local = settings.localAddress {
            do {
                bootstrap = bootstrap.bind(to: try SocketAddress(local, port: 0))
            } catch {
                return eventLoop.makeFailedFuture(error)
            }
        }
        do {
            if let interface = settings.interface {
                // BGP unnumbered: the neighbor's link-local address, scoped to its link.
                guard case .v6(let linkLocal) = peer, linkLocal.isLinkLocal, let index = interfaceIndex(interface)
                else {
                    throw BGPSocketOptionError(
                        peer: peer, option: "connect", errno: 0,
                        reason: "no link-local neighbor known on \(interface) yet, or the interface is gone")
                }
                return bootstrap.connect(to: SocketAddress(linkLocal, scopeID: index, port: settings.port))
            }
            return bootstrap.connect(to: try SocketAddress(peer, port: settings.port))
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }
}

extension BGPSession {
    static func socketSettings(_ settings: BGPPeerSettings) -> SocketSettings {
        SocketSettings(
            md5Password: settings.md5Password, ttl: settings.ttl, ttlSecurity: settings.ttlSecurity,
            // Twice the hold time: the kernel's abort (no NOTIFICATION) is only the backstop; the send hold
            // timer (RFC 9687, the hold time) resets a peer that stops reading with NOTIFICATION 8 first.
            userTimeoutMilliseconds: settings.holdTime * 2000)
    }
}

/// Namespace for module-wide helpers.
enum BGPSession {}

/// One listening socket on a local address; the speaker routes each accepted connection to its peer.
final class BGPListener: Sendable {
    let address: SocketAddress
    let channel: any Channel
    /// True when the socket is AF_INET6 (IPv4 peers are keyed as ::ffff:a.b.c.d).
    let isIPv6: Bool

    private init(address: SocketAddress, channel: any Channel, isIPv6: Bool) {
        self.address = address
        self.channel = channel
        self.isIPv6 = isIPv6
    }

    /// Binds `host:port`; `accept` runs on the event loop for every new connection and returns whether
    /// it wants it (and then adds its handlers) or not (the connection is closed at once).
    static func bind(
        on eventLoop: any EventLoop,
        host: IPAddress,
        port: Int,
        accept: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<BGPListener> {
        let address: SocketAddress
        do {
            address = try SocketAddress(host, port: port)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        return ServerBootstrap(group: eventLoop, childGroup: eventLoop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 16)
            .serverChannelInitializer { channel in
                // Out of descriptors (EMFILE), accepting is retried a second later instead of spinning on the
                // event loop that also runs every session.
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        AcceptBackoffHandler(shouldForwardIOErrorCaught: false))
                }
            }
            .childChannelInitializer { channel in accept(channel) }
            .bind(to: address)
            .map { BGPListener(address: address, channel: $0, isIPv6: host.family == .ipv6) }
    }

    /// Installs or removes (nil password) the MD5 key for one peer on the listening socket.
    func setMD5(peer: IPAddress, password: String?) -> EventLoopFuture<Void> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeSucceededVoidFuture()
        }
        if peer.family == .ipv6 && !isIPv6 { return channel.eventLoop.makeSucceededVoidFuture() }
        return BGPSocketOptions.setMD5(provider, peer: peer, socketIsIPv6: isIPv6, password: password)
    }

    func close() -> EventLoopFuture<Void> { channel.close() }
}
