// Privileged test helpers: a body run on its own thread inside a fresh network namespace (where the
// sockets it opens live), commands such as `ip` run from that thread, and a bounded wait for a condition.
import Foundation
import Glibc
import Testing

/// A missing prerequisite or a failed command.
struct TestFailure: Error, CustomStringConvertible {
    var description: String
}

/// Runs `body` on a new thread that has unshared into a new network namespace with `lo` up.
/// Fails (never skips) when the process may not create namespaces.
func inFreshNetworkNamespace<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            typealias Unshare = @convention(c) (Int32) -> Int32
            let cloneNewNet: Int32 = 0x4000_0000  // CLONE_NEWNET; unshare() needs _GNU_SOURCE, hence dlsym
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "unshare"),
                unsafeBitCast(symbol, to: Unshare.self)(cloneNewNet) == 0
            else {
                let reason = String(cString: strerror(errno))
                return continuation.resume(
                    throwing: TestFailure(description: "unshare(CLONE_NEWNET): \(reason): BFD socket tests need root"))
            }
            continuation.resume(
                with: Result { try command("ip", "link", "set", "lo", "up") }.flatMap { _ in Result { try body() } })
        }.start()
    }
}

/// Runs a program from the calling thread (so in its namespace); throws unless it exits 0.
func command(_ arguments: String...) throws {
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let spawned = posix_spawnp(&pid, arguments[0], nil, nil, &argv, environ)
    guard spawned == 0 else {
        throw TestFailure(description: "cannot run \(arguments[0]): \(String(cString: strerror(spawned)))")
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    guard status == 0 else { throw TestFailure(description: "\(arguments.joined(separator: " ")): status \(status)") }
}

/// Polls `condition` every 10 ms for at most `seconds`; the bound only keeps a broken test from hanging.
func eventually(within seconds: Int = 10, _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// Sends one datagram from `source` (any port) to `destination`:3784 with the given TTL.
func sendDatagram(_ bytes: [UInt8], from source: String, to destination: String, ttl: Int32) throws {
    try sendDatagrams(bytes, count: 1, from: source, to: destination, ttl: ttl)
}

/// Sends `count` copies of a datagram from `source` (one port) to `destination`:3784 with the given TTL.
func sendDatagrams(_ bytes: [UInt8], count: Int, from source: String, to destination: String, ttl: Int32) throws {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure(description: "socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var ttl = ttl
    setsockopt(fd, Int32(IPPROTO_IP), IP_TTL, &ttl, socklen_t(MemoryLayout<Int32>.size))
    func address(_ text: String, port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, text, &address.sin_addr)
        return address
    }
    var local = address(source, port: 0)
    var remote = address(destination, port: 3784)
    let size = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &local) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) }
    }
    guard bound == 0 else { throw TestFailure(description: "bind \(source): \(String(cString: strerror(errno)))") }
    for _ in 0..<count {
        let sent = bytes.withUnsafeBytes { data in
            withUnsafePointer(to: &remote) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, data.baseAddress, data.count, 0, $0, size)
                }
            }
        }
        guard sent == bytes.count else { throw TestFailure(description: "sendto: \(String(cString: strerror(errno)))") }
    }
}
