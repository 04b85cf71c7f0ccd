// What a host keeps of the routes a peer sends it: a count per family (the set of paths, bounded by
// the peer's maxPrefixes), the paths for the host's own prefixes (the only ones a feature reads: the
// last-resort rule asks whether another host offers a healthy path), and the RFC 7606 treat-as-withdraw
// count. Nothing else is stored, so a router that sends a full table costs at most maxPrefixes paths of
// memory and then gets Cease/1. With ADD-PATH (RFC 7911) a prefix has one path per path identifier and
// maxPrefixes counts paths, not prefixes (without it, every path identifier is 0 and the two are the same).
// Changes to the own prefixes' paths are collected until `takeOwnChanges()`. Pure value type;
// PeerController feeds it.
// RFC 4271 §9 (implicit withdraw), RFC 4486 (maximum prefixes), RFC 7606 (treat-as-withdraw), RFC 7911.
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
        /// The peer now announces more than `limit` paths of `family`: end the session with Cease/1.
        case limitExceeded(family: BGPFamily, limit: UInt32)
    }

    /// The most paths of one family the peer may announce (prefixes, without ADD-PATH).
    public var maxPrefixes: UInt32
    /// The host's own prefixes whose paths are kept and reported. Dropping one forgets its paths (and
    /// reports nothing); paths for an added one are those announced from then on.
    public var ownPrefixes: Set<IPPrefix> {
        didSet {
            ownRoutes = ownRoutes.filter { ownPrefixes.contains($0.key) }
            changedOwnPrefixes.formIntersection(ownPrefixes)
        }
    }
    /// The peer's current paths for `ownPrefixes`, per path identifier: from the last UPDATE announcing each.
    public private(set) var ownRoutes: [IPPrefix: [UInt32: ReceivedRoute]] = [:]
    /// UPDATEs treated as withdraw (RFC 7606) since the peer was configured; kept across sessions.
    public private(set) var treatAsWithdrawCount = 0
    private var prefixes: [AddressFamily: Set<PrefixPath>] = [:]
    /// Own prefixes whose set of paths changed since the last `takeOwnChanges()`.
    private var changedOwnPrefixes: Set<IPPrefix> = []
    /// Kinds of treat-as-withdraw reasons already reported, at most `maxKinds`.
    private var reportedKinds: Set<String> = []
    private static let maxKinds = 64

    public init(maxPrefixes: UInt32, ownPrefixes: Set<IPPrefix> = []) {
        self.maxPrefixes = maxPrefixes
        self.ownPrefixes = ownPrefixes
    }

    /// How many paths of `family` the peer announces now (prefixes, without ADD-PATH).
    public func count(_ family: AddressFamily) -> Int { prefixes[family]?.count ?? 0 }

    /// The own prefixes whose paths changed since the last call, each with all its current paths (ordered
    /// by path identifier; empty when the peer offers none any more). Unchanged re-announcements are not
    /// changes.
    public mutating func takeOwnChanges() -> [IPPrefix: [ReceivedRoute]] {
        defer { changedOwnPrefixes = [] }
        var result: [IPPrefix: [ReceivedRoute]] = [:]
        for prefix in changedOwnPrefixes {
            result[prefix] = (ownRoutes[prefix] ?? [:]).sorted { $0.key < $1.key }.map(\.value)
        }
        return result
    }

    /// Applies one UPDATE: withdrawals first, then announcements (or, for a treat-as-withdraw UPDATE,
    /// its announcements as withdrawals).
    public mutating func apply(_ update: UpdateMessage, disposition: UpdateDisposition) -> Outcome {
        for path in update.withdrawnPaths { remove(path) }
        if case .treatAsWithdraw(let reason) = disposition {
            treatAsWithdrawCount += 1
            for path in update.announcedPaths { remove(path) }
            let kind = Self.kind(of: reason)
            guard !reportedKinds.contains(kind), reportedKinds.count < Self.maxKinds else { return .accepted }
            reportedKinds.insert(kind)
            return .firstTreatAsWithdraw(reason: reason)
        }
        let kept = update.attributes.filter(\.isKeptForOwnRoute)
        var ipv4NextHop: IPAddress?
        if case .nextHop(let address) = update.attribute(.nextHop) { ipv4NextHop = .v4(address) }
        var nextHops: [PrefixPath: IPAddress] = [:]
        for case .mpReach(let reach) in update.attributes where !ownPrefixes.isEmpty {
            for path in PrefixPath.zip(reach.nlri, reach.pathIDs) { nextHops[path] = reach.nextHops.first }
        }
        for path in update.announcedPaths {
            let prefix = path.prefix
            prefixes[prefix.family, default: []].insert(path)
            if ownPrefixes.contains(prefix) {
                let route = ReceivedRoute(pathID: path.pathID, nextHop: nextHops[path] ?? ipv4NextHop, attributes: kept)
                if ownRoutes[prefix]?[path.pathID] != route {
                    ownRoutes[prefix, default: [:]][path.pathID] = route
                    changedOwnPrefixes.insert(prefix)
                }
            }
            if prefixes[prefix.family, default: []].count > Int(maxPrefixes) {
                return .limitExceeded(family: BGPFamily(unicast: prefix.family), limit: maxPrefixes)
            }
        }
        return .accepted
    }

    /// Forgets the session's routes (it ended); the treat-as-withdraw count stays. Every own prefix that had
    /// paths is reported as changed (to none).
    public mutating func sessionEnded() {
        prefixes = [:]
        changedOwnPrefixes.formUnion(ownRoutes.keys)
        ownRoutes = [:]
    }

    private mutating func remove(_ path: PrefixPath) {
        prefixes[path.prefix.family]?.remove(path)
        if ownRoutes[path.prefix]?.removeValue(forKey: path.pathID) != nil {
            changedOwnPrefixes.insert(path.prefix)
            if ownRoutes[path.prefix]?.isEmpty == true { ownRoutes[path.prefix] = nil }
        }
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

/// One path a peer offers for one of the host's own prefixes.
public struct ReceivedRoute: Hashable, Sendable {
    /// The path identifier (RFC 7911); 0 without ADD-PATH.
    public var pathID: UInt32
    /// NEXT_HOP for a prefix in the NLRI field, the MP_REACH_NLRI's first next hop for one in it.
    public var nextHop: IPAddress?
    /// The UPDATE's attributes but MP_REACH_NLRI and MP_UNREACH_NLRI.
    public var attributes: [PathAttribute]

    public init(pathID: UInt32 = 0, nextHop: IPAddress?, attributes: [PathAttribute]) {
        self.pathID = pathID
        self.nextHop = nextHop
        self.attributes = attributes
    }

    /// Every ASN of AS_PATH in order, sets and confederation segments included.
    public var flatASPath: [UInt32] {
        for case .asPath(let segments) in attributes { return segments.flatMap(\.asns) }
        return []
    }

    /// COMMUNITIES (RFC 1997), empty when absent.
    public var communities: [Community] {
        for case .communities(let values) in attributes { return values }
        return []
    }

    /// LARGE_COMMUNITY (RFC 8092), empty when absent.
    public var largeCommunities: [LargeCommunity] {
        for case .largeCommunities(let values) in attributes { return values }
        return []
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
