// BGP communities as the operator writes them: one type shared by the configuration (which parses
// them) and the BGP codec (which puts them on the wire). RFC 1997, RFC 8092, RFC 8326.

/// A standard community (RFC 1997): ASN:value in 32 bits.
public struct Community: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }
    public init(asn: UInt16, value: UInt16) { self.value = UInt32(asn) << 16 | UInt32(value) }

    /// GRACEFUL_SHUTDOWN 65535:0 (RFC 8326).
    public static let gracefulShutdown = Community(0xFFFF_0000)
    /// NO_EXPORT (RFC 1997).
    public static let noExport = Community(0xFFFF_FF01)

    public var description: String { "\(value >> 16):\(value & 0xFFFF)" }
    public static func < (lhs: Community, rhs: Community) -> Bool { lhs.value < rhs.value }
}

/// A large community (RFC 8092): global administrator ASN, then two 32-bit local values.
public struct LargeCommunity: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var global: UInt32
    public var local1: UInt32
    public var local2: UInt32

    public init(global: UInt32, local1: UInt32, local2: UInt32) {
        self.global = global
        self.local1 = local1
        self.local2 = local2
    }

    public var description: String { "\(global):\(local1):\(local2)" }
    public static func < (lhs: LargeCommunity, rhs: LargeCommunity) -> Bool {
        (lhs.global, lhs.local1, lhs.local2) < (rhs.global, rhs.local1, rhs.local2)
    }
}
