// One log line per refused source address per interval, with the count of those not logged; a bounded
// memory of addresses, beyond which all others share one line per interval.
import NetAddress
import Testing

@testable import BGPSession

@Suite struct RefusalLogTests {
    @Test func oneLinePerSourcePerInterval() {
        var log = RefusalLog(interval: .seconds(10), capacity: 8)
        let source = IPAddress("192.0.2.7")!
        #expect(log.refused(source, now: .zero) == .log(suppressed: 0))
        for tick in 1...100 {
            #expect(log.refused(source, now: .milliseconds(tick * 10)) == .quiet)
        }
        #expect(log.refused(source, now: .seconds(10)) == .log(suppressed: 100))
        // Another source has its own line.
        #expect(log.refused(IPAddress("192.0.2.8")!, now: .seconds(10)) == .log(suppressed: 0))
    }

    @Test func memoryIsBoundedAndOthersShareALine() {
        var log = RefusalLog(interval: .seconds(10), capacity: 4)
        var lines = 0
        for index in 0..<10_000 {
            let source = IPAddress.v4(IPv4Address(0x0A00_0000 + UInt32(index)))
            if case .log = log.refused(source, now: .milliseconds(index)) { lines += 1 }
            #expect(log.count <= 4)
        }
        // 4 remembered sources, plus one shared line for all the others within the 10 s.
        #expect(lines == 5)
    }
}
