// A fake shell around AgentCore for tests: a simulated host that netlink operations change, a fake clock
// that only moves when a test says so, timers fired in order, a state directory that can refuse writes, and
// a record of every route set, log line, reply and exit. It carries out actions the way the Agent actor does.
import AgentCore
import Config
import NetAddress
import NetlinkTypes
import Reconciler

struct FakeShell {
    var core = AgentCore()
    /// The fake clock: a Duration since the test began.
    var now: Duration = .zero
    var host = ObservedHost()
    var nextIndex: Int32 = 10
    var timers: [Duration] = []
    /// Every complete route set handed to the speaker, with the instant.
    var routeHistory: [(at: Duration, routes: [String: [IPPrefix: Announcement]])] = []
    var logs: [String] = []
    var replies: [RequestID: ControlReply] = [:]
    var savedDrains: Set<String>?
    var savedOwned: Set<IPPrefix>?
    /// When set, writing the drain file fails with this reason.
    var drainWriteFailure: String?
    var resets: [String] = []
    /// Services whose checks the core asked to run now, in order.
    var rechecks: [Set<String>] = []
    var shutdownAt: Duration?
    /// When the core asked for the checks to run closely for a stop.
    var checkedCloselyAt: Duration?
    var exitCode: Int32?
    var exitAt: Duration?
    var applied: [NetlinkOperation] = []
    var nextRequest: RequestID = 1
    /// Graceful Restart: when End-of-RIB was released, and how many route sets had been handed over by then.
    var restartFinishedAt: Duration?
    var routeSetsBeforeEndOfRIB: Int?
    /// When the sessions were left to the routers (a restart stop).
    var handedOverAt: Duration?
    /// The restart marker as the last save left it (nil: never written nor removed).
    var restartMarker: Bool?

    /// The routes the speaker has now for a peer.
    func routes(_ peer: String) -> [IPPrefix: Announcement] { routeHistory.last?.routes[peer] ?? [:] }

    mutating func feed(_ event: AgentEvent) {
        let actions = core.handle(event, now: now)
        perform(actions)
    }

    mutating func perform(_ actions: [AgentAction]) {
        for action in actions {
            guard exitCode == nil else { return }
            switch action {
            case .applyInterface(let operations):
                applied += operations
                for operation in operations { apply(operation) }
                feed(.interfaceApplied(operations, operations.map { _ in nil }))
                feed(.interfaceObserved(host, repair: false))
            case .observe:
                feed(.interfaceObserved(host, repair: true))
            case .setRoutes(let routes):
                routeHistory.append((now, routes))
            case .persistDrains(let drains):
                if let failure = drainWriteFailure {
                    feed(.persisted(.drains, .failed(failure)))
                } else {
                    savedDrains = drains
                    feed(.persisted(.drains, .ok))
                }
            case .persistOwnedAddresses(let owned):
                savedOwned = owned
                feed(.persisted(.ownedAddresses, .ok))
            case .armTimer(let instant):
                timers.append(instant)
            case .log(_, let line):
                logs.append(line)
            case .reply(let request, let reply):
                replies[request] = reply
            case .runChecks(let services):
                rechecks.append(services)
            case .checkClosely:
                checkedCloselyAt = now
            case .resetSession(let peer, _):
                resets.append(peer)
            case .shutdownSessions:
                shutdownAt = now
            case .exit(let code):
                exitCode = code
                exitAt = now
            case .finishRestart:
                restartFinishedAt = now
                routeSetsBeforeEndOfRIB = routeHistory.count
            case .handOverSessions:
                handedOverAt = now
            case .saveRestartMarker(let present):
                restartMarker = present
            }
        }
    }

    /// Moves the fake clock to `instant`, firing every timer due on the way, in order.
    mutating func advance(to instant: Duration) {
        while exitCode == nil, let next = timers.filter({ $0 <= instant }).min() {
            timers.removeAll { $0 == next }
            now = max(now, next)
            feed(.timerFired)
        }
        now = max(now, instant)
    }

    mutating func advance(by duration: Duration) { advance(to: now + duration) }

    mutating func drain(_ services: [String] = []) -> ControlReply? {
        let request = nextRequest
        nextRequest += 1
        feed(.drainRequested(services, request: request))
        return replies[request]
    }

    mutating func requestRestart() -> ControlReply? {
        let request = nextRequest
        nextRequest += 1
        feed(.restartRequested(request: request))
        return replies[request]
    }

    mutating func undrain(_ services: [String] = []) -> ControlReply? {
        let request = nextRequest
        nextRequest += 1
        feed(.undrainRequested(services, request: request))
        return replies[request]
    }

