// ADD-PATH receive (RFC 7911) through the NIO shell over loopback: a router-like peer that sends two paths
// for one of our own prefixes is reported as two, a withdrawn path leaves the other, and the end of the
// session reports none; a speaker peer without ADD-PATH gives its one path. The tier with BIRD
// (`add paths tx`) and FRR is Tests/interop/policy.sh.
import BGP
import Logging
import NIOCore
import NIOPosix
import NetAddress
import Synchronization
import Testing

@testable import BGPSession

@Suite(.serialized) struct AddPathLoopbackTests {
    static let own = IPPrefix("192.0.2.53/32")!

    /// A speaker's events as they come.
    final class EventLog: Sendable {
        private let events = Mutex<[BGPPeerEvent]>([])

        func append(_ event: BGPPeerEvent) { events.withLock { $0.append(event) } }
        var all: [BGPPeerEvent] { events.withLock { $0 } }

        /// The paths last reported for `prefix` by `peer`, nil before any report.
        func lastPaths(peer: String, prefix: IPPrefix) -> [ReceivedRoute]? {
            for case .receivedPaths(peer, prefix, let paths) in all.reversed() { return paths }
            return nil
        }
    }

    /// Runs `body` while a child task records the speaker's events.
    static func withEvents(of speaker: BGPSpeaker, _ body: (EventLog) async throws -> Void) async throws {
        let log = EventLog()
        let events = speaker.events
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { for await event in events { log.append(event) } }
            try await body(log)
            tasks.cancelAll()
        }
    }

    static func send(_ message: BGPMessage, to channel: any Channel) async throws {
        let context = CodecContext(fourOctetAS: true, families: [.ipv4Unicast], addPathSend: [.ipv4Unicast])
        try await channel.writeAndFlush(ByteBuffer(bytes: try message.encoded(context: context)))
    }

    static func attributes(from asn: UInt32, nextHop: String, communities: [Community] = []) -> [PathAttribute] {
        [.origin(.igp), .asPath([ASPathSegment(.sequence, [65001, asn])]), .nextHop(IPv4Address(nextHop)!)]
            + (communities.isEmpty ? [] : [.communities(communities)])
    }

    @Test func aPeerSendingTwoPathsShowsTwo() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let port = TestPorts.take(1)
        let b = BGPSpeaker(group: group, logger: logger, listenPort: port)
        var settings = SpeakerLoopbackTests.settings(
            name: "router", peer: "127.0.0.1", port: 179, asn: 65001, localASN: 65002, local: "127.0.0.2",
            passive: true)
        settings.addPathReceive = true
        settings.ownPrefixes = [Self.own]
        b.setPeers([settings])
        try await Self.withEvents(of: b) { log in
            #expect(await SpeakerLoopbackTests.eventually { b.listening.contains("127.0.0.2") }, "b never listened")
            let router = try await HardeningLoopbackTests.rawClient(to: port, reading: true)
            var open = OpenMessage(
                asn: 65001, holdTime: 9, identifier: IPv4Address("127.0.0.1")!, families: [.ipv4Unicast])
            open.capabilities.append(.addPath([AddPathFamily(.ipv4Unicast, .both)]))
            try await Self.send(.open(open), to: router)
            try await Self.send(.keepalive, to: router)
            #expect(await SpeakerLoopbackTests.eventually { b.snapshot().first?.state == .established })

            // Two hosts' paths for our prefix, in two UPDATEs (different attributes), plus an unrelated route.
            try await Self.send(
                .update(
                    UpdateMessage(
                        attributes: Self.attributes(from: 65010, nextHop: "10.0.0.10"), nlri: [Self.own],
                        nlriPathIDs: [1])), to: router)
            try await Self.send(
                .update(
                    UpdateMessage(
                        attributes: Self.attributes(
                            from: 65011, nextHop: "10.0.0.11", communities: [Community(asn: 65000, value: 666)]),
                        nlri: [Self.own, IPPrefix("198.51.100.0/24")!], nlriPathIDs: [2, 1])), to: router)
            let two = await SpeakerLoopbackTests.eventually {
                log.lastPaths(peer: "router", prefix: Self.own)?.count == 2
            }
            #expect(two, "\(log.all)")
            let paths = log.lastPaths(peer: "router", prefix: Self.own) ?? []
            #expect(paths.map(\.pathID) == [1, 2])
            #expect(paths.map(\.nextHop) == [.v4(IPv4Address("10.0.0.10")!), .v4(IPv4Address("10.0.0.11")!)])
            #expect(paths.map(\.flatASPath) == [[65001, 65010], [65001, 65011]])
            #expect(paths.last?.communities == [Community(asn: 65000, value: 666)])
            #expect(b.snapshot().first?.families[.ipv4]?.prefixesReceived == 3, "paths are counted")
            let others = log.all.filter {
                if case .receivedPaths(_, let prefix, _) = $0 { prefix != Self.own } else { false }
            }
            #expect(others.isEmpty, "only own prefixes are reported")

            // The first host withdraws: its path goes, the other stays.
            try await Self.send(.update(UpdateMessage(withdrawn: [Self.own], withdrawnPathIDs: [1])), to: router)
            #expect(
                await SpeakerLoopbackTests.eventually {
                    log.lastPaths(peer: "router", prefix: Self.own)?.map(\.pathID) == [2]
                }, "\(log.all)")

            // The session ends: none.
            try await router.close()
            #expect(
                await SpeakerLoopbackTests.eventually { log.lastPaths(peer: "router", prefix: Self.own) == [] },
                "\(log.all)")
            await b.shutdown(message: "done")
        }
    }

    @Test func twoSpeakersWithoutSendingPathsGiveTheOnePath() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let portA = TestPorts.take()
        let portB = portA + 1
        let a = BGPSpeaker(group: group, logger: logger, listenPort: portA)
        let b = BGPSpeaker(group: group, logger: logger, listenPort: portB)
        a.setPeers([
            SpeakerLoopbackTests.settings(
                name: "b", peer: "127.0.0.2", port: portB, asn: 65002, localASN: 65001, local: "127.0.0.1",
                passive: false)
        ])
        var toA = SpeakerLoopbackTests.settings(
            name: "a", peer: "127.0.0.1", port: portA, asn: 65001, localASN: 65002, local: "127.0.0.2", passive: true)
        toA.addPathReceive = true
        toA.ownPrefixes = [Self.own]
        b.setPeers([toA])
        try await Self.withEvents(of: b) { log in
            a.setRoutes(peer: "b", SpeakerLoopbackTests.routes(["192.0.2.53/32"], asn: 65001))
            #expect(
                await SpeakerLoopbackTests.eventually { log.lastPaths(peer: "a", prefix: Self.own)?.count == 1 },
                "\(log.all)")
            let path = log.lastPaths(peer: "a", prefix: Self.own)?.first
            #expect(path?.pathID == 0)
            #expect(path?.nextHop == .v4(IPv4Address("127.0.0.1")!))
            #expect(path?.flatASPath == [65001])
            a.setRoutes(peer: "b", [:])
            #expect(
                await SpeakerLoopbackTests.eventually { log.lastPaths(peer: "a", prefix: Self.own) == [] },
                "\(log.all)")
            await a.shutdown(message: "done")
            await b.shutdown(message: "done")
        }
    }
}
