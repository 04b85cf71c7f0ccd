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
        self.endpoint = endpointText(address, port: port)
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
        while true {
            var entries = [pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)]
            if let cancel { entries.append(cancel.pollEntry) }
            let timeoutMs = pollTimeout(until: deadline)
            let ready = timeoutMs == 0 ? 0 : poll(&entries, nfds_t(entries.count), timeoutMs)
            if cancel?.isFired == true { return (false, "cancelled") }
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 || entries[0].revents == 0 {
                if monotonicNanos() < deadline && ready >= 0 { continue }
                return (false, "\(endpoint): not connected within \(Duration.nanoseconds(timeout).humanText)")
            }
            var code: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            if getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length) != 0 { code = errno }
            if code == 0 { return (true, "connected") }
            if code == ECONNREFUSED { return (false, "\(endpoint): connection refused") }
            return (false, "\(endpoint): connect: \(errorText(code))")
        }
    }
}
