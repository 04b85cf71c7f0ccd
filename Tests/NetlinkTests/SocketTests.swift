// Privileged tests of NetlinkSocket on this host's kernel, each in a fresh network namespace on its
// own thread: links and kinds, addrgenmode, devconf read back through /proc, addresses (nodad,
// deprecated), batches with a bad operation, and errno words. This kernel has no dummy link type, so
// "dummy" creation is exercised with ifb standing in, and the real dummy request must fail in words.
import Foundation
import NetAddress
import Synchronization
import Testing

@testable import Netlink

extension NamespaceTests {
    @Suite struct SocketTests {
        @Test func linksShowKindsAndFlags() async throws {
            let (links, named, missing) = try await inNewNetworkNamespace {
                try run("ip", "link", "add", "va", "type", "veth", "peer", "name", "vb")
                try run("ip", "link", "add", "br0", "type", "bridge")
                try run("ip", "link", "add", "ifb0", "type", "ifb")
                try run("ip", "link", "set", "ifb0", "up")
                let socket = try NetlinkSocket()
                return (try socket.links(), try socket.link(named: "ifb0"), try socket.link(named: "nope0"))
            }
            let byName = Dictionary(links.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            #expect(Set(byName.keys) == ["lo", "va", "vb", "br0", "ifb0"])
            #expect(byName["lo"]?.kind == nil)
            #expect(byName["va"]?.kind == "veth")
            #expect(byName["br0"]?.kind == "bridge")
            #expect(byName["ifb0"]?.kind == "ifb")
            #expect(byName["ifb0"]?.isUp == true)
            #expect(byName["va"]?.isUp == false)
            #expect(byName["lo"]?.index == 1)
            #expect(named == byName["ifb0"])
            #expect(missing == nil)
        }

        @Test func addrGenModeNoneMeansNoLinkLocalAddress() async throws {
            let (results, links, addresses, ipOutput) = try await inNewNetworkNamespace {
                try run("ip", "link", "add", "va", "type", "veth", "peer", "name", "vb")
                let socket = try NetlinkSocket()
                let results = socket.apply([
                    .setAddrGenModeNone(name: "va"), .setLinkUp(name: "va", up: true), .setLinkUp(name: "vb", up: true),
                ])
                // The kernel adds fe80:: once carrier is up (linkwatch, asynchronously): wait until the control
                // link vb has one, so va has had the same chance.
                let vbIndex = try socket.link(named: "vb")?.index
                var addresses = try socket.addresses()
                for _ in 0..<300
                where !addresses.contains(where: { $0.interfaceIndex == vbIndex && $0.prefix.address.isLinkLocalIPv6 })
                {
                    usleep(10_000)
                    addresses = try socket.addresses()
                }
                return (results, try socket.links(), addresses, try run("ip", "-6", "addr", "show", "dev", "va"))
            }
            #expect(results.allSucceeded)
            let va = try #require(links.first { $0.name == "va" })
            let vb = try #require(links.first { $0.name == "vb" })
            #expect(va.ipv6AddrGenMode == 1)
            #expect(vb.ipv6AddrGenMode == 0)
            #expect(va.isUp && vb.isUp)
            let linkLocal = { (index: Int32) in
                addresses.contains { $0.interfaceIndex == index && $0.prefix.address.isLinkLocalIPv6 }
            }
            #expect(!linkLocal(va.index), "addrgenmode none: no fe80:: on va")
            #expect(linkLocal(vb.index), "control: vb (default addrgenmode) has fe80::")
            #expect(!ipOutput.contains("fe80"))
        }

        @Test func createdLinkIsAddressableInTheSameList() async throws {
            let (results, link, addresses, ipOutput) = try await inNewNetworkNamespace {
                let socket = try NetlinkSocket()
                // ifb stands in for dummy (this kernel has none); the operations are the planner's.
                let results = socket.apply(
                    [
                        .createDummy(name: "acd0"),
                        .setIPv4Conf(name: "acd0", key: .arpIgnore, value: 1),
                        .addAddress(name: "acd0", prefix: IPPrefix("192.0.2.1/32")!),
                        .addAddress(name: "acd0", prefix: IPPrefix("2001:db8::1/128")!),
                        .setLinkUp(name: "acd0", up: true),
                    ], dummyKind: "ifb")
                return (
                    results, try socket.link(named: "acd0"), try socket.addresses(),
                    try run("ip", "-6", "addr", "show", "dev", "acd0")
                )
            }
            #expect(results.allSucceeded, "\(results)")
            let acd0 = try #require(link)
            #expect(acd0.kind == "ifb")
            #expect(acd0.isUp)
            #expect(acd0.ipv6AddrGenMode == 1, "createDummy includes addrgenmode none")
            #expect(acd0.ipv4Conf[.arpIgnore] == 1)
            let mine = Set(addresses.filter { $0.interfaceIndex == acd0.index }.map(\.prefix))
            #expect(mine == [IPPrefix("192.0.2.1/32")!, IPPrefix("2001:db8::1/128")!])
            #expect(!ipOutput.contains("fe80"))
        }

        @Test func ipv4ConfReadsBackThroughNetlinkAndProc() async throws {
            let (results, link, proc, all, allAfter, procAll) = try await inNewNetworkNamespace {
                try run("ip", "link", "add", "va", "type", "veth", "peer", "name", "vb")
                let socket = try NetlinkSocket()
                let allBefore = try socket.ipv4ConfAll()
                let results = socket.apply([
                    .setIPv4Conf(name: "va", key: .rpFilter, value: 2),
                    .setIPv4Conf(name: "va", key: .arpAnnounce, value: 2),
                    .setIPv4Conf(name: "va", key: .arpIgnore, value: 1),
                    .setIPv4ConfAll(key: .arpIgnore, value: 1),
                ])
                var proc: [IPv4DevConf: String] = [:]
                for key in IPv4DevConf.allCases { proc[key] = try readSysctl("/proc/sys/net/ipv4/conf/va/\(key)") }
                let procAll = try readSysctl("/proc/sys/net/ipv4/conf/all/arp_ignore")
                return (results, try socket.link(named: "va"), proc, allBefore, try socket.ipv4ConfAll(), procAll)
            }
            #expect(results.allSucceeded, "\(results)")
            #expect(link?.ipv4Conf == [.rpFilter: 2, .arpAnnounce: 2, .arpIgnore: 1])
            #expect(proc == [.rpFilter: "2", .arpAnnounce: "2", .arpIgnore: "1"])
            #expect(all == [.rpFilter: 0, .arpAnnounce: 0, .arpIgnore: 0], "a fresh namespace starts at 0")
            #expect(allAfter[.arpIgnore] == 1)
            #expect(procAll == "1")
        }

        @Test func hostAddressesOnLoopbackAndALink() async throws {
            let v4 = IPPrefix("192.0.2.53/32")!
            let v6 = IPPrefix("2001:db8::53/128")!
            let observed = try await inNewNetworkNamespace { () throws -> AddressObservation in
                try run("ip", "link", "add", "ifb0", "type", "ifb")
                let socket = try NetlinkSocket()
                var operations: [NetlinkOperation] = [
                    .setLinkUp(name: "lo", up: true), .setLinkUp(name: "ifb0", up: true),
                ]
                for name in ["lo", "ifb0"] {
                    operations += [.addAddress(name: name, prefix: v4), .addAddress(name: name, prefix: v6)]
                }
                let added = socket.apply(operations)
                // Replacing is idempotent: the same list again succeeds and changes nothing.
                let again = socket.apply(operations)
                let afterAdd = try socket.addresses()
                let ipLo = try run("ip", "-6", "addr", "show", "dev", "lo")
                let deletes: [NetlinkOperation] = ["lo", "ifb0"].flatMap { name in
                    [NetlinkOperation.deleteAddress(name: name, prefix: v4), .deleteAddress(name: name, prefix: v6)]
                }
                let deleted = socket.apply(deletes)
                let afterDelete = try socket.addresses()
                let deletedAgain = socket.apply(deletes)
                return AddressObservation(
                    added: added, again: again, afterAdd: afterAdd, ipOutput: ipLo, deleted: deleted,
                    afterDelete: afterDelete, deletedAgain: deletedAgain,
                    ifbIndex: try socket.link(named: "ifb0")?.index ?? -1)
            }
            #expect(observed.added.allSucceeded, "\(observed.added)")
            #expect(observed.again.allSucceeded, "\(observed.again)")
            for index in [Int32(1), observed.ifbIndex] {
                let here = observed.afterAdd.filter { $0.interfaceIndex == index }
                let ipv4 = try #require(here.first { $0.prefix == v4 }, "192.0.2.53/32 on index \(index)")
                let ipv6 = try #require(here.first { $0.prefix == v6 }, "2001:db8::53/128 on index \(index)")
                #expect(ipv4.flags & AddressInfo.flagPermanent != 0)
                #expect(ipv4.preferredLifetime == .max)
                #expect(ipv6.flags & AddressInfo.flagNoDAD != 0)
                #expect(ipv6.flags & AddressInfo.flagDeprecated != 0)
                #expect(ipv6.flags & AddressInfo.flagTentative == 0)
                #expect(ipv6.preferredLifetime == 0)
                #expect(ipv6.validLifetime == .max)
            }
            #expect(
                observed.ipOutput.contains("inet6 2001:db8::53/128 scope global nodad deprecated"),
                "\(observed.ipOutput)")
            #expect(observed.ipOutput.contains("valid_lft forever preferred_lft 0sec"))
            #expect(observed.deleted.allSucceeded, "\(observed.deleted)")
            #expect(!observed.afterDelete.contains { $0.prefix == v4 || $0.prefix == v6 })
            #expect(observed.deletedAgain.count == 4)
            for result in observed.deletedAgain {
                #expect(result.error?.errno == EADDRNOTAVAIL)
                #expect(result.error?.message.hasPrefix("address not present") == true)
            }
        }

