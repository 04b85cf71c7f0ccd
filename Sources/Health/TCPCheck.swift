// The TCP check: a non-blocking connect(2) that must complete within the timeout; then the socket is
// closed at once. Nothing is sent, so any TCP service can be checked.
import NetAddress

#if canImport(Glibc)
    import Glibc
#endif

struct TCPCheck: Sendable {
    let address: IPAddress
    let port: Int
    let endpoint: String

    init(address: IPAddress, port: Int) {
        self.address = address
        self.port = port
        self.endpoint = address.endpoint(port: port)
    }

    var description: String { "tcp \(endpoint)" }

    func run(timeout: Int64, cancel: CancelSignal?) -> (success: Bool, detail: String) {
        let deadline = monotonicNanos() + timeout
        let fd: Int32
        switch openConnectedSocket(address, port: port, type: Int32(SOCK_STREAM.rawValue)) {
        case .success(let value): fd = value
        case .failure(let failure): return (false, "\(endpoint): \(failure.text)")
        }
        defer { close(fd) }
        switch wait(for: fd, events: Int16(POLLOUT), until: deadline, cancel: cancel) {
        case .cancelled: return (false, "cancelled")
        case .timedOut: return (false, "\(endpoint): not connected within \(Duration.nanoseconds(timeout).humanText)")
        case .ready: break
        }
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length) != 0 { code = errno }
        if code == 0 { return (true, "connected") }
        if code == ECONNREFUSED { return (false, "\(endpoint): connection refused") }
        return (false, "\(endpoint): connect: \(errorText(code))")
    }
}
