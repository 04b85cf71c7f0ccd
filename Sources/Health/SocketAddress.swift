// Socket addresses for the DNS and TCP checks, built from NetAddress values, and the non-blocking socket
// they both open.
import NetAddress

#if canImport(Glibc)
    import Glibc
#endif

/// Calls `body` with a sockaddr_in/sockaddr_in6 for `address` and `port`.
func withSocketAddress<R>(
    _ address: IPAddress, port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R
) -> R {
    let portBE = UInt16(truncatingIfNeeded: port).bigEndian
    switch address {
    case .v4(let v4):
        var storage = sockaddr_in()
        storage.sin_family = sa_family_t(AF_INET)
        storage.sin_port = portBE
        storage.sin_addr.s_addr = v4.value.bigEndian
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    case .v6(let v6):
        var storage = sockaddr_in6()
        storage.sin6_family = sa_family_t(AF_INET6)
        storage.sin6_port = portBE
        withUnsafeMutableBytes(of: &storage.sin6_addr) { raw in
            for (index, byte) in v6.bytes.enumerated() { raw[index] = byte }
        }
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                body($0, socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }
    }
}

/// "192.0.2.1:53", "[2001:db8::1]:53".
func endpointText(_ address: IPAddress, port: Int) -> String {
    switch address {
    case .v4: "\(address):\(port)"
    case .v6: "[\(address)]:\(port)"
    }
}

/// A non-blocking, close-on-exec socket connected (or connecting) to `address`; returns the descriptor, or
/// the errno of the call that failed and its name.
func openConnectedSocket(
    _ address: IPAddress, port: Int, type: Int32
) -> Result<Int32, SystemCallFailure> {
    let family = address.family == .ipv4 ? AF_INET : AF_INET6
    let fd = socket(family, type | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return .failure(SystemCallFailure(call: "socket", code: errno)) }
    let result = withSocketAddress(address, port: port) { connect(fd, $0, $1) }
    if result != 0 && errno != EINPROGRESS {
        let code = errno
        close(fd)
        return .failure(SystemCallFailure(call: "connect", code: code))
    }
    return .success(fd)
}

/// A failed system call, for the check's result text.
struct SystemCallFailure: Error {
    var call: String
    var code: Int32

    var text: String { "\(call): \(errorText(code))" }
}
