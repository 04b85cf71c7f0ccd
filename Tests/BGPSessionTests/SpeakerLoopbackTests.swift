// Two BGPSpeakers peering over loopback (127.0.0.1 and 127.0.0.2, test ports): routes flow, only the
// difference is sent, a shutdown carries its RFC 9003 text, and a malformed message gets the right
// NOTIFICATION instead of a crash. No namespaces needed; the real-router tier is Tests/interop/run.sh.
import BGP
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NetAddress
import Testing

@testable import BGPSession

@Suite(.serialized) struct SpeakerLoopbackTests {
    static func settings(
        name: String, peer: String, port: Int, asn: UInt32, localASN: UInt32, local: String, passive: Bool
    ) -> BGPPeerSettings {
        BGPPeerSettings(
            name: name, address: IPAddress(peer)!, port: port, asn: asn, localASN: localASN,
            routerId: IPv4Address(local)!, localAddress: IPAddress(local)!, passive: passive, holdTime: 9,
            families: [.ipv4], connectRetrySeconds: 0.5, maximumRetrySeconds: 2)
    }

    /// Polls `condition` every 20 ms for up to `seconds`.
    static func eventually(_ seconds: Double = 8, _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    static func routes(_ prefixes: [String], asn: UInt32) -> [IPPrefix: RouteAttributes] {
        var result: [IPPrefix: RouteAttributes] = [:]
        for text in prefixes {
            result[IPPrefix(text)!] = .external(localASN: asn, nextHop: .v4(IPv4Address(0)), med: 10)
        }
        return result
    }

    @Test func routesFlowAndShutdownMessageArrives() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let portA = TestPorts.take()
        let portB = portA + 1
        let a = BGPSpeaker(group: group, logger: logger, listenPort: portA)
        let b = BGPSpeaker(group: group, logger: logger, listenPort: portB)
        a.setPeers([
            Self.settings(
                name: "b", peer: "127.0.0.2", port: portB, asn: 65002, localASN: 65001, local: "127.0.0.1",
                passive: false)
        ])
        b.setPeers([
            Self.settings(
                name: "a", peer: "127.0.0.1", port: portA, asn: 65001, localASN: 65002, local: "127.0.0.2",
                passive: true)
        ])
        a.setRoutes(peer: "b", Self.routes(["192.0.2.1/32", "192.0.2.2/32", "192.0.2.3/32"], asn: 65001))

        let received = {
            b.snapshot().first?.families[.ipv4]?.prefixesReceived ?? -1
        }
        #expect(await Self.eventually { received() == 3 }, "B never counted 3 prefixes: \(b.snapshot())")
        let status = try #require(a.snapshot().first)
        #expect(status.state == .established)
        #expect(status.inbound == false)
        #expect(status.families[.ipv4]?.prefixesSent == 3)
        // One UPDATE for the three prefixes (one attribute set) plus End-of-RIB.
        #expect(status.updatesOut == 2)

        a.setRoutes(peer: "b", Self.routes(["192.0.2.1/32", "192.0.2.3/32"], asn: 65001))
        #expect(await Self.eventually { received() == 2 })
        #expect(a.snapshot().first?.updatesOut == 3, "a withdrawal is one UPDATE, nothing re-sent")
        a.setRoutes(peer: "b", Self.routes(["192.0.2.1/32", "192.0.2.3/32"], asn: 65001))
        // A change after the unchanged set shows that the set was handled: it alone is one more UPDATE.
        a.setRoutes(peer: "b", Self.routes(["192.0.2.1/32", "192.0.2.3/32", "192.0.2.4/32"], asn: 65001))
        #expect(await Self.eventually { received() == 3 })
        #expect(a.snapshot().first?.updatesOut == 4, "an unchanged set sends nothing")

        await a.shutdown(message: "maintenance window 42")
        #expect(
            await Self.eventually { b.snapshot().first?.lastErrorReceived?.contains("maintenance window 42") == true },
            "B did not see the shutdown message: \(String(describing: b.snapshot().first))")
        // A new session that brings no routes: B must count none (nothing kept from the old session).
        let a2 = BGPSpeaker(group: group, logger: logger, listenPort: portA)
        a2.setPeers([
            Self.settings(
                name: "b", peer: "127.0.0.2", port: portB, asn: 65002, localASN: 65001, local: "127.0.0.1",
                passive: false)
        ])
        #expect(
            await Self.eventually {
                b.snapshot().first?.state == .established && b.snapshot().first?.establishedCount == 2
                    && b.snapshot().first?.families[.ipv4] != nil
            }, "\(String(describing: b.snapshot().first))")
        #expect(b.snapshot().first?.families[.ipv4]?.prefixesReceived == 0, "\(String(describing: b.snapshot().first))")
        await a2.shutdown(message: "done")
        await b.shutdown(message: "done")
    }

    /// setPeers resets only a peer whose session settings changed (Cease/6) and removes a gone peer with
    /// Cease/3 after withdrawing; back-off changes alone do not reset.
    @Test func setPeersResetsOnlyWhatChanged() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let portA = TestPorts.take()
        let portB = portA + 1
        let a = BGPSpeaker(group: group, logger: logger, listenPort: portA)
        let b = BGPSpeaker(group: group, logger: logger, listenPort: portB)
        var toB = Self.settings(
            name: "b", peer: "127.0.0.2", port: portB, asn: 65002, localASN: 65001, local: "127.0.0.1",
            passive: false)
        a.setPeers([toB])
        b.setPeers([
            Self.settings(
                name: "a", peer: "127.0.0.1", port: portA, asn: 65001, localASN: 65002, local: "127.0.0.2",
                passive: true)
        ])
        a.setRoutes(peer: "b", Self.routes(["198.51.100.1/32"], asn: 65001))
        #expect(await Self.eventually { b.snapshot().first?.families[.ipv4]?.prefixesReceived == 1 })

        toB.maximumRetrySeconds = 5
        a.setPeers([toB])
        // setPeers and setRoutes run in order on A's loop: once the new route is at B, the back-off change
        // was applied, and a reset would have sent B a NOTIFICATION before it.
        a.setRoutes(peer: "b", Self.routes(["198.51.100.1/32", "198.51.100.2/32"], asn: 65001))
        #expect(await Self.eventually { b.snapshot().first?.families[.ipv4]?.prefixesReceived == 2 })
        #expect(a.snapshot().first?.establishedCount == 1, "a back-off change must not reset the session")
        #expect(b.snapshot().first?.lastErrorReceived == nil, "\(String(describing: b.snapshot().first))")

        toB.holdTime = 30
        a.setPeers([toB])
        #expect(
            await Self.eventually { b.snapshot().first?.lastErrorReceived?.contains("Configuration Change") == true },
            "\(String(describing: b.snapshot().first))")
        #expect(
            await Self.eventually {
                a.snapshot().first?.establishedCount == 2 && a.snapshot().first?.state == .established
            })
        // The routes are sent again on the new session.
        #expect(await Self.eventually { b.snapshot().first?.families[.ipv4]?.prefixesReceived == 2 })

        a.setPeers([])
        #expect(
            await Self.eventually { b.snapshot().first?.lastErrorReceived?.contains("De-configured") == true },
            "\(String(describing: b.snapshot().first))")
        #expect(await Self.eventually { a.snapshot().isEmpty })
        await a.shutdown(message: "done")
        await b.shutdown(message: "done")
    }

    /// Both sides active: connections may cross (RFC 4271 §6.8); either way one session comes up on each
    /// side and stays up.
    @Test func bothActiveSettleOnOneSession() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let portA = TestPorts.take()
        let portB = portA + 1
        let a = BGPSpeaker(group: group, logger: logger, listenPort: portA)
        let b = BGPSpeaker(group: group, logger: logger, listenPort: portB)
        a.setPeers([
            Self.settings(
                name: "b", peer: "127.0.0.2", port: portB, asn: 65002, localASN: 65001, local: "127.0.0.1",
                passive: false)
        ])
        b.setPeers([
            Self.settings(
                name: "a", peer: "127.0.0.1", port: portA, asn: 65001, localASN: 65002, local: "127.0.0.2",
                passive: false)
        ])
        a.setRoutes(peer: "b", Self.routes(["203.0.113.7/32"], asn: 65001))
        #expect(await Self.eventually { b.snapshot().first?.families[.ipv4]?.prefixesReceived == 1 })
        // A crossing that both sides settle at once may cost one round: B's copy of A's connection can
        // reach Established (B then closes B's own, §6.8) while A, still in OpenConfirm there, keeps B's
        // (the higher identifier's) and closes its own. Both retry and the second round settles. So the
        // session may have come up twice on one side, but once up it must stay up.
        let before = (a.snapshot().first?.establishedCount ?? 0, b.snapshot().first?.establishedCount ?? 0)
        try await Task.sleep(for: .seconds(2))
        let sa = try #require(a.snapshot().first)
        let sb = try #require(b.snapshot().first)
        #expect(sa.state == .established && sb.state == .established)
        #expect(sa.establishedCount == before.0 && sb.establishedCount == before.1, "flapped: \(sa) \(sb)")
        #expect((1...2).contains(sa.establishedCount) && (1...2).contains(sb.establishedCount), "\(sa) \(sb)")
        #expect(sa.inbound != sb.inbound, "one side's outbound connection is the other's inbound")
        await a.shutdown(message: "done")
        await b.shutdown(message: "done")
    }

    /// Both sides active, and `a`'s first connection is taken and closed by `b` before `b` knows `a`
    /// (as a router does before its configuration is loaded). `a` then waits its back-off in Active, so
    /// `b`'s connection is taken and the session comes up; a machine that waited in Idle would refuse
    /// it, and the two would refuse each other's attempts in turn.
    @Test func firstConnectionClosedByAnUnreadyPeerStillConverges() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let portA = TestPorts.take()
        let portB = portA + 1
        let a = BGPSpeaker(group: group, logger: logger, listenPort: portA)
        let b = BGPSpeaker(group: group, logger: logger, listenPort: portB)
        // b listens on 127.0.0.2 for another neighbor only: a's connection is closed unanswered.
        b.setPeers([
            Self.settings(
                name: "x", peer: "127.0.0.9", port: portA, asn: 65009, localASN: 65002, local: "127.0.0.2",
                passive: true)
        ])
        #expect(await Self.eventually { b.listening.contains("127.0.0.2") }, "b never listened")
        a.setPeers([
            Self.settings(
                name: "b", peer: "127.0.0.2", port: portB, asn: 65002, localASN: 65001, local: "127.0.0.1",
                passive: false)
        ])
        #expect(
            await Self.eventually { a.snapshot().first?.lastFailure?.contains("closed") == true },
            "a's first connection must have been closed by b: \(String(describing: a.snapshot().first))")
        b.setPeers([
            Self.settings(
                name: "a", peer: "127.0.0.1", port: portA, asn: 65001, localASN: 65002, local: "127.0.0.2",
                passive: false)
        ])
        #expect(
            await Self.eventually {
                a.snapshot().first?.state == .established && b.snapshot().first?.state == .established
            }, "\(String(describing: a.snapshot().first)) \(String(describing: b.snapshot().first))")
        await a.shutdown(message: "done")
        await b.shutdown(message: "done")
    }

    /// A connection from the configured peer that sends a bad marker gets NOTIFICATION 1/1 and is
    /// closed; the speaker stays up and accepts a good session afterwards.
    @Test func malformedHeaderGetsNotificationNotACrash() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let port = TestPorts.take(1)
        let b = BGPSpeaker(group: group, logger: logger, listenPort: port)
        b.setPeers([
            Self.settings(
                name: "a", peer: "127.0.0.1", port: 179, asn: 65001, localASN: 65002, local: "127.0.0.2",
                passive: true)
        ])
        #expect(await Self.eventually { b.snapshot().first?.state == .active })
        #expect(await Self.eventually { b.listening.contains("127.0.0.2") }, "b never listened")

        let collector = ByteCollector()
        let client = try await ClientBootstrap(group: group)
            .bind(to: try SocketAddress(ipAddress: "127.0.0.1", port: 0))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
            .connect(host: "127.0.0.2", port: port).get()
        var garbage = client.allocator.buffer(capacity: 19)
        garbage.writeBytes([UInt8](repeating: 0xFF, count: 15) + [0x00, 0x00, 0x13, 0x04])
        try await client.writeAndFlush(garbage)
        try await client.closeFuture.get()
        let bytes = collector.bytes.withLockedValue { $0 }
        // Our OPEN comes first, then the NOTIFICATION: find type 3 and read code/subcode.
        var index = 0
        var notification: (UInt8, UInt8)?
        while index + 19 <= bytes.count {
            let length = Int(bytes[index + 16]) << 8 | Int(bytes[index + 17])
            if bytes[index + 18] == 3, index + 21 <= bytes.count {
                notification = (bytes[index + 19], bytes[index + 20])
            }
            index += max(length, 19)
        }
        #expect(notification?.0 == 1 && notification?.1 == 1, "expected NOTIFICATION 1/1, got \(bytes)")
        #expect(
            await Self.eventually(2) { b.snapshot().first?.lastErrorSent?.contains("Header") == true },
            "\(String(describing: b.snapshot().first))")
        await b.shutdown(message: "done")
    }
}

/// Collects every byte a client channel receives.
final class ByteCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let bytes = NIOLockedValueBox<[UInt8]>([])

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = Self.unwrapInboundIn(data)
        bytes.withLockedValue { $0 += buffer.readableBytesView }
    }
}
