// Damping of BFD-driven BGP resets (RFC 5882 §3.2): a BFD session that keeps failing would otherwise end
// and restart the BGP session again and again, and a neighbour (or a spoofer, without authentication) that
// can make BFD fail at will could keep BGP down. After more than `threshold` BFD Downs in `window`, further
// Downs do not reset BGP for a hold time that doubles each time damping starts again (up to `maxHold`);
// meanwhile the BGP hold timer still ends a session whose peer is really gone. A quiet `maxHold` after the
// last Down and the last hold forgets the history. A value type on a caller-supplied clock; the daemon logs and shows it.
// RFC 5882 §3.2.

/// Whether a BFD Down may reset the BGP session, for one peer.
public struct BFDResetDamping: Sendable, Equatable {
    /// The limits; the defaults: more than 3 Downs in 60 s hold resets off for 30 s, then 60 s, 120 s, ...
    /// up to 10 minutes.
    public struct Settings: Sendable, Equatable {
        public var threshold: Int
        public var window: Duration
        public var initialHold: Duration
        public var maxHold: Duration

        public init(
            threshold: Int = 3, window: Duration = .seconds(60), initialHold: Duration = .seconds(30),
            maxHold: Duration = .seconds(600)
        ) {
            self.threshold = max(threshold, 1)
            self.window = window
            self.initialHold = initialHold
            self.maxHold = max(maxHold, initialHold)
        }
    }

    /// What to do with one BFD Down.
    public enum Decision: Sendable, Equatable {
        /// End the BGP session now.
        case reset
        /// Leave BGP to its hold timer; resets are held off until `until`. `started` is true for the Down
        /// that began this hold period (log it once).
        case held(until: Duration, started: Bool)
    }

    public let settings: Settings
    /// Resets are held off until then (nil: not damped).
    public private(set) var heldUntil: Duration?
    /// How many hold periods have started since the history was last forgotten.
    public private(set) var level = 0
    private var recentDowns: [Duration] = []
    private var lastDown: Duration?

    public init(settings: Settings = Settings()) { self.settings = settings }

    /// Resets are held off at `now`.
    public func isHeld(at now: Duration) -> Bool { heldUntil.map { now < $0 } ?? false }

    /// A BFD session that was Up went Down at `now`: may it reset BGP?
    public mutating func bfdDown(at now: Duration) -> Decision {
        // Quiet since the last Down or the end of the last hold, whichever is later.
        if let lastDown, now - max(lastDown, heldUntil ?? lastDown) >= settings.maxHold {
            level = 0
            recentDowns = []
        }
        lastDown = now
        if let heldUntil, now < heldUntil { return .held(until: heldUntil, started: false) }
        heldUntil = nil
        recentDowns.removeAll { now - $0 >= settings.window }
        recentDowns.append(now)
        guard recentDowns.count > settings.threshold else { return .reset }
        let hold = min(settings.initialHold * (1 << min(level, 20)), settings.maxHold)
        level += 1
        recentDowns = []
        heldUntil = now + hold
        return .held(until: now + hold, started: true)
    }
}
