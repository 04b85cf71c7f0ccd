// What a host keeps of the routes a peer sends it: a count per family (the set of prefixes, bounded by
// the peer's maxPrefixes), the routes for the host's own prefixes (the only ones a feature reads), and
// the RFC 7606 treat-as-withdraw count. Nothing else is stored, so a router that sends a full table costs
// at most maxPrefixes prefixes of memory and then gets Cease/1. Pure value type; PeerController feeds it.
// RFC 4271 §9 (implicit withdraw), RFC 4486 (maximum prefixes), RFC 7606 (treat-as-withdraw).
import NetAddress

/// The routes received from one peer on the current session, as far as the host needs them.
public struct ReceivedRoutes: Sendable {
    /// The outcome of one UPDATE.
    public enum Outcome: Hashable, Sendable {
        /// Counted.
        case accepted
        /// Counted; it was treated as withdraw (RFC 7606) for a reason of a kind not seen before on this
        /// peer: log it (later ones of the same kind are only counted).
        case firstTreatAsWithdraw(reason: String)
        /// The peer now announces more than `limit` prefixes of `family`: end the session with Cease/1.
        case limitExceeded(family: BGPFamily, limit: UInt32)
    }

    /// The most prefixes of one family the peer may announce.
    public var maxPrefixes: UInt32
    /// Prefixes the host announces or configures; routes the peer sends for them are kept.
    public var ownPrefixes: Set<IPPrefix> {
        didSet { ownRoutes = ownRoutes.filter { ownPrefixes.contains($0.key) } }
    }
    /// The peer's current routes for `ownPrefixes`: the attributes of the last UPDATE announcing each.
    public private(set) var ownRoutes: [IPPrefix: [PathAttribute]] = [:]
    /// UPDATEs treated as withdraw (RFC 7606) since the peer was configured; kept across sessions.
    public private(set) var treatAsWithdrawCount = 0
    private var prefixes: [AddressFamily: Set<IPPrefix>] = [:]
    /// Kinds of treat-as-withdraw reasons already reported, at most `maxKinds`.
    private var reportedKinds: Set<String> = []
    private static let maxKinds = 64

    public init(maxPrefixes: UInt32, ownPrefixes: Set<IPPrefix> = []) {
        self.maxPrefixes = maxPrefixes
        self.ownPrefixes = ownPrefixes
    }

    /// How many prefixes of `family` the peer announces now.
    public func count(_ family: AddressFamily) -> Int { prefixes[family]?.count ?? 0 }

    /// Applies one UPDATE: withdrawals first, then announcements (or, for a treat-as-withdraw UPDATE,
    /// its announcements as withdrawals).
    public mutating func apply(_ update: UpdateMessage, disposition: UpdateDisposition) -> Outcome {
        for prefix in update.withdrawnPrefixes { remove(prefix) }
        if case .treatAsWithdraw(let reason) = disposition {
            treatAsWithdrawCount += 1
            for prefix in update.announcedPrefixes { remove(prefix) }
            let kind = Self.kind(of: reason)
            guard !reportedKinds.contains(kind), reportedKinds.count < Self.maxKinds else { return .accepted }
            reportedKinds.insert(kind)
            return .firstTreatAsWithdraw(reason: reason)
        }
        for prefix in update.announcedPrefixes {
            prefixes[prefix.family, default: []].insert(prefix)
            if ownPrefixes.contains(prefix) { ownRoutes[prefix] = update.attributes.filter(\.isKeptForOwnRoute) }
            if prefixes[prefix.family, default: []].count > Int(maxPrefixes) {
                return .limitExceeded(family: BGPFamily(unicast: prefix.family), limit: maxPrefixes)
            }
        }
        return .accepted
    }

    /// Forgets the session's routes (it ended); the treat-as-withdraw count stays.
    public mutating func sessionEnded() {
        prefixes = [:]
        ownRoutes = [:]
    }

    private mutating func remove(_ prefix: IPPrefix) {
        prefixes[prefix.family]?.remove(prefix)
        ownRoutes[prefix] = nil
    }

    /// The reason with its numbers taken out: "ORIGIN value 7" and "ORIGIN value 9" are one kind.
    static func kind(of reason: String) -> String {
        var kind = ""
        var inNumber = false
        for character in reason.prefix(200) {
            if character.isNumber {
                if !inNumber { kind.append("N") }
                inNumber = true
            } else {
                kind.append(character)
                inNumber = false
            }
        }
        return kind
    }
}

extension PathAttribute {
    /// The NLRI-carrying attributes are not part of a route's description.
    fileprivate var isKeptForOwnRoute: Bool {
        switch self {
        case .mpReach, .mpUnreach: false
        default: true
        }
    }
}
