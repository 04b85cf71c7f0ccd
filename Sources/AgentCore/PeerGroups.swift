// Peer groups as the core sees them: how many of each group's peers are Established, read from the one set
// of sessions the core keeps (`established`). A group partly established is the split-brain Azure's
// documentation warns about (one route-server instance has the routes, the other not), so each change of
// a group's count is logged once: "azure: 1 of 2 established (down: ars-b)".
import Config

/// One peer group's sessions at this instant.
public struct PeerGroupCount: Sendable, Equatable {
    public var name: String
    /// The group's peers in file order.
    public var peers: [String]
    /// Those of them whose sessions are Established.
    public var established: [String]

    public init(name: String, peers: [String], established: [String]) {
        self.name = name
        self.peers = peers
        self.established = established
    }

    /// "azure: 1 of 2 established (down: ars-b)".
    public var summary: String {
        let down = peers.filter { !established.contains($0) }
        return "\(name): \(established.count) of \(peers.count) established"
            + (down.isEmpty ? "" : " (down: \(down.joined(separator: ", ")))")
    }
}

extension AgentCore {
    /// Every group of the configuration, sorted by name, with its Established peers.
    public func peerGroups() -> [PeerGroupCount] {
        var members: [String: [String]] = [:]
        for peer in desired?.bgp.peers ?? [] {
            guard let group = peer.group else { continue }
            members[group, default: []].append(peer.name)
        }
        return members.sorted { $0.key < $1.key }.map { name, peers in
            PeerGroupCount(name: name, peers: peers, established: peers.filter { established.contains($0) })
        }
    }

    /// Logs each group whose count of Established peers (or of peers) changed since it was last logged: a warning while
    /// the group is partly (or not) established, a notice when all of it is. A group seen for the first
    /// time (at start or after a reload) is logged only when some of its peers are up and some are not.
    mutating func logPeerGroupChanges(_ actions: inout [AgentAction]) {
        let groups = peerGroups()
        var counts: [String: [Int]] = [:]
        for group in groups {
            let count = group.established.count
            counts[group.name] = [count, group.peers.count]
            let before = groupCountsLogged[group.name]
            guard before != [count, group.peers.count] else { continue }
            if before == nil, count == 0 || count == group.peers.count { continue }
            actions.append(.log(count == group.peers.count ? .notice : .warning, group.summary))
        }
        groupCountsLogged = counts
    }
}
