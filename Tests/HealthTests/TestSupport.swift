// Helpers for the I/O tests: a UDP DNS responder that can be told how to misbehave, a dnsmasq process,
// TCP listeners, free ports, and polling waits with generous deadlines.
import CProcess
import Foundation
import Health
import NetAddress
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Waits until `condition` holds, checking every 10 ms; returns false at the deadline.
func waitUntil(seconds: Double, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// A bound socket on 127.0.0.1 or ::1, port chosen by the kernel.
func boundSocket(type: Int32, v6: Bool = false) -> (fd: Int32, port: Int) {
    let fd = socket(v6 ? AF_INET6 : AF_INET, type, 0)
    precondition(fd >= 0, "socket: \(String(cString: strerror(errno)))")
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    if v6 {
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_loopback
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }
        precondition(result == 0, "bind ::1: \(String(cString: strerror(errno)))")
    } else {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        precondition(result == 0, "bind 127.0.0.1: \(String(cString: strerror(errno)))")
    }
    var storage = sockaddr_in6()
    var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
    _ = withUnsafeMutablePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, Int(UInt16(bigEndian: storage.sin6_port)))
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
func closedPort(type: Int32, v6: Bool = false) -> Int {
    let (fd, port) = boundSocket(type: type, v6: v6)
    close(fd)
    return port
}

let loopback4 = IPAddress("127.0.0.1")!
let loopback6 = IPAddress("::1")!

/// A DNS responder on a thread: answers each query according to its current mode.
final class DNSResponder: Sendable {
    enum Mode: Sendable {
        /// A correct NOERROR answer with one TXT record.
        case answer
        case wrongID
        case wrongQuestion
        case servfail
        /// A correct answer cut in the middle of its record.
        case truncated
        /// Reads the query and never answers (a hung server).
        case silent
    }

    let port: Int
    private let fd: Int32
    private let mode: Mutex<Mode>
    private let stopped = Atomic<Bool>(false)
    private let queries = Atomic<Int>(0)

    init(mode: Mode = .answer, v6: Bool = false) {
        (fd, port) = boundSocket(type: Int32(SOCK_DGRAM.rawValue), v6: v6)
        self.mode = Mutex(mode)
        Thread { [self] in serve() }.start()
    }

    var queryCount: Int { queries.load(ordering: .relaxed) }

    func set(_ mode: Mode) { self.mode.withLock { $0 = mode } }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        shutdown(fd, Int32(SHUT_RDWR))
    }

    deinit {
        close(fd)
    }

    private func serve() {
        var buffer = [UInt8](repeating: 0, count: 512)
        while !stopped.load(ordering: .relaxed) {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 50) > 0 else { continue }
            var peer = sockaddr_storage()
            var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let count = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &peer) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(fd, raw.baseAddress, raw.count, 0, $0, &peerLength)
                    }
                }
            }
            guard count >= 12 else { continue }
            queries.add(1, ordering: .relaxed)
            guard let reply = reply(to: Array(buffer[0..<count])) else { continue }
            _ = reply.withUnsafeBytes { raw in
                withUnsafePointer(to: &peer) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, raw.baseAddress, raw.count, 0, $0, peerLength)
                    }
                }
            }
        }
    }

    private func reply(to query: [UInt8]) -> [UInt8]? {
        let mode = self.mode.withLock { $0 }
        var answer = query
        answer[2] = 0x84  // QR, AA
        answer[3] = 0x00
        answer[7] = 1  // one answer
        answer += [0xC0, 0x0C, 0x00, 0x10, 0x00, 0x01, 0, 0, 0, 60, 0x00, 0x02, 0x01, UInt8(ascii: "x")]
        switch mode {
        case .answer: return answer
        case .wrongID:
            answer[1] ^= 0xFF
            return answer
        case .wrongQuestion:
            answer[13] ^= 0x01
            return answer
        case .servfail:
            answer[3] = 0x02
            return answer
        case .truncated: return Array(answer.dropLast(3))
        case .silent: return nil
        }
    }
}

/// A TCP listener on 127.0.0.1 that never accepts (the kernel completes handshakes on its own).
final class TCPListener: Sendable {
    let port: Int
    private let fd: Int32

    init(backlog: Int32 = 16) {
        (fd, port) = boundSocket(type: Int32(SOCK_STREAM.rawValue))
        precondition(listen(fd, backlog) == 0, "listen: \(String(cString: strerror(errno)))")
    }

    deinit { close(fd) }
}

/// A dnsmasq serving `id.lab TXT "x"` on 127.0.0.1 and a free port, in the foreground, killed by pid.
final class Dnsmasq: Sendable {
    let port: Int
    let pid: pid_t

    /// The test fails with an install hint when dnsmasq is missing.
    init() throws {
        let candidates = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/sbin/dnsmasq"]
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestFailure("dnsmasq not found (install it: apt-get install -y dnsmasq-base)")
        }
        port = closedPort(type: Int32(SOCK_DGRAM.rawValue))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = [
            "--conf-file=/dev/null", "--listen-address=127.0.0.1", "--port=\(port)", "--bind-interfaces",
            "--no-resolv", "--no-hosts", "--txt-record=id.lab,x", "--keep-in-foreground", "--user=root",
            "--pid-file=",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        pid = process.processIdentifier
    }

    func stop() {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Whether `pid` is gone, or at most a zombie that is not our child (reaped by whoever adopted it). Once a
/// test made this process a child subreaper (OrphanTests), a check's dead helper may be re-parented here
/// as a zombie; it is reaped and counts as gone (only check processes are asked about).
func processIsGone(_ pid: pid_t) -> Bool {
    if kill(pid, 0) != 0 { return errno == ESRCH }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
    let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
    guard fields.count > 1 else { return false }
    guard fields[0] == "Z" else { return false }
    if Int32(fields[1]) != getpid() { return true }
    var status: Int32 = 0
    return acd_is_child_subreaper() == 1 && waitpid(pid, &status, WNOHANG) == pid
}

/// /proc/PID/stat, for failure messages.
func procStat(_ pid: pid_t) -> String {
    (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "(no /proc/\(pid)/stat)"
}
