// NetlinkSocket: reads links and addresses and carries out NetlinkOperations over one rtnetlink
// socket (libmnl). Operations go to the kernel as acknowledged batches; each gets its own result.
import CMnl
import Glibc
import NetAddress
import Synchronization

/// A NETLINK_ROUTE socket in the network namespace of the thread that created it.
///
/// Equivalent to the `ip link` / `ip addr` commands named by each `NetlinkOperation`. Calls are
/// serialised by a lock, so one socket can be shared by tasks. Calls block the calling thread until
/// the kernel answers (normally well under a millisecond per operation; replies time out after 10 s).
public final class NetlinkSocket: Sendable {
    /// Internal so that the tests' whole-table dumps can share it.
    let connection: Mutex<Connection>

    /// Opens the socket in the calling thread's network namespace.
    public init() throws(NetlinkError) {
        let connection = try Connection(receiveBufferBytes: 4 << 20, replyTimeout: true)
        self.connection = Mutex(connection)
    }

    /// The link called `name`, or nil when there is none (`ip -d link show NAME`).
    public func link(named name: String) throws(NetlinkError) -> LinkInfo? {
        guard Self.isValidName(name) else { return nil }
        return try connection.withLock { (connection) throws(NetlinkError) -> LinkInfo? in
            switch Self.lookUp(name, on: connection) {
            case .success(let link): return link
            case .failure(let error) where error.errno == ENODEV: return nil
            case .failure(let error): throw NetlinkError(context: "look up link \(name)", error)
            }
        }
    }

    /// The links with these names that exist (`ip -d link show NAME` for each), in the order given; names
    /// without a link are left out. Unlike a dump of every link, other links' churn cannot interrupt it.
    public func links(named names: [String]) throws(NetlinkError) -> [LinkInfo] {
        var found: [LinkInfo] = []
        for name in names where !found.contains(where: { $0.name == name }) {
            if let link = try link(named: name) { found.append(link) }
        }
        return found
    }

    /// The IPv4 and IPv6 addresses on the links with these indexes (`ip addr show dev NAME`). Each link is
    /// one dump the kernel filters by ifa_index, so thousands of addresses changing on other links do not
    /// make it long or interrupted; kernels that ignore the filter are filtered here.
    public func addresses(onLinks indexes: [Int32]) throws(NetlinkError) -> [AddressInfo] {
        var found: [AddressInfo] = []
        for index in Set(indexes).sorted() {
            let bodies = try connection.withLock { (connection) throws(NetlinkError) -> [MessageBody] in
                try connection.dump(
                    .dumpAddresses(index: index), context: "list addresses of link \(index) (RTM_GETADDR)")
            }
            for case .address(let address) in bodies where address.interfaceIndex == index { found.append(address) }
        }
        return found
    }

    /// net.ipv4.conf.all.* for the settings anycastd manages. Read from /proc/sys, not netlink: there is
    /// no link called "all", and RTM_GETNETCONF reports rp_filter but not arp_ignore/arp_announce. The
    /// files show the calling thread's network namespace, which must be the socket's.
    public func ipv4ConfAll() throws(NetlinkError) -> [IPv4DevConf: UInt32] {
        var values: [IPv4DevConf: UInt32] = [:]
        for key in IPv4DevConf.allCases {
            values[key] = try ProcSysctl.read(ProcSysctl.allPath(key))
        }
        return values
    }

    /// Carries out `operations` in order and returns one result per operation, in the same order.
    /// `dummyKind` is the link kind created for "dummy" ("dummy" but for tests on kernels without it:
    /// ifb behaves the same for everything anycastd does).
    ///
    /// Operations are sent as acknowledged batches; one failing does not stop the others. Addresses need
    /// an interface index, so an address on a link created earlier in the same list is sent after the
    /// batch that creates the link. `setIPv4ConfAll` writes /proc/sys/net/ipv4/conf/all/KEY (of the
    /// calling thread's network namespace), since rtnetlink has no way to set "all".
    public func apply(_ operations: [NetlinkOperation], dummyKind: String) -> [Result<Void, NetlinkError>] {
        connection.withLock { connection in
            var planner = BatchPlanner(connection: connection, operations: operations, dummyKind: dummyKind)
            return planner.run()
        }
    }

    /// How many dumps the kernel marked interrupted (NLM_F_DUMP_INTR) and were read again.
    var interruptedDumps: Int { connection.withLock { $0.interruptedDumps } }

