// health-bench: measures what the DNS health check costs and how fast it notices failures, against a real
// dnsmasq it starts and stops itself, in this one process (no BGP). Run by Tests/bench/health-cpu.sh; not
// part of the product. The comparison with ExaBGP's healthcheck is Tests/bench/health.sh.
import Config
import Foundation
import Health
import NetAddress
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

struct Options {
    var dnsmasq = "/usr/sbin/dnsmasq"
    var seconds = 30.0
    var trials = 20
    var intervalMs = 100
    var timeoutMs = 50
    var fall = 3
    /// The check's fastInterval in ms; 0 for none.
    var fastIntervalMs = 0

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let flag = iterator.next() {
            guard let value = iterator.next() else { fail("\(flag) needs a value") }
            switch flag {
            case "--dnsmasq": dnsmasq = value
            case "--seconds": seconds = Double(value) ?? seconds
            case "--trials": trials = Int(value) ?? trials
            case "--interval-ms": intervalMs = Int(value) ?? intervalMs
            case "--timeout-ms": timeoutMs = Int(value) ?? timeoutMs
            case "--fall": fall = Int(value) ?? fall
            case "--fast-interval-ms": fastIntervalMs = Int(value) ?? fastIntervalMs
            default: fail("unknown option \(flag)")
            }
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("health-bench: \(message)\n".utf8))
    exit(1)
}

func now() -> ContinuousClock.Instant { ContinuousClock.now }

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// User + system CPU time of this process.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// A free UDP port on 127.0.0.1.
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length)
            return getsockname(fd, pointer, &length)
        }
    }
    close(fd)
    return Int(UInt16(bigEndian: address.sin_port))
}

/// dnsmasq in the foreground on 127.0.0.1:port, answering id.lab TXT.
final class Dnsmasq {
    let path: String
    let port: Int
    var process: Process?

    init(path: String, port: Int) {
        self.path = path
        self.port = port
    }

    func start() {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = [
            "--conf-file=/dev/null", "--listen-address=127.0.0.1", "--port=\(port)", "--bind-interfaces",
            "--no-resolv", "--no-hosts", "--txt-record=id.lab,x", "--keep-in-foreground", "--user=root",
            "--pid-file=",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { fail("cannot start \(path): \(error)") }
        self.process = process
    }

    var pid: pid_t { process?.processIdentifier ?? 0 }

    func kill(_ signal: Int32) {
        guard let process else { return }
        Glibc.kill(process.processIdentifier, signal)
        if signal == SIGKILL {
            process.waitUntilExit()
            self.process = nil
        }
    }
}

/// The events of the monitor with their arrival times.
final class Events: Sendable {
    private let log = Mutex<[(ContinuousClock.Instant, Bool)]>([])

    init(_ monitor: HealthMonitor) {
        let stream = monitor.events
        Task.detached { [self] in
            for await event in stream {
                let time = now()
                log.withLock { $0.append((time, event.isUp)) }
            }
        }
    }

    var count: Int { log.withLock { $0.count } }

