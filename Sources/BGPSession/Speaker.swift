// BGPSpeaker: the daemon's entry point to BGP. It owns one PeerController per configured neighbor and the
// listening sockets, all confined to one EventLoop; the public methods may be called from anywhere and
// hop onto that loop. Status is mirrored into a lock-protected table so `snapshot()` never waits.
import BGP
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NetAddress

/// Runs BGP sessions to a set of peers and announces to each exactly the routes it is given.
public final class BGPSpeaker: Sendable {
    private let eventLoop: any EventLoop
    private let core: NIOLoopBoundBox<SpeakerCore>
    private let statusTable: NIOLockedValueBox<[String: BGPPeerStatus]>
    private let listeningTable: NIOLockedValueBox<Set<String>>
    private let continuation: AsyncStream<BGPPeerEvent>.Continuation

    /// State changes and route refresh requests of every peer, in order. One consumer.
    public let events: AsyncStream<BGPPeerEvent>

    /// Creates a speaker on one EventLoop of `group`; nothing happens until `setPeers`. It listens on
    /// `listenPort` (179; tests use others) of each peer's local address, or of `::` when a peer has none.
    public init(group: any EventLoopGroup, logger: Logger, listenPort: Int = 179) {
        let eventLoop = group.next()
        let statusTable = NIOLockedValueBox<[String: BGPPeerStatus]>([:])
        let listeningTable = NIOLockedValueBox<Set<String>>([])
        self.listeningTable = listeningTable
        let (events, continuation) = AsyncStream.makeStream(of: BGPPeerEvent.self)
        self.eventLoop = eventLoop
        self.statusTable = statusTable
        self.events = events
        self.continuation = continuation
        // Handed to the loop as it is created: from here on only the loop touches it.
        self.core = NIOLoopBoundBox.makeBoxSendingValue(
            SpeakerCore(
                eventLoop: eventLoop, logger: logger, listenPort: listenPort,
                publish: { status in statusTable.withLockedValue { $0[status.name] = status } },
                remove: { name in _ = statusTable.withLockedValue { $0.removeValue(forKey: name) } },
                emit: { event in continuation.yield(event) },
                listening: { addresses in listeningTable.withLockedValue { $0 = addresses } }),
            eventLoop: eventLoop)
    }

    /// Replaces the set of peers: new ones start, gone ones get their routes withdrawn and Cease/3
    /// (peer de-configured), and only peers whose session settings changed are reset with Cease/6.
    public func setPeers(_ peers: [BGPPeerSettings]) {
        let core = self.core
        eventLoop.execute { core.value.setPeers(peers) }
    }

    /// Sets the full desired route set for one peer; only the difference goes out, and the whole set is
    /// sent again after every reconnect. Unknown peer names are logged and ignored.
    public func setRoutes(peer: String, _ routes: [IPPrefix: RouteAttributes]) {
        let core = self.core
        eventLoop.execute { core.value.setRoutes(peer: peer, routes) }
    }

    /// Graceful Restart (RFC 4724), restarting side: the OPENs sent from now on carry the R bit when `restarted`
    /// (the agent came back after leaving its sessions without a NOTIFICATION). Call it before `setPeers`.
    public func setRestarted(_ restarted: Bool) {
        let core = self.core
        eventLoop.execute { core.value.restarted = restarted }
    }

    /// Until this is called, sessions that negotiated Graceful Restart get their routes but no End-of-RIB
    /// (RFC 4724 §4.1); then the markers held back go out, later sessions get them at once, and the R bit
    /// is cleared.
    public func finishRestart() {
        let core = self.core
        eventLoop.execute { core.value.finishRestart() }
    }

    /// Tells the speaker that the BFD session to `peer` (a configured name) went down: an established or
    /// establishing session is closed with Cease/BFD Down (RFC 9384) and started over.
    public func bfdDown(peer: String) {
        let core = self.core
        eventLoop.execute { core.value.bfdDown(peer: peer) }
    }

    /// Withdraws everything, sends NOTIFICATION Cease/Administrative Shutdown with `message` (RFC 9003)
    /// to every peer, closes all connections and listeners, and returns once they are closed.
    public func shutdown(message: String) async {
        let core = self.core
        let done = eventLoop.flatSubmit { core.value.shutdown(message: message) }
        _ = try? await done.get()
        continuation.finish()
    }

    /// The local addresses with a bound listening socket now.
    public var listening: Set<String> { listeningTable.withLockedValue { $0 } }