        @Test func thousandAddressesInOneApplyAndABadOneAmongThem() async throws {
            let prefixes = (0..<1000).map { IPPrefix("10.77.\($0 / 250).\($0 % 250 + 1)/32")! }
            let (bulk, count, mixed) = try await inNewNetworkNamespace {
                try run("ip", "link", "add", "ifb0", "type", "ifb")
                let socket = try NetlinkSocket()
                let bulk = socket.apply(prefixes.map { .addAddress(name: "ifb0", prefix: $0) })
                let index = try socket.link(named: "ifb0")?.index
                let count = try socket.addresses().filter { $0.interfaceIndex == index }.count
                let mixed = socket.apply([
                    .addAddress(name: "ifb0", prefix: IPPrefix("192.0.2.1/32")!),
                    .deleteAddress(name: "ifb0", prefix: IPPrefix("192.0.2.99/32")!),
                    .addAddress(name: "ifb0", prefix: IPPrefix("2001:db8::1/128")!),
                    .setLinkUp(name: "nope0", up: true),
                    .deleteAddress(name: "ifb0", prefix: prefixes[0]),
                ])
                return (bulk, count, mixed)
            }
            #expect(bulk.count == 1000)
            #expect(bulk.allSucceeded, "\(bulk.compactMap(\.error).prefix(3))")
            #expect(count == 1000)
            #expect(mixed.count == 5)
            #expect(mixed[0].error == nil)
            #expect(mixed[1].error?.errno == EADDRNOTAVAIL)
            #expect(mixed[1].error?.operation == "ip addr del 192.0.2.99/32 dev ifb0")
            #expect(mixed[2].error == nil)
            #expect(mixed[3].error?.errno == ENODEV)
            #expect(mixed[3].error?.message.hasPrefix("no such interface") == true)
            #expect(mixed[4].error == nil)
        }

