// Tests of the Linux socket options a BGP session sets: the tcp_md5sig layout, TCP MD5 on real loopback
// sockets (a matching key connects, a missing key does not), and TTL/GTSM/user-timeout read back.
import Glibc
import NIOCore
import NIOPosix
import NetAddress
import Testing

@testable import BGPSession

@Suite struct SocketOptionsTests {
    @Test func theListenerBacksOffWhenAcceptFails() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let listener = try await BGPListener.bind(
            on: group.next(), host: IPAddress("127.0.0.1")!, port: TestPorts.take(1)
        ) { $0.eventLoop.makeSucceededVoidFuture() }.get()
        // Out of descriptors, NIO's accept loop would otherwise retry at once, for ever, on the sessions' loop.
        let found: Void? = try? await listener.channel.pipeline.containsHandler(type: AcceptBackoffHandler.self).get()
        #expect(found != nil)
        try await listener.close().get()
        try await group.shutdownGracefully()
    }

    @Test func md5StructLayoutForIPv4OnIPv4Socket() {
        var signature = BGPSocketOptions.md5Signature(
            peer: IPAddress("192.0.2.7")!, socketIsIPv6: false, key: Array("abc".utf8))
        #expect(MemoryLayout<tcp_md5sig>.size == 216)
        let bytes = withUnsafeBytes(of: &signature) { Array($0) }
        #expect(bytes[0] == UInt8(AF_INET) && bytes[1] == 0)
        #expect(Array(bytes[4..<8]) == [192, 0, 2, 7])
        #expect(bytes[130] == 3 && bytes[131] == 0)  // tcpm_keylen, little endian
        #expect(Array(bytes[136..<139]) == Array("abc".utf8))
        #expect(bytes[139] == 0)
    }

    @Test func md5StructMapsIPv4PeerOnIPv6Socket() {
        var signature = BGPSocketOptions.md5Signature(
            peer: IPAddress("192.0.2.7")!, socketIsIPv6: true, key: Array("k".utf8))
        let bytes = withUnsafeBytes(of: &signature) { Array($0) }
        #expect(bytes[0] == UInt8(AF_INET6))
        #expect(Array(bytes[8..<24]) == Array(repeating: 0, count: 10) + [0xFF, 0xFF, 192, 0, 2, 7])
    }

    @Test func md5StructForIPv6Peer() {
        var signature = BGPSocketOptions.md5Signature(
            peer: IPAddress("2001:db8::1")!, socketIsIPv6: true, key: nil)
        let bytes = withUnsafeBytes(of: &signature) { Array($0) }
        #expect(Array(bytes[8..<24]) == IPAddress("2001:db8::1")!.bytes)
        #expect(bytes[130] == 0)  // no key: removes it
    }

    @Test func md5RejectsOverlongPassword() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let server = try ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let provider = try #require(server as? any SocketOptionProvider)
        #expect(throws: BGPSocketOptionError.self) {
            try BGPSocketOptions.setMD5(
                provider, peer: IPAddress("127.0.0.1")!, socketIsIPv6: false,
                password: String(repeating: "x", count: 81)
            ).wait()
        }
    }

    /// A listener with an MD5 key for 127.0.0.1 accepts a client that signs with the same key and never
    /// sees a client without one (the kernel drops unsigned segments: silence, not a reset).
    @Test func md5KeyMustMatchToConnect() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let server = try ServerBootstrap(group: group)
            .childChannelInitializer { $0.eventLoop.makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let port = try #require(server.localAddress?.port)
        let provider = try #require(server as? any SocketOptionProvider)
        do {
            try BGPSocketOptions.setMD5(
                provider, peer: IPAddress("127.0.0.1")!, socketIsIPv6: false, password: "acd-test"
            ).wait()
        } catch let error as BGPSocketOptionError {
            Issue.record("TCP MD5 unavailable on this kernel, the test cannot run: \(error)")
            return
        }

        let signed = try ClientBootstrap(group: group)
            .channelInitializer { channel in
                BGPSocketOptions.setMD5(
                    channel as! any SocketOptionProvider, peer: IPAddress("127.0.0.1")!, socketIsIPv6: false,
                    password: "acd-test")
            }
            .connectTimeout(.seconds(3))
            .connect(host: "127.0.0.1", port: port).wait()
        #expect(signed.isActive)
        try signed.close().wait()

        let unsigned = ClientBootstrap(group: group).connectTimeout(.milliseconds(1500))
            .connect(host: "127.0.0.1", port: port)
        #expect(throws: (any Error).self) { try unsigned.wait() }
    }

    @Test func ttlSecurityAndUserTimeoutAreSet() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let server = try ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let client = try ClientBootstrap(group: group)
            .connect(host: "127.0.0.1", port: try #require(server.localAddress?.port)).wait()
        defer { try? client.close().wait() }
        let provider = try #require(client as? any SocketOptionProvider)

        try BGPSocketOptions.setConnectionOptions(
            provider, peer: IPAddress("127.0.0.1")!,
            settings: SocketSettings(md5Password: nil, ttl: 1, ttlSecurity: true, userTimeoutMilliseconds: 9000)
        ).wait()
        let ttl: CInt = try provider.unsafeGetSocketOption(
            level: SocketOptionLevel(IPPROTO_IP), name: SocketOptionName(IP_TTL)
        ).wait()
        let minTTL: CInt = try provider.unsafeGetSocketOption(
            level: SocketOptionLevel(IPPROTO_IP), name: SocketOptionName(IP_MINTTL)
        ).wait()
        let userTimeout: CUnsignedInt = try provider.unsafeGetSocketOption(
            level: SocketOptionLevel(IPPROTO_TCP), name: SocketOptionName(TCP_USER_TIMEOUT)
        ).wait()
        let noDelay: CInt = try provider.unsafeGetSocketOption(
            level: SocketOptionLevel(IPPROTO_TCP), name: SocketOptionName(TCP_NODELAY)
        ).wait()
        #expect(ttl == 255)
        #expect(minTTL == 255)
        #expect(userTimeout == 9000)
        #expect(noDelay != 0)

        try BGPSocketOptions.setConnectionOptions(
            provider, peer: IPAddress("127.0.0.1")!,
            settings: SocketSettings(md5Password: nil, ttl: 3, ttlSecurity: false, userTimeoutMilliseconds: 0)
        ).wait()
        let multihop: CInt = try provider.unsafeGetSocketOption(
            level: SocketOptionLevel(IPPROTO_IP), name: SocketOptionName(IP_TTL)
        ).wait()
        #expect(multihop == 3)
    }
}
