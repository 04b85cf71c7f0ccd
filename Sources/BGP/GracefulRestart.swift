// The Graceful Restart capability (RFC 4724 §3, code 64) as anycastd sends and reads it. anycastd is only
// ever the restarting speaker that matters: it keeps no routes of the router worth preserving, so as a
// receiving speaker it has nothing to retain, and its own capability says that the anycast addresses (its
// forwarding state) survive a restart of the agent. RFC 8538's N bit is neither sent nor acted on.
// RFC 4724 §3, §4.1.

/// The value of capability 64: restart flags, a 12-bit restart time and, per family, whether the
/// sender's forwarding state survived its restart.
public struct GracefulRestartCapability: Hashable, Sendable {
    /// One family the sender keeps routes for across a restart.
    public struct Family: Hashable, Sendable {
        public var family: BGPFamily
        /// F bit: forwarding for this family was preserved during the previous restart.
        public var forwardingPreserved: Bool

        public init(_ family: BGPFamily, forwardingPreserved: Bool) {
            self.family = family
            self.forwardingPreserved = forwardingPreserved
        }
    }

    /// R bit: the sender has restarted; its peer must not wait for its End-of-RIB before sending routes.
    public var restarted: Bool
    /// N bit (RFC 8538), kept as read; anycastd sends it clear.
    public var notification: Bool
    /// Seconds the peer should keep the sender's routes after the session ends: 0 to 4095.
    public var restartTime: UInt16
    public var families: [Family]

    public init(restarted: Bool, notification: Bool = false, restartTime: UInt16, families: [Family]) {
        self.restarted = restarted
        self.notification = notification
        self.restartTime = min(restartTime, 0xFFF)
        self.families = families
    }

    /// The bytes of the capability value (without code and length).
    public var encodedValue: [UInt8] {
        let flags: UInt16 = (restarted ? 0x8000 : 0) | (notification ? 0x4000 : 0)
        let word = flags | (restartTime & 0x0FFF)
        var bytes: [UInt8] = [UInt8(word >> 8), UInt8(word & 0xFF)]
        for entry in families {
            let flags: UInt8 = entry.forwardingPreserved ? 0x80 : 0
            bytes.append(UInt8(entry.family.afi >> 8))
            bytes.append(UInt8(entry.family.afi & 0xFF))
            bytes.append(entry.family.safi)
            bytes.append(flags)
        }
        return bytes
    }

    /// Reads a capability value; nil when its length is not 2 plus a multiple of 4 (kept as unknown then).
    public init?(value: [UInt8]) {
        guard value.count >= 2, (value.count - 2) % 4 == 0 else { return nil }
        let word = UInt16(value[0]) << 8 | UInt16(value[1])
        restarted = word & 0x8000 != 0
        notification = word & 0x4000 != 0
        restartTime = word & 0x0FFF
        var families: [Family] = []
        var index = 2
        while index < value.count {
            let afi = UInt16(value[index]) << 8 | UInt16(value[index + 1])
            let preserved = value[index + 3] & 0x80 != 0
            families.append(Family(BGPFamily(afi: afi, safi: value[index + 2]), forwardingPreserved: preserved))
            index += 4
        }
        self.families = families
    }
}

extension OpenMessage {
    /// The Graceful Restart capability, when the OPEN carries a well-formed one.
    public var gracefulRestart: GracefulRestartCapability? {
        for case .gracefulRestart(let capability) in capabilities { return capability }
        return nil
    }
}
