// IPv4 and IPv6 addresses and prefixes: the one address model shared by Config, Netlink, BGP and the
// Reconciler. Pure value types; parsing and printing follow inet_pton(3) and RFC 5952.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 address, stored in host byte order.
public struct IPv4Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The address as a number, `192.0.2.1` is `0xC000_0201`.
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    /// Parses dotted-quad notation; returns nil for anything else (no shorthand forms).
    public init?(_ string: some StringProtocol) {
        let parts = string.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                let octet = UInt8(part), part.count == 1 || part.first != "0"
            else { return nil }
            value = value << 8 | UInt32(octet)
        }
        self.value = value
    }

    public init(bytes: some Collection<UInt8>) {
        precondition(bytes.count == 4, "IPv4 address needs 4 bytes")
        self.value = bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Network byte order.
    public var bytes: [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }

    public var isUnspecified: Bool { value == 0 }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }
}

/// An IPv6 address, stored as two 64-bit halves in host byte order.
public struct IPv6Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    public init(bytes: some Collection<UInt8>) {
        precondition(bytes.count == 16, "IPv6 address needs 16 bytes")
        let array = Array(bytes)
        self.high = array[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        self.low = array[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Parses any textual form inet_pton(3) accepts, including embedded IPv4 (`::ffff:192.0.2.1`).
    public init?(_ string: some StringProtocol) {
        var raw = in6_addr()
        let ok = String(string).withCString { inet_pton(AF_INET6, $0, &raw) }
        guard ok == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &raw) { Array($0) }
        self.init(bytes: bytes)
    }

    /// Network byte order.
    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64($0))) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64($0))) }
    }

    /// RFC 5952 text (lower case, longest zero run compressed).
    public var description: String {
        var raw = in6_addr()
        withUnsafeMutableBytes(of: &raw) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        _ = inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `fe80::/10`.
    public var isLinkLocal: Bool { high >> 54 == 0x3FA }
    public var isUnspecified: Bool { high == 0 && low == 0 }

    public static func < (lhs: IPv6Address, rhs: IPv6Address) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }
}

/// The address family of an address or prefix, in the operator's words.
public enum AddressFamily: String, Hashable, Sendable, CaseIterable, Comparable {
    case ipv4
    case ipv6

    public static func < (lhs: AddressFamily, rhs: AddressFamily) -> Bool { lhs == .ipv4 && rhs == .ipv6 }
}

/// An IPv4 or IPv6 address.
public enum IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// Parses an IPv4 dotted quad or any IPv6 text form.
    public init?(_ string: some StringProtocol) {
        if let v4 = IPv4Address(string) {
            self = .v4(v4)
        } else if string.contains(":"), let v6 = IPv6Address(string) {
            self = .v6(v6)
        } else {
            return nil
        }
    }

    /// 4 or 16 bytes in network order.
    public init?(bytes: some Collection<UInt8>) {
        switch bytes.count {
        case 4: self = .v4(IPv4Address(bytes: bytes))
        case 16: self = .v6(IPv6Address(bytes: bytes))
        default: return nil
        }
    }

    public var family: AddressFamily {
        switch self {
        case .v4: .ipv4
        case .v6: .ipv6
        }
    }

    /// Network byte order, 4 or 16 bytes.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let address): address.bytes
        case .v6(let address): address.bytes
        }
    }

    /// The length of a host prefix in this family: 32 or 128.
    public var maxPrefixLength: Int { family == .ipv4 ? 32 : 128 }

    public var isUnspecified: Bool {
        switch self {
        case .v4(let address): address.isUnspecified
        case .v6(let address): address.isUnspecified
        }
    }

    public var description: String {
        switch self {
        case .v4(let address): address.description
        case .v6(let address): address.description
        }
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): a < b
        case (.v6(let a), .v6(let b)): a < b
        case (.v4, .v6): true
        case (.v6, .v4): false
        }
    }
}

/// An address with a prefix length, such as `192.0.2.53/32`.
public struct IPPrefix: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var address: IPAddress
    public var length: Int

    /// Creates a prefix; the length must fit the family.
    public init?(address: IPAddress, length: Int) {
        guard length >= 0, length <= address.maxPrefixLength else { return nil }
        self.address = address
        self.length = length
    }

    /// A host prefix (/32 or /128) for one address.
    public init(host address: IPAddress) {
        self.address = address
        self.length = address.maxPrefixLength
    }

    /// Parses `ADDRESS/LENGTH`; a bare address means a host prefix.
    public init?(_ string: some StringProtocol) {
        let parts = string.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { return nil }
        if parts.count == 1 {
            self.init(host: address)
            return
        }
        guard !parts[1].isEmpty, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), parts[1].count <= 3,
            let length = Int(parts[1])
        else { return nil }
        self.init(address: address, length: length)
    }

    public var family: AddressFamily { address.family }

    /// True for /32 and /128.
    public var isHost: Bool { length == address.maxPrefixLength }

    /// True when no bits are set beyond the prefix length.
    public var isCanonical: Bool {
        let bytes = address.bytes
        for bit in length..<(bytes.count * 8) where bytes[bit / 8] & (0x80 >> UInt8(bit % 8)) != 0 {
            return false
        }
        return true
    }

    public var description: String { "\(address)/\(length)" }

    public static func < (lhs: IPPrefix, rhs: IPPrefix) -> Bool {
        (lhs.address, lhs.length) < (rhs.address, rhs.length)
    }
}

extension IPPrefix {
    /// True when anycastd may ever remove this prefix from an interface it does not own completely: a host
    /// prefix (/32, /128) outside the reserved ranges. A state file naming `127.0.0.1/8` or `::1/128` must
    /// never make the agent delete the host's loopback addresses.
    public var isRemovableHostPrefix: Bool { removalRefusal == nil }

    /// Why this prefix may never be removed ("not a host prefix", "loopback", ...), or nil when it may.
    public var removalRefusal: String? {
        guard isHost else { return "not a host prefix (/\(address.maxPrefixLength))" }
        switch address {
        case .v4(let v4):
            let first = v4.value >> 24
            if first == 0 { return "unspecified (0.0.0.0/8)" }
            if first == 127 { return "loopback (127.0.0.0/8)" }
            if v4.value >> 16 == 0xA9FE { return "link-local (169.254.0.0/16)" }
            if v4.value >> 28 == 0xE { return "multicast (224.0.0.0/4)" }
            if v4.value == 0xFFFF_FFFF { return "broadcast (255.255.255.255)" }
        case .v6(let v6):
            if v6.isUnspecified { return "unspecified (::)" }
            if v6.high == 0, v6.low == 1 { return "loopback (::1)" }
            if v6.isLinkLocal { return "link-local (fe80::/10)" }
            if v6.high >> 56 == 0xFF { return "multicast (ff00::/8)" }
            if v6.high == 0, v6.low >> 32 == 0xFFFF {
                // IPv4-mapped: judged as the IPv4 address it maps.
                let mapped = IPPrefix(host: .v4(IPv4Address(UInt32(truncatingIfNeeded: v6.low))))
                return mapped.removalRefusal.map { "IPv4-mapped \($0)" }
            }
        }
        return nil
    }
}
