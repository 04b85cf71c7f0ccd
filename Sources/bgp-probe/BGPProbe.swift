// bgp-probe: one BGP session from this host to one router, announcing routes given on the command line
// or in a file, scripted on stdin ("announce P", "withdraw P", "status", "shutdown TEXT", "stop"). The
// interop tests and benchmarks drive BGPSpeaker through it; every event is one line on stdout.
import ArgumentParser
import BGP
import BGPSession
import Foundation
import Logging
import NIOCore
import NIOPosix
import NetAddress

@main
struct BGPProbe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bgp-probe",
        abstract: "Peer with one router and announce routes (test and benchmark tool for anycastd's BGP speaker).",
        discussion: """
            stdin commands (end of stdin keeps the session; SIGINT/SIGTERM mean "stop"):
            "announce PREFIX", "withdraw PREFIX", "status" (prints "status JSON"),
            "shutdown TEXT" (sets the RFC 9003 message), "load FILE" (announce exactly the prefixes in FILE), "stop". stdout lines: "state STATE [reason]",
            "established inbound|outbound", "refresh ipv4|ipv6", "status {...}", "stopped".
            """)

    @Option(help: "Our AS number (2 or 4 octets).") var localAs: UInt32
    @Option(help: "Our BGP identifier (IPv4 dotted quad, non-zero).") var routerId: String
    @Option(help: "The router's address.") var peer: String
    @Option(help: "The router's AS number.") var peerAs: UInt32
    @Option(help: "The router's TCP port.") var port: Int = 179
    @Option(help: "Source address to bind (also the default next hop of its family).") var local: String?
    @Option(name: .customLong("route"), help: "A prefix to announce (repeatable).") var routes: [String] = []
    @Option(help: "A file with one prefix per line to announce.") var routesFile: String?
    @Option(help: "A community ASN:VALUE on every route (repeatable).") var community: [String] = []
    @Option(help: "A large community A:B:C on every route (repeatable).") var largeCommunity: [String] = []
    @Option(help: "MULTI_EXIT_DISC on every route.") var med: UInt32?
    @Option(help: "Prepend our ASN this many extra times.") var prepend: Int = 0
    @Option(help: "TCP MD5 password.") var md5: String?
    @Flag(help: "Wait for the router to connect in.") var passive = false
    @Option(help: "Next hop for IPv6 routes (needed over an IPv4 session).") var ipv6NextHop: String?
    @Option(help: "Next hop for IPv4 routes.") var ipv4NextHop: String?
    @Option(help: "Hold time to offer, seconds.") var hold: Int = 90
    @Option(help: "TTL for multihop eBGP.") var ttl: Int = 1
    @Flag(help: "GTSM: TTL 255 sent and required.") var ttlSecurity = false
    @Option(help: "Families to negotiate, comma separated.") var families: String = "ipv4,ipv6"
    @Option(help: "First reconnect wait, seconds.") var connectRetry: Double = 1
    @Option(help: "Withdraw everything after this long (for example 3s or 500ms).") var withdrawAfter: String?
    @Option(help: "RFC 9003 shutdown message sent on stop.") var shutdownMessage: String = "bgp-probe stopping"
    @Flag(help: "Print the UPDATEs for the routes as hex, one per line, and exit (no session).")
    var printUpdates = false
    @Flag(help: "Log at debug level on stderr.") var verbose = false

    func validate() throws {
        guard IPv4Address(routerId) != nil else {
            throw ValidationError("--router-id \(routerId): not an IPv4 address")
        }
        guard IPAddress(peer) != nil else { throw ValidationError("--peer \(peer): not an IP address") }
        if let local, IPAddress(local) == nil { throw ValidationError("--local \(local): not an IP address") }
        if let ipv6NextHop, IPv6Address(ipv6NextHop) == nil {
            throw ValidationError("--ipv6-next-hop \(ipv6NextHop): not an IPv6 address")
        }
        if let ipv4NextHop, IPv4Address(ipv4NextHop) == nil {
            throw ValidationError("--ipv4-next-hop \(ipv4NextHop): not an IPv4 address")
        }
        if let withdrawAfter, Self.duration(withdrawAfter) == nil {
            throw ValidationError("--withdraw-after \(withdrawAfter): use a number with s or ms")
        }
    }

    static func duration(_ text: String) -> Duration? {
        if text.hasSuffix("ms"), let value = Double(text.dropLast(2)) { return .milliseconds(value) }
        if text.hasSuffix("s"), let value = Double(text.dropLast()) { return .milliseconds(value * 1000) }
        return Double(text).map { .milliseconds($0 * 1000) }
    }

    func settings() throws -> BGPPeerSettings {
        var familySet = Set<AddressFamily>()
        for name in families.split(separator: ",") {
            guard let family = AddressFamily(rawValue: String(name)) else {
                throw ValidationError("--families: unknown family \(name) (ipv4, ipv6)")
            }
            familySet.insert(family)
        }
        return BGPPeerSettings(
            name: "probe", address: IPAddress(peer)!, port: port, asn: peerAs, localASN: localAs,
            routerId: IPv4Address(routerId)!, localAddress: local.flatMap { IPAddress($0) }, passive: passive,
            ttl: ttl, ttlSecurity: ttlSecurity, md5Password: md5, holdTime: hold, families: familySet,
            ipv4NextHop: ipv4NextHop.flatMap { IPv4Address($0) }, ipv6NextHop: ipv6NextHop.flatMap { IPv6Address($0) },
            connectRetrySeconds: connectRetry, maximumRetrySeconds: max(connectRetry, 30))
    }

    func prefixes() throws -> [IPPrefix] {
        try Self.parsePrefixes(routes) + (routesFile.map { try Self.readPrefixes(file: $0) } ?? [])
    }

    static func readPrefixes(file: String) throws -> [IPPrefix] {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        return try parsePrefixes(text.split(whereSeparator: \.isNewline).map(String.init))
    }

    static func parsePrefixes(_ lines: [String]) throws -> [IPPrefix] {
        try lines.compactMap { line in
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty || text.hasPrefix("#") { return nil }
            guard let prefix = IPPrefix(text), prefix.isCanonical else {
                throw ValidationError("route \(text): not a canonical prefix")
            }
            return prefix
        }
    }

    func attributes(localASN: UInt32) throws -> RouteAttributes {
        var communities: [Community] = []
        for text in community {
            let parts = text.split(separator: ":")
            guard parts.count == 2, let asn = UInt16(parts[0]), let value = UInt16(parts[1]) else {
                throw ValidationError("--community \(text): use ASN:VALUE with 16-bit numbers")
            }
            communities.append(Community(asn: asn, value: value))
        }
        var large: [LargeCommunity] = []
        for text in largeCommunity {
            let parts = text.split(separator: ":").compactMap { UInt32($0) }
            guard parts.count == 3 else { throw ValidationError("--large-community \(text): use A:B:C") }
            large.append(LargeCommunity(global: parts[0], local1: parts[1], local2: parts[2]))
        }
        // An unspecified next hop means "next hop self": the speaker fills in the session's address or
        // the configured next hop of the prefix's family.
        return RouteAttributes.external(
            localASN: localASN, prepend: prepend, nextHop: .v4(IPv4Address(0)), med: med, communities: communities,
            largeCommunities: large)
    }

    mutating func run() async throws {
        var logger = Logger(label: "bgp-probe")
        logger.logLevel = verbose ? .debug : .info
        let settings = try settings()
        let prefixList = try prefixes()
        let attributes = try attributes(localASN: localAs)
        var desired: [IPPrefix: RouteAttributes] = [:]
        for prefix in prefixList { desired[prefix] = attributes }

        if printUpdates {
            for hex in try BGPSpeaker.encodedUpdates(settings: settings, routes: desired) { print(hex) }
            return
        }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let speaker = BGPSpeaker(group: group, logger: logger)
        let output = Output()
        let events = speaker.events
        let eventTask = Task {
            for await event in events {
                switch event {
                case .stateChanged(_, _, let to, let reason):
                    output.line("state \(to.rawValue)" + (reason.map { " \($0)" } ?? ""))
                    if to == .established, let status = speaker.snapshot().first {
                        output.line("established \(status.inbound == true ? "inbound" : "outbound")")
                    }
                case .routeRefresh(_, let family):
                    output.line("refresh \(family.rawValue)")
                case .receivedPaths:
                    break  // the probe watches no own prefixes
                }
            }
        }
        speaker.setPeers([settings])
        speaker.setRoutes(peer: settings.name, desired)
        output.line("routes \(desired.count)")

        var message = shutdownMessage
        let withdrawAfter = withdrawAfter.flatMap { Self.duration($0) }
        let withdrawTask = Task { [desired] in
            guard let withdrawAfter else { return }
            try await Task.sleep(for: withdrawAfter)
            speaker.setRoutes(peer: settings.name, [:])
            output.line("withdrawn \(desired.count)")
        }

        for await line in ControlLines() {
            let words = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard let command = words.first else { continue }
            let argument = words.count > 1 ? words[1] : ""
            switch command {
            case "announce", "withdraw":
                guard let prefix = IPPrefix(argument), prefix.isCanonical else {
                    output.line("error \(command): \(argument) is not a canonical prefix")
                    continue
                }
                if command == "announce" { desired[prefix] = attributes } else { desired[prefix] = nil }
                speaker.setRoutes(peer: settings.name, desired)
                output.line("\(command == "announce" ? "announced" : "withdrawn") \(prefix)")
            case "load":
                // Replaces the announced set with the prefixes in a file (benchmarks).
                do {
                    let loaded = try Self.readPrefixes(file: argument)
                    desired = [:]
                    for prefix in loaded { desired[prefix] = attributes }
                    // The time the speaker is handed the routes, for benchmarks (file parsing excluded).
                    let handedAt = Int(Date().timeIntervalSince1970 * 1000)
                    speaker.setRoutes(peer: settings.name, desired)
                    output.line("loaded \(loaded.count) at_ms=\(handedAt)")
                } catch {
                    output.line("error load: \(error)")
                }
            case "status":
                output.line("status " + (speaker.snapshot().first.map(Self.json) ?? "{}"))
            case "shutdown":
                message = argument
            case "stop":
                break
            default:
                output.line("error unknown command \(command)")
                continue
            }
            if command == "stop" { break }
        }
        withdrawTask.cancel()
        await speaker.shutdown(message: message)
        eventTask.cancel()
        output.line("stopped")
        try await group.shutdownGracefully()
    }

    static func json(_ status: BGPPeerStatus) -> String {
        var object: [String: Any] = [
            "name": status.name, "address": status.address.description, "state": status.state.rawValue,
            "messagesIn": status.messagesIn, "messagesOut": status.messagesOut, "updatesIn": status.updatesIn,
            "updatesOut": status.updatesOut, "routeRefreshesIn": status.routeRefreshesIn,
            "establishedCount": status.establishedCount,
        ]
        if let value = status.lastErrorSent { object["lastErrorSent"] = value }
        if let value = status.lastErrorReceived { object["lastErrorReceived"] = value }
        if let value = status.lastFailure { object["lastFailure"] = value }
        if let value = status.inbound { object["inbound"] = value }
        var families: [String: Any] = [:]
        for (family, counters) in status.families {
            families[family.rawValue] = ["sent": counters.prefixesSent, "received": counters.prefixesReceived]
        }
        object["families"] = families
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

/// Serialised, flushed stdout lines (tests read them while the probe runs).
final class Output: Sendable {
    private let lock = NSLock()

    func line(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}

/// Control commands: stdin lines, then "stop" on SIGINT or SIGTERM. End of stdin does not stop the
/// probe (so `bgp-probe ... </dev/null` keeps its session until it is signalled).
struct ControlLines: AsyncSequence {
    typealias Element = String

    func makeAsyncIterator() -> AsyncStream<String>.Iterator {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        Thread.detachNewThread {
            while let line = readLine() { continuation.yield(line) }
        }
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield("stop") }
            source.resume()
            // Deliberately kept for the life of the process.
            _ = Unmanaged.passRetained(source as AnyObject)
        }
        return stream.makeAsyncIterator()
    }
}
