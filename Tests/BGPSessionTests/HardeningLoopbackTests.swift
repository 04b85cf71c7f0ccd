// Issue 13 against the NIO shell over loopback: an idle connection from the peer's address does not block
// the real session (RFC 4271 §6.8), and a peer that loops ROUTE-REFRESH without reading gets the answers
// coalesced and is reset by the send hold timer (RFC 9687). The namespace tier with BIRD and the release
// binary is Tests/interop/harden-bgp.sh.
import BGP
import Logging
import NIOCore
import NIOPosix
import NetAddress
import Testing

@testable import BGPSession

@Suite(.serialized) struct HardeningLoopbackTests {
    static func bytes(_ message: BGPMessage) throws -> [UInt8] {
        try message.encoded(context: CodecContext(fourOctetAS: true, families: [.ipv4Unicast]))
    }

    /// A raw TCP client from 127.0.0.1; with `reading` false it never reads what it is sent.
    static func rawClient(to port: Int, reading: Bool) async throws -> any Channel {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: reading)
            // A small window when not reading, so that B's socket buffers fill after a few answers.
            .channelOption(.socketOption(.so_rcvbuf), value: reading ? 131072 : 4096)
            .bind(to: try SocketAddress(ipAddress: "127.0.0.1", port: 0))
            .connect(host: "127.0.0.2", port: port).get()
    }

    @Test func idleConnectionFromThePeersAddressDoesNotBlockTheRealSession() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let portA = TestPorts.take()
        let portB = portA + 1
        // B has the higher identifier (127.0.0.2): an inbound connection loses a §6.8 comparison, so the
        // old code closed every real connection in favour of the idle one.
        let b = BGPSpeaker(group: group, logger: logger, listenPort: portB)
        b.setPeers([
            SpeakerLoopbackTests.settings(
                name: "a", peer: "127.0.0.1", port: portA, asn: 65001, localASN: 65002, local: "127.0.0.2",
                passive: true)
        ])
        #expect(await SpeakerLoopbackTests.eventually { b.listening.contains("127.0.0.2") }, "b never listened")
        let idle = try await Self.rawClient(to: portB, reading: true)
        #expect(await SpeakerLoopbackTests.eventually { b.snapshot().first?.state == .openSent })

        let a = BGPSpeaker(group: group, logger: logger, listenPort: portA)
        a.setPeers([
            SpeakerLoopbackTests.settings(
                name: "b", peer: "127.0.0.2", port: portB, asn: 65002, localASN: 65001, local: "127.0.0.1",
                passive: false)
        ])
        #expect(
            await SpeakerLoopbackTests.eventually {
                a.snapshot().first?.state == .established && b.snapshot().first?.state == .established
            }, "\(String(describing: a.snapshot().first)) \(String(describing: b.snapshot().first))")
        // Once the real session is up, the OPEN-less connection is closed.
        #expect(await SpeakerLoopbackTests.eventually { !idle.isActive }, "the idle connection is still open")
        await a.shutdown(message: "done")
        await b.shutdown(message: "done")
        try? await idle.close()
    }

    @Test func nonReadingPeerLoopingRouteRefreshIsCoalescedAndResetBySendHold() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let port = TestPorts.take(1)
        let b = BGPSpeaker(group: group, logger: logger, listenPort: port)
        var settings = SpeakerLoopbackTests.settings(
            name: "a", peer: "127.0.0.1", port: 179, asn: 65001, localASN: 65002, local: "127.0.0.2", passive: true)
        settings.holdTime = 3
        b.setPeers([settings])
        // 2000 routes: about 4 UPDATEs (16 KB) per refresh answer.
        var routes: [IPPrefix: RouteAttributes] = [:]
        for index in 0..<2000 {
            let prefix = IPPrefix(address: .v4(IPv4Address(0x0A00_0000 + UInt32(index))), length: 32)!
            routes[prefix] = .external(localASN: 65002, nextHop: .v4(IPv4Address(0)))
        }
        b.setRoutes(peer: "a", routes)
        #expect(await SpeakerLoopbackTests.eventually { b.listening.contains("127.0.0.2") }, "b never listened")

        let client = try await Self.rawClient(to: port, reading: false)
        let open = OpenMessage(asn: 65001, holdTime: 3, identifier: IPv4Address("127.0.0.1")!, families: [.ipv4Unicast])
        var hello = client.allocator.buffer(capacity: 64)
        hello.writeBytes(try Self.bytes(.open(open)) + Self.bytes(.keepalive))
        try await client.writeAndFlush(hello)
        #expect(
            await SpeakerLoopbackTests.eventually { b.snapshot().first?.state == .established },
            "\(String(describing: b.snapshot().first))")
        let initialUpdates = b.snapshot().first?.updatesOut ?? 0

        let refresh = try Self.bytes(.routeRefresh(RouteRefreshMessage(family: .ipv4Unicast, subtype: 0)))
        let keepalive = try Self.bytes(.keepalive)
        var sentRefreshes = 0
        let deadline = ContinuousClock.now + .seconds(20)
        // Refreshes until 5000 are out (old code queued 16 KB for each), then KEEPALIVEs every 200 ms only,
        // as the attacking peer does, so that the receive hold timer never fires; it never reads.
        while ContinuousClock.now < deadline {
            if b.snapshot().first?.lastErrorSent?.contains("Send Hold") == true { break }
            let count = sentRefreshes < 5000 ? 50 : 0
            var batch = client.allocator.buffer(capacity: count * refresh.count + keepalive.count)
            for _ in 0..<count { batch.writeBytes(refresh) }
            batch.writeBytes(keepalive)
            do {
                try await client.writeAndFlush(batch)
            } catch {
                break  // B closed the connection
            }
            sentRefreshes += count
            if count == 0 { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(
            await SpeakerLoopbackTests.eventually { b.snapshot().first?.lastErrorSent?.contains("Send Hold") == true },
            "no send hold reset after \(sentRefreshes) refreshes: \(String(describing: b.snapshot().first))")
        let status = try #require(b.snapshot().first)
        // Every refresh is counted, but only those answered while none was in flight were re-sent: at most
        // what the socket buffers took (a few MB, ~4 UPDATEs each), not one answer per request.
        let answered = (status.updatesOut - initialUpdates) / 4
        #expect(answered < sentRefreshes / 4, "\(answered) answers for \(sentRefreshes) requests")
        #expect(status.routeRefreshesCoalesced > 0)
        await b.shutdown(message: "done")
        try? await client.close()
    }
}