    /// The RTM_GETLINK answer for `name`.
    fileprivate static func lookUp(_ name: String, on connection: Connection) -> Result<LinkInfo, KernelError> {
        do {
            let bodies = try connection.dump(.getLink(name: name), context: "look up link \(name)")
            for case .link(let link) in bodies { return .success(link) }
            return .failure(KernelError(errno: ENODEV))
        } catch {
            return .failure(KernelError(errno: error.errno))
        }
    }

    /// Linux interface names are 1–15 bytes (IFNAMSIZ includes the NUL).
    fileprivate static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count < Int(IFNAMSIZ) && !name.utf8.contains(0)
    }
}

/// Splits a list of operations into batches and maps acknowledgements back to operations.
private struct BatchPlanner {
    let connection: Connection
    let operations: [NetlinkOperation]
    let dummyKind: String
    var results: [Result<Void, NetlinkError>?]
    /// Requests not yet sent, tagged with the index of their operation.
    var pending: [(tag: Int, request: NetlinkRequest)] = []
    /// Names created or deleted by pending requests: their index is not known until those are sent.
    var changingNames: Set<String> = []
    var indexes: [String: Result<Int32, KernelError>] = [:]

    init(connection: Connection, operations: [NetlinkOperation], dummyKind: String) {
        self.connection = connection
        self.operations = operations
        self.dummyKind = dummyKind
        self.results = Array(repeating: nil, count: operations.count)
    }

    mutating func run() -> [Result<Void, NetlinkError>] {
        for (tag, operation) in operations.enumerated() {
            if let name = operation.interfaceName, !NetlinkSocket.isValidName(name) {
                results[tag] = .failure(
                    NetlinkError(
                        operation: operation.description, errno: EINVAL,
                        message: "invalid interface name \"\(name)\" (1 to 15 bytes)"))
                continue
            }
            switch operation {
            case .createDummy(let name):
                // Create, then addrgenmode none while the link is still down, in the same batch. The kernel
                // rejects IFLA_AF_SPEC inside a create request (EAFNOSUPPORT), so it is a separate message.
                pending.append((tag, .newLink(name: name, kind: dummyKind)))
                pending.append((tag, .setAddrGenModeNone(name: name)))
                changingNames.insert(name)
            case .deleteLink(let name):
                pending.append((tag, .deleteLink(name: name)))
                changingNames.insert(name)
            case .setLinkUp(let name, let up):
                pending.append((tag, .setLinkUp(name: name, up: up)))
            case .setAddrGenModeNone(let name):
                pending.append((tag, .setAddrGenModeNone(name: name)))
            case .setIPv4Conf(let name, let key, let value):
                pending.append((tag, .setIPv4Conf(name: name, key: key, value: value)))
            case .setIPv4ConfAll(let key, let value):
                flush()
                results[tag] = Result { () throws(NetlinkError) in
                    try ProcSysctl.write(value, to: ProcSysctl.allPath(key), for: operation)
                }
            case .addAddress(let name, let prefix):
                guard let index = index(of: name, for: tag) else { continue }
                pending.append((tag, .newAddress(index: index, prefix: prefix)))
            case .deleteAddress(let name, let prefix):
                guard let index = index(of: name, for: tag) else { continue }
                pending.append((tag, .deleteAddress(index: index, prefix: prefix)))
            }
        }
        flush()
        return results.map { $0 ?? .success(()) }
    }

    /// The interface index of `name`, sending pending requests first when they create or delete it;
    /// nil (with the operation's result set) when it cannot be had.
    private mutating func index(of name: String, for tag: Int) -> Int32? {
        if changingNames.contains(name) {
            flush()
        }
        let found = indexes[name] ?? NetlinkSocket.lookUp(name, on: connection).map(\.index)
        indexes[name] = found
        switch found {
        case .success(let index): return index
        case .failure(let error):
            results[tag] = .failure(NetlinkError(operations[tag], errno: error.errno, kernelMessage: error.message))
            return nil
        }
    }

    private mutating func flush() {
        guard !pending.isEmpty else { return }
        let failures = connection.batch(pending)
        for entry in pending where results[entry.tag] == nil {
            if let error = failures[entry.tag] {
                results[entry.tag] = .failure(
                    NetlinkError(operations[entry.tag], errno: error.errno, kernelMessage: error.message))
            }
        }
        for name in changingNames { indexes[name] = nil }
        pending = []
        changingNames = []
    }
}
