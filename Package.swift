// swift-tools-version:6.0
// anycastd: a host agent for BGP anycast on Linux.
import PackageDescription

let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "anycastd",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "anycastd", targets: ["anycastd"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // libmnl and the rtnetlink headers; only Netlink imports it.
        .systemLibrary(name: "CMnl", pkgConfig: "libmnl", providers: [.apt(["libmnl-dev"])]),
        // Process-level calls Swift cannot make itself (prctl is variadic); used by Health's exec check.
        .target(name: "CProcess"),
        // The one runtime piece for loops that wait on descriptors: a thread, poll(2), wake and stop.
        .target(name: "Runtime", swiftSettings: strict),
        // IPv4/IPv6 addresses and prefixes shared by every module; pure.
        .target(name: "NetAddress", swiftSettings: strict),
        // rtnetlink value types (links, addresses, operations, events, errors); pure, no libmnl.
        .target(name: "NetlinkTypes", dependencies: ["NetAddress"], swiftSettings: strict),
        // Typed rtnetlink messages, dumps, batches and the monitor, over libmnl; re-exports NetlinkTypes.
        .target(
            name: "Netlink", dependencies: ["CMnl", "NetAddress", "NetlinkTypes", "Runtime"], swiftSettings: strict),
        // The desired-state file: strict JSON reader with positions, model, validation.
        .target(name: "Config", dependencies: ["NetAddress"], swiftSettings: strict),
        // BGP messages, codec and the session FSM as a value type; no sockets.
        .target(
            name: "BGP",
            dependencies: ["NetAddress", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        // libFuzzer target for the BGP decoder; see Tests/fuzz/run.sh.
        .executableTarget(
            name: "BGPFuzz", dependencies: ["BGP"], swiftSettings: strict
        ),
        // BFD Control packets and the session state machine as a value type (RFC 5880); no sockets.
        .target(name: "BFD", swiftSettings: strict),
        // The BFD I/O shell (RFC 5881 single hop): UDP sockets on a PollThread, TTL 255 filtered in the kernel; no NIO.
        .target(name: "BFDSession", dependencies: ["BFD", "NetAddress", "Runtime"], swiftSettings: strict),
        // BGP unnumbered's neighbor discovery: Router Advertisement codec and link decisions; pure.
        .target(name: "NeighborDiscovery", dependencies: ["NetAddress"], swiftSettings: strict),
        // Its I/O shell: a raw ICMPv6 socket per peer link on a PollThread.
        .target(
            name: "NeighborDiscoverySession", dependencies: ["NeighborDiscovery", "NetAddress", "Runtime"],
            swiftSettings: strict),
        // SwiftNIO TCP shell around the BGP FSM.
        .target(
            name: "BGPSession",
            dependencies: [
                "BGP", "NetAddress",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Health checks (DNS, TCP, exec) and the rise/fall state machine; plain sockets and posix_spawn on one
        // scheduler thread and a small fixed pool of workers (Runtime.PollThread), so no NIO.
        .target(
            name: "Health", dependencies: ["Config", "NetAddress", "CProcess", "Runtime"], swiftSettings: strict),
        // Benchmark: DNS check CPU cost and failure-detection latency against dnsmasq (Tests/bench/health-cpu.sh).
        .executableTarget(
            name: "health-bench", dependencies: ["Health", "Config", "NetAddress"], swiftSettings: strict),
        // Pure planner: desired vs observed state -> ordered netlink operations and announcements.
        .target(name: "Reconciler", dependencies: ["Config", "NetlinkTypes", "NetAddress"], swiftSettings: strict),
        // The agent's decisions as a value type (event + instant -> actions); no sockets, no clock, no libmnl.
        .target(
            name: "AgentCore", dependencies: ["Config", "NetAddress", "NetlinkTypes", "Reconciler"],
            swiftSettings: strict),
        // The actor that wires everything together, control socket, metrics endpoint, signals, lifecycle.
        .target(
            name: "Daemon",
            dependencies: [
                "AgentCore", "Config", "Netlink", "Reconciler", "BGP", "BGPSession", "BFD", "BFDSession", "Health",
                "NetAddress", "Runtime", "NeighborDiscovery", "NeighborDiscoverySession",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "anycastd",
            dependencies: [
                "Daemon", "Config", "Health",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Test tool: one BGP session to one router, routes from the command line, scripted on stdin.
        .executableTarget(
            name: "bgp-probe",
            dependencies: [
                "BGPSession", "BGP", "NetAddress",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Test tool: one BFD session to one router, scripted on stdin (Tests/interop/bfd.sh).
        .executableTarget(
            name: "bfd-probe",
            dependencies: [
                "BFDSession", "BFD", "NetAddress", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "NetAddressTests", dependencies: ["NetAddress"]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime"]),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "NetAddress", "CMnl"]),
        .testTarget(name: "ConfigTests", dependencies: ["Config"], resources: [.copy("Golden")]),
        .testTarget(name: "BGPTests", dependencies: ["BGP", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "BFDTests", dependencies: ["BFD"]),
        .testTarget(name: "NeighborDiscoveryTests", dependencies: ["NeighborDiscovery", "NetAddress"]),
        .testTarget(name: "BFDSessionTests", dependencies: ["BFDSession", "BFD", "NetAddress"]),
        .testTarget(
            name: "BGPSessionTests",
            dependencies: [
                "BGPSession", "BGP", "NetAddress",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "HealthTests", dependencies: ["Health", "Config", "NetAddress", "CProcess", "Runtime"]),
        .testTarget(name: "ReconcilerTests", dependencies: ["Reconciler", "NetlinkTypes", "Config", "NetAddress"]),
        .testTarget(
            name: "AgentCoreTests", dependencies: ["AgentCore", "Config", "NetAddress", "NetlinkTypes", "Reconciler"]),
        .testTarget(
            name: "DaemonTests", dependencies: ["Daemon", "AgentCore", "BFD", "BGP", "NetAddress", "NetlinkTypes"]),
    ],
    swiftLanguageModes: [.v6]
)
