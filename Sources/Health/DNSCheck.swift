// The DNS check's I/O: one UDP datagram from a fresh connected socket, one poll(2) until the timeout.
// DNSProbe (DNSMessage.swift) builds the query and judges the answer; this file only moves bytes.
import NetAddress

#if canImport(Glibc)
    import Glibc
#endif

/// Asks `server` one question over UDP and waits at most the timeout for a good answer.
///
/// A fresh socket per query means a late answer to an earlier query can never be mistaken for this one
/// (it arrives at a closed port), and the kernel's ICMP port-unreachable report for a dead server ends the
/// wait at once instead of at the timeout.
struct DNSCheck: Sendable {
    let server: IPAddress?
    let port: Int
    let probe: Result<DNSProbe, DNSConfigError>
    /// "192.0.2.53:53", formatted once: the check runs up to ten times a second.
    let endpoint: String

    init(server: IPAddress?, port: Int, name: String, type: String, rcodes: [String]) {
        self.server = server
        self.port = port
        self.endpoint = server.map { $0.endpoint(port: port) } ?? "(no server)"
        self.probe = Result { () throws(DNSConfigError) in try DNSProbe(name: name, type: type, rcodes: rcodes) }
    }

    var description: String {
        switch probe {
        case .success(let probe): return "dns \(endpoint) \(probe.name) \(DNSType.name(probe.type))"
        case .failure: return "dns \(endpoint) (invalid)"
        }
    }

    func run(timeout: Int64, cancel: CancelSignal?) -> (success: Bool, detail: String) {
        let probe: DNSProbe
        switch self.probe {
        case .success(let value): probe = value
        case .failure(let error): return (false, "bad check: \(error)")
        }
        guard let server else {
            return (false, "bad check: no DNS server configured and the service has no prefix to ask")
        }
        let deadline = monotonicNanos() + timeout
        let fd: Int32
        switch openConnectedSocket(server, port: port, type: Int32(SOCK_DGRAM.rawValue)) {
        case .success(let value): fd = value
        case .failure(let failure): return (false, "\(endpoint): \(failure.text)")
        }
        defer { close(fd) }

        let id = UInt16.random(in: 0...UInt16.max)
        let query = probe.query(id: id)
        let sent = query.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == query.count else {
            return (false, "\(endpoint): send: \(sent < 0 ? errorText(errno) : "short write")")
        }

        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            switch wait(for: fd, events: Int16(POLLIN), until: deadline, cancel: cancel) {
            case .cancelled: return (false, "cancelled")
            case .timedOut: return (false, "\(endpoint): no answer within \(Duration.nanoseconds(timeout).humanText)")
            case .ready: break
            }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_TRUNC)) }
            if count < 0 {
                let code = errno
                if code == EAGAIN || code == EINTR { continue }
                if code == ECONNREFUSED { return (false, "\(endpoint): port unreachable (nothing listening)") }
                return (false, "\(endpoint): recv: \(errorText(code))")
            }
            guard count <= buffer.count else {
                return (false, "\(endpoint): answer of \(count) bytes is larger than a query without EDNS allows")
            }
            do {
                return (true, try probe.judge(answer: Array(buffer[0..<count]), id: id))
            } catch {
                return (false, "\(endpoint): \(error)")
            }
        }
    }
}