    /// Waits (polling every 2 ms) for an event after index `after` with state `up`; returns its time.
    func wait(after: Int, up: Bool, limit: Duration = .seconds(10)) async -> ContinuousClock.Instant? {
        let deadline = now() + limit
        while now() < deadline {
            let found = log.withLock { events in events.dropFirst(after).first { $0.1 == up }?.0 }
            if let found { return found }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return nil
    }
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let rank = p * Double(sorted.count - 1)
    let low = Int(rank.rounded(.down))
    let high = min(low + 1, sorted.count - 1)
    return sorted[low] + (sorted[high] - sorted[low]) * (rank - Double(low))
}

func format(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }

@main
struct HealthBench {
    static func main() async {
        let options = Options(CommandLine.arguments)
        let dnsmasq = Dnsmasq(path: options.dnsmasq, port: freePort())
        dnsmasq.start()
        defer { dnsmasq.kill(SIGKILL) }

        let monitor = HealthMonitor()
        let events = Events(monitor)
        let check = CheckConfig(
            kind: .dns(server: nil, port: dnsmasq.port, name: "id.lab", type: "TXT", rcodes: ["NOERROR"]),
            interval: .milliseconds(options.intervalMs), timeout: .milliseconds(options.timeoutMs), rise: 2,
            fall: options.fall, fastInterval: options.fastIntervalMs > 0 ? .milliseconds(options.fastIntervalMs) : nil)
        monitor.update(services: [(name: "dns", checks: [check], defaultDNSServer: IPAddress("127.0.0.1"))])
        guard await events.wait(after: 0, up: true) != nil else {
            fail("dnsmasq on port \(dnsmasq.port) never answered")
        }

        // 1. CPU while checking every interval against a healthy server.
        print(
            "health-bench: DNS check every \(options.intervalMs) ms against dnsmasq (pid \(dnsmasq.pid), port \(dnsmasq.port))"
        )
        let before = monitor.snapshot()[0].checks[0]
        let cpuStart = cpuSeconds()
        let wallStart = now()
        try? await Task.sleep(for: .seconds(options.seconds))
        let wall = seconds(now() - wallStart)
        let cpu = cpuSeconds() - cpuStart
        let after = monitor.snapshot()[0].checks[0]
        let checks = after.runs - before.runs
        let failed = after.failures - before.failures
        let failure = failed > 0 ? ", last failure: \(after.lastFailure ?? "?")" : ""
        let cpuPercent = cpu / wall * 100
        print(
            "cpu: \(format(cpu, 3)) s in \(format(wall)) s = \(format(cpuPercent, 2)) % of a core, \(checks) checks, \(failed) failed "
                + "(\(format(cpu / Double(max(checks, 1)) * 1e6, 0)) µs each)\(failure)")

        // 2. Dead server (SIGKILL): time from the kill to the down event.
        var dead: [Double] = []
        for _ in 0..<options.trials {
            try? await Task.sleep(for: .milliseconds(Int.random(in: 0..<options.intervalMs)))
            let mark = events.count
            let start = now()
            dnsmasq.kill(SIGKILL)
            guard let down = await events.wait(after: mark, up: false) else { fail("no down event after kill") }
            dead.append(seconds(down - start) * 1000)
            let upMark = events.count
            dnsmasq.start()
            guard await events.wait(after: upMark, up: true) != nil else { fail("no up event after restart") }
        }

        // 3. Hung server (SIGSTOP): it keeps the port but never answers.
        var hung: [Double] = []
        for _ in 0..<options.trials {
            try? await Task.sleep(for: .milliseconds(Int.random(in: 0..<options.intervalMs)))
            let mark = events.count
            let start = now()
            dnsmasq.kill(SIGSTOP)
            guard let down = await events.wait(after: mark, up: false) else { fail("no down event after SIGSTOP") }
            hung.append(seconds(down - start) * 1000)
            let upMark = events.count
            dnsmasq.kill(SIGCONT)
            guard await events.wait(after: upMark, up: true) != nil else { fail("no up event after SIGCONT") }
        }
        monitor.stop()

        let fall = options.fall
        let fast = options.fastIntervalMs
        // With fastInterval: interval + timeout + (fall − 1) × max(fastInterval, timeout) (CheckPace).
        let bound =
            fast > 0
            ? Double(options.intervalMs + options.timeoutMs + (fall - 1) * max(fast, options.timeoutMs))
            : Double(options.intervalMs * fall + options.timeoutMs)
        let pace = fast > 0 ? ", fastInterval \(fast) ms" : ""
        print(
            "dead server -> down (fall \(fall)\(pace), \(dead.count) trials): p50 \(format(percentile(dead, 0.5))) ms, "
                + "max \(format(dead.max() ?? .nan)) ms, min \(format(dead.min() ?? .nan)) ms")
        print(
            "hung server -> down (fall \(fall)\(pace), timeout \(options.timeoutMs) ms, \(hung.count) trials): p50 "
                + "\(format(percentile(hung, 0.5))) ms, max \(format(hung.max() ?? .nan)) ms "
                + "(bound \(fast > 0 ? "interval + timeout + (fall - 1) x max(fastInterval, timeout)" : "interval x fall + timeout") = \(format(bound, 0)) ms)"
        )
        print("ExaBGP's healthcheck is compared side by side, same dnsmasq and router, in Tests/bench/health.sh")
        print(
            "aim: < 1 % CPU: \(cpuPercent < 1 ? "met" : "MISSED"); p50 <= 300 ms: \(percentile(dead, 0.5) <= 300 ? "met" : "MISSED")"
        )
    }
}
