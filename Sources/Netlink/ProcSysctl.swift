// net.ipv4.conf.all.* through /proc/sys: rtnetlink has no link for "all" (RTM_SETLINK needs a real
// device, and RTM_GETNETCONF/RTM_SETNETCONF cover rp_filter but not arp_ignore/arp_announce), so the
// sysctl files are the only interface. They belong to the network namespace of the calling thread.
import Glibc

enum ProcSysctl {
    /// The file for net.ipv4.conf.all.KEY.
    static func allPath(_ key: IPv4DevConf) -> String { "/proc/sys/net/ipv4/conf/all/\(key)" }

    /// Reads an unsigned integer sysctl; throws the errno on failure.
    static func read(_ path: String) throws(NetlinkError) -> UInt32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw error(reading: path) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard count >= 0 else { throw error(reading: path) }
        let text = String(decoding: buffer[..<count], as: UTF8.self).trimmingWhitespace
        guard let value = UInt32(text) else {
            throw NetlinkError(operation: "read \(path)", errno: EINVAL, message: "not a number: \"\(text)\"")
        }
        return value
    }

    /// Writes an unsigned integer sysctl for `operation`.
    static func write(_ value: UInt32, to path: String, for operation: NetlinkOperation) throws(NetlinkError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw NetlinkError(operation, errno: errno) }
        defer { close(fd) }
        let text = Array("\(value)\n".utf8)
        let written = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == text.count else { throw NetlinkError(operation, errno: written < 0 ? errno : EIO) }
    }

    private static func error(reading path: String) -> NetlinkError {
        NetlinkError(context: "read \(path)", errno: errno)
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        String(self.drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed())
    }
}