        @Test func tenThousandAddressesSpanSeveralBatches() async throws {
            // 10,000 IPv4 adds are 400 KB of requests: seven 64 KiB batches, each of whose acknowledgements
            // must fit the receive buffer. (IPv4, because the kernel itself takes seconds for 10,000 IPv6
            // addresses: each add and delete walks all of them; iproute2 is slower still.)
            let prefixes = (0..<10_000).map {
                IPPrefix("10.\(80 + $0 / 250 / 250).\($0 / 250 % 250).\($0 % 250 + 1)/32")!
            }
            let (added, countAfterAdd, deleted, countAfterDelete, elapsed) = try await inNewNetworkNamespace {
                try run("ip", "link", "add", "ifb0", "type", "ifb")
                let socket = try NetlinkSocket()
                let start = ContinuousClock.now
                let added = socket.apply(prefixes.map { .addAddress(name: "ifb0", prefix: $0) })
                let countAfterAdd = try socket.addresses().count { $0.prefix.family == .ipv4 && $0.interfaceIndex != 1 }
                let deleted = socket.apply(prefixes.map { .deleteAddress(name: "ifb0", prefix: $0) })
                let elapsed = ContinuousClock.now - start
                let countAfterDelete = try socket.addresses().count {
                    $0.prefix.family == .ipv4 && $0.interfaceIndex != 1
                }
                return (added, countAfterAdd, deleted, countAfterDelete, elapsed)
            }
            #expect(added.count == 10_000 && added.allSucceeded, "\(added.compactMap(\.error).prefix(3))")
            #expect(countAfterAdd == 10_000)
            #expect(deleted.count == 10_000 && deleted.allSucceeded, "\(deleted.compactMap(\.error).prefix(3))")
            #expect(countAfterDelete == 0)
            #expect(elapsed < .seconds(15), "10,000 adds and deletes took \(elapsed)")
        }