    /// The current status of every peer, sorted by name.
    public func snapshot() -> [BGPPeerStatus] {
        statusTable.withLockedValue { Array($0.values) }.sorted { $0.name < $1.name }
    }

    /// The UPDATEs (hex, header included) this speaker would send to a freshly established peer with
    /// `settings` for `routes`, End-of-RIB markers included: for encoder tests against other decoders.
    public static func encodedUpdates(
        settings: BGPPeerSettings,
        routes: [IPPrefix: RouteAttributes]
    ) throws -> [String] {
        try PeerController.initialUpdates(settings: settings, routes: routes).map { message in
            try BGPMessage.update(message).encoded(context: CodecContext(fourOctetAS: true)).map {
                String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16)
            }.joined().uppercased()
        }
    }
}

/// Everything the speaker owns; lives on one EventLoop.
final class SpeakerCore {
    let eventLoop: any EventLoop
    let logger: Logger
    let listenPort: Int
    let publish: @Sendable (BGPPeerStatus) -> Void
    let remove: @Sendable (String) -> Void
    let emit: @Sendable (BGPPeerEvent) -> Void
    let listening: @Sendable (Set<String>) -> Void
    private var peers: [String: PeerController] = [:]
    private var listeners: [String: BGPListener] = [:] {
        didSet { listening(Set(listeners.keys)) }
    }
    private var pendingListeners: Set<String> = []
    /// The R bit of the Graceful Restart capability in the OPENs sent (see `BGPSpeaker.setRestarted`).
    var restarted = false
    /// True until `finishRestart`: Graceful Restart sessions get no End-of-RIB yet.
    private(set) var holdingEndOfRIB = true
    private var nextConnectionID = 0
    private var stopping = false
    private var refusals = RefusalLog()
    private let clockOrigin = ContinuousClock.now

    init(
        eventLoop: any EventLoop,
        logger: Logger,
        listenPort: Int,
        publish: @escaping @Sendable (BGPPeerStatus) -> Void,
        remove: @escaping @Sendable (String) -> Void,
        emit: @escaping @Sendable (BGPPeerEvent) -> Void,
        listening: @escaping @Sendable (Set<String>) -> Void = { _ in }
    ) {
        self.eventLoop = eventLoop
        self.logger = logger
        self.listenPort = listenPort
        self.publish = publish
        self.remove = remove
        self.emit = emit
        self.listening = listening
    }

    func makeConnectionID() -> Int {
        nextConnectionID += 1
        return nextConnectionID
    }

