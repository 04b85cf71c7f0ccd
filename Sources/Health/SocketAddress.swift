// The non-blocking socket the DNS and TCP checks open (socket addresses come from NetAddress).
import NetAddress

#if canImport(Glibc)
    import Glibc
#endif

/// A non-blocking, close-on-exec socket connected (or connecting) to `address`; returns the descriptor, or
/// the errno of the call that failed and its name.
func openConnectedSocket(
    _ address: IPAddress, port: Int, type: Int32
) -> Result<Int32, SystemCallFailure> {
    let family = address.family == .ipv4 ? AF_INET : AF_INET6
    let fd = socket(family, type | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return .failure(SystemCallFailure(call: "socket", code: errno)) }
    let result = address.withSocketAddress(port: port) { connect(fd, $0, $1) }
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
