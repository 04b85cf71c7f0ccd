import Foundation

@testable import Daemon

/// A blocking test client on a raw socket (TCP to 127.0.0.1 or Unix), for what a well-behaved client
/// cannot do: never reading, pipelining thousands of requests, sitting idle.
final class RawClient: Sendable {
    let fd: Int32
    /// POLLRDHUP (the peer closed its side), which Glibc's overlay does not export.
    static let rdhup: Int16 = 0x2000

    init(tcpPort port: Int, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw DaemonError("socket: \(errno)") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw DaemonError("connect: \(errno)")
        }
    }

    init(unixPath path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw DaemonError("socket: \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw DaemonError("connect: \(errno)")
        }
    }

    deinit { close(fd) }

    /// Sends all of `text` (blocking).
    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw DaemonError("send: \(errno)") }
            offset += sent
        }
    }

    /// Sends `text` `count` times without blocking, until all is sent or the peer has taken nothing for
    /// half a second; returns how many whole copies were sent.
    func sendRepeatedly(_ text: String, count: Int) -> Int {
        let unit = Array(text.utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(unit.count * count)
        for _ in 0..<count { bytes += unit }
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL))
            }
            if sent > 0 {
                offset += sent
                continue
            }
            guard sent < 0, errno == EAGAIN || errno == EWOULDBLOCK else { break }
            var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&entry, 1, 500) == 1 else { break }
        }
        return offset / unit.count
    }

    /// Waits until the peer closed the connection (FIN or RST), without reading; false on timeout.
    func waitForClose(timeoutMilliseconds: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Self.rdhup, revents: 0)
        let ready = poll(&entry, 1, timeoutMilliseconds)
        return ready == 1 && entry.revents & (Self.rdhup | Int16(POLLHUP) | Int16(POLLERR)) != 0
    }

    /// Reads until the peer closes; `closed` is false when the timeout passed first.
    func readToEnd(timeoutMilliseconds: Int32) -> (text: String, closed: Bool) {
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, timeoutMilliseconds) == 1 else {
                return (String(decoding: answer, as: UTF8.self), false)
            }
            let count = recv(fd, &chunk, chunk.count, 0)
            if count <= 0 { return (String(decoding: answer, as: UTF8.self), true) }
            answer += chunk[0..<count]
        }
    }
}
