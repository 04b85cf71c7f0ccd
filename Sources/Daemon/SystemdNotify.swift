// sd_notify(3) without libsystemd: READY=1, STATUS=, STOPPING=1 and WATCHDOG=1 as datagrams to
// $NOTIFY_SOCKET. A no-op when not started by systemd.
#if canImport(Glibc)
    import Glibc
#endif

/// Tells systemd about the service's state when it runs under a `Type=notify` unit.
public enum SystemdNotify {
    /// Sends one notification; returns false when there is no socket or sending failed.
    @discardableResult
    public static func send(_ state: String) -> Bool {
        guard let pathPointer = getenv("NOTIFY_SOCKET") else { return false }
        var path = Array(String(cString: pathPointer).utf8)
        guard !path.isEmpty, path.count < 108 else { return false }
        if path[0] == UInt8(ascii: "@") { path[0] = 0 }  // abstract namespace
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.enumerated() { raw[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        let sent = state.withCString { text in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, text, strlen(text), 0, $0, length) }
            }
        }
        return sent >= 0
    }

    /// Half the watchdog interval systemd asked for, or nil when no watchdog is configured.
    public static var watchdogInterval: Duration? {
        guard let text = getenv("WATCHDOG_USEC"), let usec = UInt64(String(cString: text)), usec > 0 else { return nil }
        if let pidText = getenv("WATCHDOG_PID"), let pid = Int32(String(cString: pidText)), pid != getpid() {
            return nil
        }
        return .microseconds(Int64(usec / 2))
    }
}
