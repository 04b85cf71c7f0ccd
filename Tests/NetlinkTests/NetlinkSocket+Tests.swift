// What only the tests read or do through a NetlinkSocket: whole-table dumps (the agent reads only its own
// links' state) and `apply` with the real "dummy" kind.
import NetAddress

@testable import Netlink

extension NetlinkSocket {
    /// Every link (`ip -d link`): name, kind, up/carrier, IPv6 addrgenmode and the IPv4 settings
    /// anycastd manages.
    func links() throws(NetlinkError) -> [LinkInfo] {
        try connection.withLock { (connection) throws(NetlinkError) -> [LinkInfo] in
            try connection.dump(.dumpLinks, context: "list links (RTM_GETLINK)").compactMap {
                if case .link(let link) = $0 { link } else { nil }
            }
        }
    }

    /// Every IPv4 and IPv6 address on every link (`ip addr`).
    func addresses() throws(NetlinkError) -> [AddressInfo] {
        try connection.withLock { (connection) throws(NetlinkError) -> [AddressInfo] in
            try connection.dump(.dumpAddresses(), context: "list addresses (RTM_GETADDR)").compactMap {
                if case .address(let address) = $0 { address } else { nil }
            }
        }
    }

    /// `apply(_:dummyKind:)` with the real "dummy" link kind.
    func apply(_ operations: [NetlinkOperation]) -> [Result<Void, NetlinkError>] {
        apply(operations, dummyKind: "dummy")
    }
}