        @Test func dumpsInterruptedByChangesAreReadAgain() async throws {
            // 3,000 addresses take several dump parts; a second socket changes addresses meanwhile, so the
            // kernel marks some dumps NLM_F_DUMP_INTR. Every dump returned must still be consistent.
            let base = (0..<3000).map { IPPrefix("10.90.\($0 / 250).\($0 % 250 + 1)/32")! }
            let churn = (0..<50).map { IPPrefix("10.91.0.\($0 + 1)/32")! }
            let (reader, writer) = try await inNewNetworkNamespace {
                try run("ip", "link", "add", "ifb0", "type", "ifb")
                let writer = try NetlinkSocket()
                guard writer.apply(base.map { .addAddress(name: "ifb0", prefix: $0) }).allSucceeded else {
                    throw TestFailure("could not add the base addresses")
                }
                return (try NetlinkSocket(), writer)
            }
            let stop = Mutex(false)
            let churner = Thread {
                while !stop.withLock({ $0 }) {
                    _ = writer.apply(churn.map { .addAddress(name: "ifb0", prefix: $0) })
                    _ = writer.apply(churn.map { .deleteAddress(name: "ifb0", prefix: $0) })
                    usleep(5_000)  // room for some dumps to finish untouched
                }
            }
            churner.start()
            defer { stop.withLock { $0 = true } }
            var counts: [Int] = []
            var duplicates = 0
            var gaveUp = 0
            for _ in 0..<40 where reader.interruptedDumps < 3 || counts.isEmpty {
                // On a loaded machine every attempt can overlap the churn: the dump then gives up with a clear
                // error (the agent treats that as "presence unknown" and reads again later), never a mix.
                let dump: [AddressInfo]
                do {
                    dump = try reader.addresses().filter { $0.prefix.family == .ipv4 && $0.interfaceIndex != 1 }
                } catch {
                    #expect("\(error)".contains("interrupted the dump"), "\(error)")
                    gaveUp += 1
                    continue
                }
                let unique = Set(dump.map(\.prefix))
                duplicates += dump.count - unique.count
                counts.append(unique.intersection(base).count)
            }
            #expect(reader.interruptedDumps > 0, "no dump was interrupted; the retry path went untested")
            #expect(!counts.isEmpty, "every dump gave up (\(gaveUp))")
            #expect(duplicates == 0)
            #expect(counts.allSatisfy { $0 == 3000 }, "\(counts)")
        }