    func setPeers(_ wanted: [BGPPeerSettings]) {
        guard !stopping else { return }
        let wantedByName = Dictionary(wanted.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
        for (name, controller) in peers where wantedByName[name] == nil {
            logger.info("peer \(name): removed from the configuration")
            peers[name] = nil
            let settings = controller.settings
            // The closure keeps the controller alive until its connections are closed (its handlers
            // only hold it weakly).
            controller.stop(.deconfigured).assumeIsolated().whenComplete { _ in
                withExtendedLifetime(controller) {}
                self.remove(name)
                self.updateMD5Keys(removing: settings)
            }
        }
        for settings in wanted {
            if let controller = peers[settings.name] {
                guard controller.settings != settings else { continue }
                let reset = controller.settings.needsReset(comparedTo: settings)
                let old = controller.settings
                controller.reconfigure(settings)
                if reset {
                    logger.info("peer \(settings.name): session settings changed, resetting")
                    updateMD5Keys(removing: old)
                    updateMD5Keys()
                    controller.reset()
                }
                continue
            }
            logger.info("peer \(settings.name): added (\(settings))")
            let controller = PeerController(settings: settings, core: self)
            peers[settings.name] = controller
            controller.start()
        }
        updateListeners()
        updateMD5Keys()
    }

    func finishRestart() {
        guard holdingEndOfRIB || restarted else { return }
        holdingEndOfRIB = false
        restarted = false
        for controller in peers.values { controller.restartFinished() }
    }

    func bfdDown(peer: String) {
        guard !stopping, let controller = peers[peer] else { return }
        controller.bfdDown()
    }

    func setRoutes(peer: String, _ routes: [IPPrefix: RouteAttributes]) {
        guard let controller = peers[peer] else {
            logger.warning("setRoutes: no peer named \(peer)")
            return
        }
        controller.setRoutes(routes)
    }

    func shutdown(message: String) -> EventLoopFuture<Void> {
        stopping = true
        let stops = peers.values.map { $0.stop(.shutdown(message)) }
        // A peer that never closes its side must not hold up the daemon's exit: 5 s at most.
        let allStopped = eventLoop.makePromise(of: Void.self)
        let fulfilled = NIOLoopBoundBox(false, eventLoop: eventLoop)
        let finish: @Sendable () -> Void = {
            guard !fulfilled.value else { return }
            fulfilled.value = true
            allStopped.succeed()
        }
        let timeout = eventLoop.scheduleTask(in: .seconds(5)) { finish() }
        EventLoopFuture.andAllComplete(stops, on: eventLoop).whenComplete { _ in
            timeout.cancel()
            finish()
        }
        return allStopped.futureResult.assumeIsolated().flatMap {
            let closes = self.listeners.values.map { $0.close() }
            self.listeners = [:]
            return EventLoopFuture.andAllComplete(closes, on: self.eventLoop)
        }.nonisolated()
    }

    // MARK: listening

    /// The local addresses to listen on: each peer's local address, or one dual-stack wildcard when a
    /// peer has none (a wildcard and specific listeners on one port would collide).
    private func listenAddresses() -> Set<String> {
        if peers.values.contains(where: { $0.settings.localAddress == nil }) { return ["::"] }
        return Set(peers.values.compactMap { $0.settings.localAddress?.description })
    }

    private func updateListeners() {
        let wanted = listenAddresses()
        for (address, listener) in listeners where !wanted.contains(address) {
            listeners[address] = nil
            listener.close().whenComplete { _ in }
        }
        for address in wanted where listeners[address] == nil && !pendingListeners.contains(address) {
            guard let host = IPAddress(address) else { continue }
            pendingListeners.insert(address)
            let bound = NIOLoopBound(self, eventLoop: eventLoop)
            BGPListener.bind(on: eventLoop, host: host, port: listenPort) { channel in
                bound.value.accept(channel)
            }.assumeIsolated().whenComplete { result in
                self.pendingListeners.remove(address)
                switch result {
                case .success(let listener):
                    if self.stopping || !self.listenAddresses().contains(address) {
                        listener.close().whenComplete { _ in }
                        return
                    }
                    self.listeners[address] = listener
                    self.logger.info("listening on [\(address)]:\(self.listenPort)")
                    self.updateMD5Keys()
                case .failure(let error):
                    self.logger.error(
                        "cannot listen on [\(address)]:\(self.listenPort): \(error); peers there must be reached by connecting out"
                    )
                    for peer in self.peers.values where peer.settings.localAddress?.description == address {
                        peer.noteFailure("cannot listen on [\(address)]:\(self.listenPort): \(error)")
                    }
                }
            }
        }
    }

    /// Puts every peer's MD5 key on every listener that can see it; `removing` deletes one peer's key.
    private func updateMD5Keys(removing: BGPPeerSettings? = nil) {
        for (address, listener) in listeners {
            if let removing, removing.md5Password != nil {
                listener.setMD5(peer: removing.address, password: nil).whenFailure { _ in }
                continue
            }
            for peer in peers.values {
                let settings = peer.settings
                guard let password = settings.md5Password else { continue }
                if let local = settings.localAddress, local.description != address { continue }
                listener.setMD5(peer: settings.address, password: password).assumeIsolated().whenFailure { error in
                    self.logger.error("peer \(settings.name): listening socket: \(error)")
                    peer.noteFailure("\(error)")
                }
            }
        }
    }

    /// Routes an accepted connection to the peer it comes from; anything else is closed at once.
    private func accept(_ channel: any Channel) -> EventLoopFuture<Void> {
        guard !stopping, let remote = channel.remoteAddress?.ipAddress else { return channel.close() }
        let local = channel.localAddress?.ipAddress
        let match = peers.values.first { peer in
            peer.settings.address == remote
                && (peer.settings.localAddress == nil || peer.settings.localAddress == local)
        }
        guard let match else {
            // A flood of connections must cost an accept and a close each: one line per source per 10 s.
            if case .log(let suppressed) = refusals.refused(remote, now: ContinuousClock.now - clockOrigin) {
                let more = suppressed > 0 ? " (\(suppressed) more refused since the last line)" : ""
                logger.notice("closing connection from \(remote): not a configured peer\(more)")
            }
            return channel.close()
        }
        return match.acceptInbound(channel)
    }
}
