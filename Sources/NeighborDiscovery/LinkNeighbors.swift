// The decisions of BGP unnumbered's neighbor discovery, as a value type on a caller's clock: when to send
// a Router Advertisement on each peer link (periodically, and soon after a Router Solicitation, never two
// within RFC 4861's MIN_DELAY_BETWEEN_RAS), and which link-local address is the switch on each link (the
// source of its Router Advertisements; the first one heard stays until it falls silent). The shell
// (NeighborDiscoverySession) feeds it packets and the time and carries out the actions.
// RFC 4861 §6.2.4 (advertisement timing), §6.2.6 (answering solicitations), RFC 8950 / RFC 5549 practice.
import NetAddress

/// Neighbor discovery on the links of unnumbered peers: events and `now` in, actions out.
public struct LinkNeighbors: Sendable {
    /// What the shell must do.
    public enum Action: Hashable, Sendable {
        /// Send our Router Advertisement to ff02::1 on this interface.
        case advertise(interface: String)
        /// The neighbor on this interface is now this address (nil: none heard recently).
        case neighborChanged(interface: String, neighbor: IPv6Address?)
    }

    /// Timing, with RFC 4861's names where it has them.
    public struct Timing: Hashable, Sendable {
        /// Time between unsolicited advertisements. The default is 3 seconds, so a switch learns the
        /// host's address within seconds of either side starting.
        public var interval: Duration
        /// MIN_DELAY_BETWEEN_RAS: no two advertisements on one link closer than this (3 s in RFC 4861);
        /// solicitations within it are answered at its end.
        public var minimumDelay: Duration
        /// A neighbor silent this long is forgotten; another one heard meanwhile replaces it. The default
        /// is 60 seconds (FRR advertises every 10 s for unnumbered peers).
        public var neighborTimeout: Duration

        public init(
            interval: Duration = .seconds(3), minimumDelay: Duration = .seconds(3),
            neighborTimeout: Duration = .seconds(60)
        ) {
            self.interval = interval
            self.minimumDelay = minimumDelay
            self.neighborTimeout = neighborTimeout
        }
    }

    private struct Link: Sendable {
        var nextAdvertisement: Duration
        var lastAdvertisement: Duration?
        var neighbor: IPv6Address?
        /// When each router was last heard, for choosing a replacement.
        var heard: [IPv6Address: Duration] = [:]
    }

    public let timing: Timing
    private var links: [String: Link] = [:]

    public init(timing: Timing = Timing()) { self.timing = timing }

    /// The interfaces with unnumbered peers now; new ones advertise at once, gone ones are forgotten.
    public mutating func setInterfaces(_ interfaces: Set<String>, now: Duration) -> [Action] {
        var actions: [Action] = []
        for name in links.keys.sorted() where !interfaces.contains(name) {
            if links[name]?.neighbor != nil { actions.append(.neighborChanged(interface: name, neighbor: nil)) }
            links[name] = nil
        }
        for name in interfaces.sorted() where links[name] == nil {
            links[name] = Link(nextAdvertisement: now)
        }
        return actions + timerFired(now: now)
    }

    /// The neighbor learnt on an interface, if any.
    public func neighbor(on interface: String) -> IPv6Address? { links[interface]?.neighbor }

    /// The interfaces being served, sorted.
    public var interfaces: [String] { links.keys.sorted() }

    /// When `timerFired` must next run; nil when no link is served.
    public var nextDeadline: Duration? {
        links.values.map { link in
            let expiries = link.heard.values.map { $0 + timing.neighborTimeout }
            return ([link.nextAdvertisement] + expiries).min()!
        }.min()
    }

    /// A valid message (see `NeighborDiscoveryMessage.decode`) from `source` on `interface`.
    public mutating func received(
        _ message: NeighborDiscoveryMessage, from source: IPv6Address, on interface: String, now: Duration
    ) -> [Action] {
        guard var link = links[interface] else { return [] }
        var actions: [Action] = []
        switch message {
        case .routerAdvertisement:
            link.heard[source] = now
            if link.neighbor == nil {
                link.neighbor = source
                actions.append(.neighborChanged(interface: interface, neighbor: source))
            }
        case .routerSolicitation:
            // RFC 4861 §6.2.6: answer soon, but not sooner than MIN_DELAY_BETWEEN_RAS after the last one.
            let earliest = link.lastAdvertisement.map { $0 + timing.minimumDelay } ?? now
            link.nextAdvertisement = min(link.nextAdvertisement, max(now, earliest))
        }
        links[interface] = link
        return actions + timerFired(now: now)
    }

    /// Runs what is due at `now`: advertisements and forgetting silent neighbors.
    public mutating func timerFired(now: Duration) -> [Action] {
        var actions: [Action] = []
        for name in links.keys.sorted() {
            guard var link = links[name] else { continue }
            link.heard = link.heard.filter { now < $0.value + timing.neighborTimeout }
            if let current = link.neighbor, link.heard[current] == nil {
                // Silent: the most recently heard other router, if any, takes over.
                link.neighbor = link.heard.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key
                actions.append(.neighborChanged(interface: name, neighbor: link.neighbor))
            }
            if link.nextAdvertisement <= now {
                actions.append(.advertise(interface: name))
                link.lastAdvertisement = now
                link.nextAdvertisement = now + timing.interval
            }
            links[name] = link
        }
        return actions
    }
}
