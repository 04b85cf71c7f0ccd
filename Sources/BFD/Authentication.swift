// BFD authentication (RFC 5880 §4.4, §6.7.4): Keyed SHA1 and Meticulous Keyed SHA1. The section follows
// the 24-byte packet; its 20-byte hash is SHA1 over the whole packet with the shared key (zero-padded to
// 20 bytes) in the hash's place. Signing and checking the hash are pure functions of the packet and the
// key; the sequence-number rules, which need the session, are BFDStateMachine's. Simple Password and the
// MD5 types are not offered (RFC 5880 calls MD5 and passwords weak; SHA1 is what BIRD and FRR share).
// RFC 5880 §4.4, §6.7.1, §6.7.4; FIPS 180-4 (SHA-1).

/// The Auth Type values this implementation speaks (RFC 5880 §4.1).
public enum BFDAuthenticationType: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// The sequence number may stay the same from packet to packet (replay within the window is possible).
    case keyedSHA1 = 4
    /// The sequence number increases with every packet, so no packet can be replayed.
    case meticulousKeyedSHA1 = 5

    public var description: String {
        switch self {
        case .keyedSHA1: "keyed-sha1"
        case .meticulousKeyedSHA1: "meticulous-keyed-sha1"
        }
    }
}

/// The authentication section of a received or signed packet, kept byte for byte so the hash can be checked.
public struct BFDAuthenticationSection: Hashable, Sendable {
    /// The section's length for both SHA1 types: type, length, key ID, reserved, sequence, 20-byte hash.
    public static let sha1Length = 28

    public var type: BFDAuthenticationType
    public var keyID: UInt8
    /// Sent as 0, kept as received (it is covered by the hash).
    public var reserved: UInt8
    public var sequence: UInt32
    /// The SHA1 hash (20 bytes).
    public var digest: [UInt8]

    public init(
        type: BFDAuthenticationType, keyID: UInt8, reserved: UInt8 = 0, sequence: UInt32,
        digest: [UInt8] = [UInt8](repeating: 0, count: 20)
    ) {
        self.type = type
        self.keyID = keyID
        self.reserved = reserved
        self.sequence = sequence
        self.digest = digest
    }

    var encoded: [UInt8] {
        [
            type.rawValue, UInt8(Self.sha1Length), keyID, reserved, UInt8(sequence >> 24),
            UInt8(truncatingIfNeeded: sequence >> 16), UInt8(truncatingIfNeeded: sequence >> 8),
            UInt8(truncatingIfNeeded: sequence),
        ] + digest
    }
}

/// A session's authentication setting: the type, the key's ID and the key (1–20 bytes).
public struct BFDAuthentication: Hashable, Sendable, CustomStringConvertible {
    public static let maxKeyLength = 20

    public var type: BFDAuthenticationType
    public var keyID: UInt8
    public var key: [UInt8]

    /// Nil when the key is empty or longer than 20 bytes (a SHA1 key fills at most the hash's 20 bytes).
    public init?(type: BFDAuthenticationType, keyID: UInt8, key: [UInt8]) {
        guard !key.isEmpty, key.count <= Self.maxKeyLength else { return nil }
        self.type = type
        self.keyID = keyID
        self.key = key
    }

    /// Never shows the key.
    public var description: String { "\(type) key \(keyID)" }

    /// `packet` with an authentication section carrying `sequence` and the hash over it.
    public func sign(_ packet: BFDControlPacket, sequence: UInt32) -> BFDControlPacket {
        var packet = packet
        packet.authentication = BFDAuthenticationSection(
            type: type, keyID: keyID, sequence: sequence, digest: paddedKey)
        packet.authentication!.digest = sha1(packet.encoded)
        return packet
    }

    /// The packet's hash is the one our key gives (type and key ID are the caller's to compare first).
    public func verifies(_ packet: BFDControlPacket) -> Bool {
        guard var section = packet.authentication else { return false }
        let received = section.digest
        section.digest = paddedKey
        var copy = packet
        copy.authentication = section
        let expected = sha1(copy.encoded)
        // Compare every byte, so the time taken says nothing about where the first difference is.
        return received.count == expected.count && zip(received, expected).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    private var paddedKey: [UInt8] { key + [UInt8](repeating: 0, count: Self.maxKeyLength - key.count) }
}

/// SHA-1 (FIPS 180-4) of `message`. SHA-1 is what RFC 5880 specifies here; it is not used for anything else.
public func sha1(_ message: [UInt8]) -> [UInt8] {
    var state: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
    var padded = message
    padded.append(0x80)
    while padded.count % 64 != 56 { padded.append(0) }
    let bits = UInt64(message.count) &* 8
    for shift in stride(from: 56, through: 0, by: -8) {
        padded.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift)))
    }
    var words = [UInt32](repeating: 0, count: 80)
    for block in stride(from: 0, to: padded.count, by: 64) {
        for index in 0..<16 {
            let offset = block + index * 4
            words[index] =
                UInt32(padded[offset]) << 24 | UInt32(padded[offset + 1]) << 16 | UInt32(padded[offset + 2]) << 8
                | UInt32(padded[offset + 3])
        }
        for index in 16..<80 {
            let mixed = words[index - 3] ^ words[index - 8] ^ words[index - 14] ^ words[index - 16]
            words[index] = mixed << 1 | mixed >> 31
        }
        var (a, b, c, d, e) = (state[0], state[1], state[2], state[3], state[4])
        for index in 0..<80 {
            let (f, k): (UInt32, UInt32) =
                switch index {
                case 0..<20: ((b & c) | (~b & d), 0x5A82_7999)
                case 20..<40: (b ^ c ^ d, 0x6ED9_EBA1)
                case 40..<60: ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
                default: (b ^ c ^ d, 0xCA62_C1D6)
                }
            let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ words[index]
            (e, d, c, b, a) = (d, c, b << 30 | b >> 2, a, temp)
        }
        state[0] &+= a
        state[1] &+= b
        state[2] &+= c
        state[3] &+= d
        state[4] &+= e
    }
    return state.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> UInt32(24 - 8 * $0)) } }
}