    // MARK: the simulated host

    private mutating func apply(_ operation: NetlinkOperation) {
        switch operation {
        case .createDummy(let name):
            host.links.append(LinkInfo(index: nextIndex, name: name, kind: "dummy", ipv6AddrGenMode: 1))
            nextIndex += 1
        case .deleteLink(let name):
            host.links.removeAll { $0.name == name }
        case .setLinkUp(let name, let up):
            mutateLink(name) { $0.isUp = up }
        case .setAddrGenModeNone(let name):
            mutateLink(name) { $0.ipv6AddrGenMode = 1 }
        case .setIPv4Conf(let name, let key, let value):
            mutateLink(name) { $0.ipv4Conf[key] = value }
        case .setIPv4ConfAll(let key, let value):
            host.ipv4ConfAll[key] = value
        case .addAddress(let name, let prefix):
            guard let link = host.link(named: name) else { return }
            host.addresses.removeAll { $0.interfaceIndex == link.index && $0.prefix == prefix }
            host.addresses.append(
                AddressInfo(
                    interfaceIndex: link.index, prefix: prefix, flags: AddressInfo.flagNoDAD,
                    preferredLifetime: prefix.family == .ipv6 ? 0 : .max))
        case .deleteAddress(let name, let prefix):
            guard let link = host.link(named: name) else { return }
            host.addresses.removeAll { $0.interfaceIndex == link.index && $0.prefix == prefix }
        }
    }

    private mutating func mutateLink(_ name: String, _ change: (inout LinkInfo) -> Void) {
        guard let position = host.links.firstIndex(where: { $0.name == name }) else { return }
        change(&host.links[position])
    }

    /// Removes a link behind the agent's back (someone ran `ip link del`), then lets the agent observe it.
    mutating func removeLink(_ name: String) {
        guard let link = host.link(named: name) else { return }
        host.links.removeAll { $0.name == name }
        host.addresses.removeAll { $0.interfaceIndex == link.index }
        feed(.interfaceObserved(host, repair: false))
    }

    /// Whether the address is on the interface now.
    func hasAddress(_ prefix: IPPrefix, on name: String = "anycast0") -> Bool {
        host.prefixes(on: name).contains(prefix)
    }
}

// MARK: fixtures

let dnsV4 = IPPrefix("192.0.2.53/32")!
let dnsV6 = IPPrefix("2001:db8:53::53/128")!
let ntpV4 = IPPrefix("192.0.2.123/32")!

func check() -> CheckConfig { CheckConfig(kind: .tcp(address: IPAddress("127.0.0.1")!, port: 53)) }

/// Two eBGP peers; dns (v4 + v6, checked) and ntp (no checks); a 2 s drain delay.
func state(
    gracefulShutdown: Bool = true, delay: Duration = .seconds(2), dnsName: String = "dns",
    services: [ServiceConfig]? = nil, stateDirectory: String = "/var/lib/anycastd"
) -> DesiredState {
    DesiredState(
        interface: InterfaceConfig(),
        bgp: BGPConfig(
            asn: 65011, routerId: IPv4Address("10.0.0.11")!,
            peers: [
                PeerConfig(name: "core1", address: IPAddress("10.0.0.1")!, asn: 65000, asPathPrepend: 1),
                PeerConfig(
                    name: "core2", address: IPAddress("10.0.0.2")!, asn: 65011, families: [.ipv4],
                    nextHop: NextHopConfig(ipv4: IPv4Address("10.0.0.11")!)),
            ]),
        services: services ?? [
            ServiceConfig(name: dnsName, prefixes: [dnsV4, dnsV6], checks: [check()]),
            ServiceConfig(name: "ntp", prefixes: [ntpV4]),
        ],
        drain: DrainConfig(delay: delay, gracefulShutdown: gracefulShutdown), stateDirectory: stateDirectory)
}

extension FakeShell {
    /// An agent that adopted `desired`, created its interface, saw dns healthy and both sessions Established.
    static func running(
        _ desired: DesiredState = state(), restored: RestoredDrains = .drains([]), healthy: Bool = true
    ) -> FakeShell {
        var shell = FakeShell()
        shell.feed(
            .configurationAdopted(
                desired, restored: RestoredState(directory: desired.stateDirectory, drains: restored)))
        if healthy {
            for service in desired.services where !service.checks.isEmpty {
                shell.feed(.health(service: service.name, up: true, detail: ""))
            }
        }
        shell.feed(.peer("core1", .established))
        shell.feed(.peer("core2", .established))
        return shell
    }
}