        @Test func aDumpOfOneLinkIgnoresChurnOnAnother() async throws {
            // 3,000 addresses churn on ifb1 (the unfiltered dump above gets interrupted by far less); the
            // anycast link's dump is filtered by the kernel, so it is short, never interrupted, and exact.
            let churn = (0..<3000).map { IPPrefix("10.92.\($0 / 250).\($0 % 250 + 1)/32")! }
            let own = IPPrefix("192.0.2.53/32")!
            let (reader, writer, index) = try await inNewNetworkNamespace {
                try run("ip", "link", "add", "ifb0", "type", "ifb")
                try run("ip", "link", "add", "ifb1", "type", "ifb")
                let writer = try NetlinkSocket()
                guard writer.apply([.addAddress(name: "ifb0", prefix: own)]).allSucceeded,
                    let index = try writer.link(named: "ifb0")?.index
                else { throw TestFailure("could not set up ifb0") }
                return (try NetlinkSocket(), writer, index)
            }
            let stop = Mutex(false)
            let rounds = Mutex(0)
            let churner = Thread {
                while !stop.withLock({ $0 }) {
                    _ = writer.apply(churn.map { .addAddress(name: "ifb1", prefix: $0) })
                    _ = writer.apply(churn.map { .deleteAddress(name: "ifb1", prefix: $0) })
                    rounds.withLock { $0 += 1 }
                }
            }
            churner.start()
            defer { stop.withLock { $0 = true } }
            // Dumps for as long as two whole rounds of churn take (at most 20 s).
            let deadline = ContinuousClock.now + .seconds(20)
            var dumps = 0
            while rounds.withLock({ $0 }) < 2 && ContinuousClock.now < deadline {
                let dump = try reader.addresses(onLinks: [index])
                #expect(dump.map(\.prefix) == [own])
                dumps += 1
            }
            #expect(rounds.withLock { $0 } >= 2, "the churn did not run")
            #expect(dumps > 10)
            #expect(reader.interruptedDumps == 0)
            let links = try reader.links(named: ["ifb0", "nosuchlink", "ifb0"])
            #expect(links.map(\.name) == ["ifb0"])
        }

        @Test func withoutNetAdminTheErrorSaysSo() async throws {
            let results = try await inNewNetworkNamespace {
                try run("ip", "link", "add", "ifb0", "type", "ifb")
                try dropNetAdminCapability()
                let socket = try NetlinkSocket()
                let links = try socket.links()  // reading needs no privilege
                guard links.contains(where: { $0.name == "ifb0" }) else {
                    throw TestFailure("ifb0 not listed: \(links)")
                }
                return socket.apply([
                    .setLinkUp(name: "ifb0", up: true),
                    .addAddress(name: "ifb0", prefix: IPPrefix("192.0.2.1/32")!),
                ])
            }
            #expect(results.count == 2)
            for result in results {
                #expect(result.error?.errno == EPERM)
                #expect(
                    result.error?.message.hasPrefix("needs CAP_NET_ADMIN") == true,
                    "\(String(describing: result.error))")
            }
        }

        @Test func errorsInWords() async throws {
            let results = try await inNewNetworkNamespace {
                let socket = try NetlinkSocket()
                return socket.apply([
                    .createDummy(name: "anycast0"),
                    .createDummy(name: "lo"),
                    .setLinkUp(name: "nope0", up: true),
                    .addAddress(name: "nope0", prefix: IPPrefix("192.0.2.1/32")!),
                    .deleteLink(name: "nope0"),
                    .setIPv4Conf(name: "nope0", key: .rpFilter, value: 1),
                    .setLinkUp(name: "a-name-longer-than-15", up: true),
                ])
            }
            let errors = results.map(\.error)
            try #require(errors.count == 7)
            #expect(errors[0]?.errno == EOPNOTSUPP, "this kernel has no dummy link type")
            #expect(
                errors[0]?.description.hasPrefix(
                    "ip link add anycast0 type dummy && ip link set anycast0 addrgenmode none: kernel has no dummy link type (load module \"dummy\")"
                )
                    == true, "\(String(describing: errors[0]))")
            #expect(errors[1]?.errno == EEXIST)
            #expect(errors[1]?.message.hasPrefix("interface lo already exists") == true)
            for error in errors[2...5] {
                #expect(error?.errno == ENODEV)
                #expect(error?.message.hasPrefix("no such interface") == true, "\(String(describing: error))")
            }
            #expect(errors[6]?.errno == EINVAL)
        }
    }
}

/// What hostAddressesOnLoopbackAndALink saw inside its namespace.
struct AddressObservation: Sendable {
    var added, again: [Result<Void, NetlinkError>]
    var afterAdd: [AddressInfo]
    var ipOutput: String
    var deleted: [Result<Void, NetlinkError>]
    var afterDelete: [AddressInfo]
    var deletedAgain: [Result<Void, NetlinkError>]
    var ifbIndex: Int32
}

extension Result where Success == Void, Failure == NetlinkError {
    var error: NetlinkError? {
        if case .failure(let error) = self { error } else { nil }
    }
}

extension Array where Element == Result<Void, NetlinkError> {
    var allSucceeded: Bool { allSatisfy { $0.error == nil } }
}

extension IPAddress {
    var isLinkLocalIPv6: Bool {
        if case .v6(let address) = self { address.isLinkLocal } else { false }
    }
}
