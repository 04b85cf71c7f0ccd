// The C socket address forms of IPAddress, for the modules that use plain sockets (Health's checks, the
// BFD shell): building a sockaddr_in/sockaddr_in6, reading one the kernel filled, and "ip:port" text.
#if canImport(Glibc)
    import Glibc
#endif

extension IPAddress {
    /// Calls `body` with a sockaddr_in or sockaddr_in6 for this address and `port`.
    public func withSocketAddress<R>(port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        let portBE = UInt16(truncatingIfNeeded: port).bigEndian
        switch self {
        case .v4(let v4):
            var storage = sockaddr_in()
            storage.sin_family = sa_family_t(AF_INET)
            storage.sin_port = portBE
            storage.sin_addr.s_addr = v4.value.bigEndian
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
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

    /// The address in a sockaddr_storage the kernel filled (IPv4-mapped IPv6 addresses stay IPv6); nil for
    /// other families.
    public init?(socketAddress storage: sockaddr_storage) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let value = withUnsafeBytes(of: &storage) { raw in
                raw.load(fromByteOffset: MemoryLayout<sockaddr_in>.offset(of: \.sin_addr)!, as: UInt32.self)
            }
            self = .v4(IPv4Address(UInt32(bigEndian: value)))
        case AF_INET6:
            let bytes = withUnsafeBytes(of: &storage) { raw in
                let offset = MemoryLayout<sockaddr_in6>.offset(of: \.sin6_addr)!
                return Array(raw[offset..<offset + 16])
            }
            self = .v6(IPv6Address(bytes: bytes))
        default:
            return nil
        }
    }

    /// "192.0.2.1:53", "[2001:db8::1]:53".
    public func endpoint(port: Int) -> String {
        family == .ipv4 ? "\(self):\(port)" : "[\(self)]:\(port)"
    }
}
