// Test helpers for privileged tests: run a body on a dedicated thread that has unshared into a
// fresh network namespace (network namespaces are per thread), and run commands such as `ip` there.
import Foundation
import Glibc
import Testing

/// The privileged suites, one test at a time: every namespace shares the kernel's rtnl lock, so a
/// 10,000-address test running beside the monitor's 100 ms checks would make them flaky.
@Suite(.serialized) enum NamespaceTests {}

/// A failed prerequisite or command, with what to do about it.
struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body` on a new thread inside a new, empty network namespace and returns its result.
/// Sockets made there stay in that namespace; the namespace goes away with the last of them.
/// Fails (never skips) when the process may not create namespaces.
func inNewNetworkNamespace<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            guard unshareNetworkNamespace() == 0 else {
                let reason = String(cString: strerror(errno))
                continuation.resume(
                    throwing: TestFailure(
                        "unshare(CLONE_NEWNET) failed (\(reason)): the Netlink namespace tests must run as root"))
                return
            }
            continuation.resume(with: Result { try body() })
        }
        thread.start()
    }
}

/// unshare(CLONE_NEWNET): glibc declares unshare() only under _GNU_SOURCE, which Swift's Glibc module
/// does not set, so it is looked up at run time.
private func unshareNetworkNamespace() -> Int32 {
    typealias Unshare = @convention(c) (Int32) -> Int32
    let cloneNewNet: Int32 = 0x4000_0000  // CLONE_NEWNET, linux/sched.h
    guard let libc = dlopen(nil, RTLD_NOW), let symbol = dlsym(libc, "unshare") else {
        errno = ENOSYS
        return -1
    }
    return unsafeBitCast(symbol, to: Unshare.self)(cloneNewNet)
}

/// Drops CAP_NET_ADMIN from the calling thread's effective capabilities (capabilities are per thread),
/// through glibc's capset(2) wrapper, which no Swift module declares.
func dropNetAdminCapability() throws {
    typealias CapGetSet = @convention(c) (UnsafeMutableRawPointer, UnsafeMutableRawPointer) -> Int32
    guard let libc = dlopen(nil, RTLD_NOW), let get = dlsym(libc, "capget"), let set = dlsym(libc, "capset") else {
        throw TestFailure("capget/capset not found in libc")
    }
    // struct __user_cap_header_struct { version = _LINUX_CAPABILITY_VERSION_3, pid = 0 (this thread) }
    var header: [UInt32] = [0x2008_0522, 0]
    // Two struct __user_cap_data_struct { effective, permitted, inheritable }.
    var data = [UInt32](repeating: 0, count: 6)
    let capNetAdmin: UInt32 = 12
    let status = header.withUnsafeMutableBytes { header in
        data.withUnsafeMutableBytes { data -> Int32 in
            guard unsafeBitCast(get, to: CapGetSet.self)(header.baseAddress!, data.baseAddress!) == 0 else { return -1 }
            data.storeBytes(
                of: data.load(as: UInt32.self) & ~(1 << capNetAdmin), toByteOffset: 0, as: UInt32.self)
            return unsafeBitCast(set, to: CapGetSet.self)(header.baseAddress!, data.baseAddress!)
        }
    }
    guard status == 0 else { throw TestFailure("capset failed: \(String(cString: strerror(errno)))") }
}

/// Runs a command from the calling thread (so in its network namespace) and returns stdout+stderr;
/// throws when it exits non-zero.
@discardableResult
func run(_ arguments: String...) throws -> String {
    var pipeEnds: [Int32] = [0, 0]
    guard pipe(&pipeEnds) == 0 else { throw TestFailure("pipe: \(String(cString: strerror(errno)))") }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
    posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 2)
    posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let status = posix_spawnp(&pid, arguments[0], &actions, nil, &argv, environ)
    close(pipeEnds[1])
    defer { close(pipeEnds[0]) }
    guard status == 0 else {
        throw TestFailure("cannot run \(arguments[0]): \(String(cString: strerror(status))) (is it installed?)")
    }
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(pipeEnds[0], $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { break }
        output += chunk[..<count]
    }
    var exitStatus: Int32 = 0
    while waitpid(pid, &exitStatus, 0) < 0 && errno == EINTR {}
    let text = String(decoding: output, as: UTF8.self)
    guard exitStatus == 0 else {
        throw TestFailure("\(arguments.joined(separator: " ")) failed (status \(exitStatus)): \(text)")
    }
    return text
}

/// The contents of a small file such as a sysctl, trimmed.
func readSysctl(_ path: String) throws -> String {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw TestFailure("cannot read \(path)")
    }
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
}
