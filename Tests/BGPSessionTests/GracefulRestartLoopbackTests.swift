// Graceful Restart between two BGPSpeakers over loopback: with the capability on both sides the restarting
// speaker sends its routes but holds End-of-RIB back until `finishRestart`; a peer without the capability
// gets End-of-RIB at once (nothing to keep stale there).
import BGP
import Logging
import NIOPosix
import NetAddress
import Testing

@testable import BGPSession

@Suite(.serialized) struct GracefulRestartLoopbackTests {
    /// Speaker A (127.0.0.1, Graceful Restart, restarted) peering with B (127.0.0.2, passive), one route.
    func pair(peerHasGracefulRestart: Bool) -> (a: BGPSpeaker, b: BGPSpeaker) {
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let portA = TestPorts.take()
        let portB = portA + 1
        let a = BGPSpeaker(group: MultiThreadedEventLoopGroup.singleton, logger: logger, listenPort: portA)
        let b = BGPSpeaker(group: MultiThreadedEventLoopGroup.singleton, logger: logger, listenPort: portB)
        var toB = SpeakerLoopbackTests.settings(
            name: "b", peer: "127.0.0.2", port: portB, asn: 65002, localASN: 65001, local: "127.0.0.1", passive: false)
        toB.gracefulRestartTime = 30
        var toA = SpeakerLoopbackTests.settings(
            name: "a", peer: "127.0.0.1", port: portA, asn: 65001, localASN: 65002, local: "127.0.0.2", passive: true)
        if peerHasGracefulRestart { toA.gracefulRestartTime = 120 }
        a.setRestarted(true)
        a.setPeers([toB])
        b.setPeers([toA])
        b.finishRestart()  // B is not restarting: it sends its End-of-RIB at once
        a.setRoutes(peer: "b", SpeakerLoopbackTests.routes(["192.0.2.1/32"], asn: 65001))
        return (a, b)
    }

    @Test func endOfRIBIsHeldUntilTheRestartIsFinished() async throws {
        let (a, b) = pair(peerHasGracefulRestart: true)
        #expect(
            await SpeakerLoopbackTests.eventually { b.snapshot().first?.families[.ipv4]?.prefixesReceived == 1 },
            "\(b.snapshot())")
        // The route went out; End-of-RIB did not (one UPDATE, not two), and nothing more follows by itself.
        #expect(a.snapshot().first?.updatesOut == 1, "\(a.snapshot())")
        #expect(b.snapshot().first?.updatesIn == 1)
        a.finishRestart()
        #expect(await SpeakerLoopbackTests.eventually { b.snapshot().first?.updatesIn == 2 }, "\(b.snapshot())")
        #expect(a.snapshot().first?.updatesOut == 2)
        await a.shutdown(message: "done")
        await b.shutdown(message: "done")
    }

    @Test func aPeerWithoutTheCapabilityGetsEndOfRIBAtOnce() async throws {
        let (a, b) = pair(peerHasGracefulRestart: false)
        #expect(await SpeakerLoopbackTests.eventually { b.snapshot().first?.updatesIn == 2 }, "\(b.snapshot())")
        #expect(b.snapshot().first?.families[.ipv4]?.prefixesReceived == 1)
        await a.shutdown(message: "done")
        await b.shutdown(message: "done")
    }
}
