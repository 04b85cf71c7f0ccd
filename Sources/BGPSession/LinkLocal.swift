// RFC 2545 §3: an IPv6 route whose next hop is this speaker also carries the link-local address of the
// interface the session runs over, when the peer shares that interface's subnet. Which interface, its
// prefixes and its fe80:: address come from getifaddrs; an interface without a link-local address (such
// as one with addrgenmode none) gets none, rather than an invented one.
import NetAddress

#if canImport(Glibc)
    import Glibc
#endif

enum LinkLocalNextHop {
    /// One IPv6 address of an interface, with its prefix length.
    struct InterfaceAddress: Equatable {
        var interface: String
        var address: IPv6Address
        var prefixLength: Int
    }

    /// The link-local address to send with `local` as next hop to `peer`, or nil when the peer is not
    /// on-link or the interface has no link-local address.
    static func lookup(local: IPv6Address, peer: IPv6Address) -> IPv6Address? {
        choose(local: local, peer: peer, from: interfaceAddresses())
    }

    /// The choice itself, on a list of addresses (tests pass their own).
    static func choose(local: IPv6Address, peer: IPv6Address, from addresses: [InterfaceAddress]) -> IPv6Address? {
        guard !local.isLinkLocal, !peer.isLinkLocal,
            let own = addresses.first(where: { $0.address == local }),
            own.prefixLength < 128, sameSubnet(local, peer, length: own.prefixLength)
        else { return nil }
        return addresses.first { $0.interface == own.interface && $0.address.isLinkLocal }?.address
    }

    static func sameSubnet(_ a: IPv6Address, _ b: IPv6Address, length: Int) -> Bool {
        let (x, y) = (a.bytes, b.bytes)
        for bit in 0..<length where (x[bit / 8] ^ y[bit / 8]) & (0x80 >> UInt8(bit % 8)) != 0 { return false }
        return true
    }

    /// Every IPv6 address of every interface in this network namespace.
    static func interfaceAddresses() -> [InterfaceAddress] {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return [] }
        defer { freeifaddrs(head) }
        var result: [InterfaceAddress] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET6),
                let name = entry.pointee.ifa_name
            else { continue }
            let bytes = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
            }
            var length = 128
            if let mask = entry.pointee.ifa_netmask {
                let maskBytes = mask.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
                }
                length = maskBytes.reduce(0) { $0 + $1.nonzeroBitCount }
            }
            result.append(
                InterfaceAddress(
                    interface: String(cString: name), address: IPv6Address(bytes: bytes), prefixLength: length))
        }
        return result
    }
}
