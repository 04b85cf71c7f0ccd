import FoundationEssentials
import Logging
import NIOCore
import NIOPosix

// The control socket: a Unix stream socket (mode 0660: root and the service's group) speaking one JSON
// request line and one JSON response line per connection. `anycastd status|drain|undrain|restart` are its
// clients.
// Clients are bounded like scrapers (see `ControlServer.Limits`): a cap on open connections (above it a
// connection is accepted and closed at once), a request line of at most 64 KiB, and a timeout by which the
// request must have arrived and the answer been taken.
#if canImport(Glibc)
    import Glibc
#endif

/// A command sent to the running daemon.
public struct ControlRequest: Codable, Sendable, Equatable {
    public enum Command: String, Codable, Sendable { case status, drain, undrain, restart }
    public var command: Command
    /// Services to drain or undrain; empty means the whole host (and, for undrain, every service too).
    public var services: [String]

    public init(command: Command, services: [String] = []) {
        self.command = command
        self.services = services
    }
}

/// The daemon's answer.
public struct ControlResponse: Codable, Sendable, Equatable {
    public var ok: Bool
    public var message: String?
    public var status: StatusSnapshot?

    public init(ok: Bool, message: String? = nil, status: StatusSnapshot? = nil) {
        self.ok = ok
        self.message = message
        self.status = status
    }
}

/// Serves the control socket on its own event loop.
public final class ControlServer: Sendable {
    public typealias Handler = @Sendable (ControlRequest) async -> ControlResponse

    /// What one client may hold.
    public struct Limits: Sendable {
        /// Connections open at once; more are accepted and closed at once.
        public var maxConnections = 32
        /// The request line must arrive, and the answer be taken, within this time of connecting.
        public var timeout: TimeAmount = .seconds(5)
        /// The request line, newline included; a longer one is answered with an error and the connection closed.
        public var maxRequestBytes = 65536

        public init() {}
    }

    private let channel: any Channel
    private let gate: ConnectionGate
    public let path: String

    /// Binds the socket (replacing a stale one) and makes it reachable for root and the group only. Refused
    /// connections are logged as warnings on `logger`.
    public static func start(
        path: String, group: any EventLoopGroup, limits: Limits = Limits(), logger: Logger? = nil,
        handler: @escaping Handler
    ) async throws -> ControlServer {
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        try? FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        let gate = ConnectionGate(limit: limits.maxConnections)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelInitializer { channel in
                // Out of descriptors (EMFILE), accepting is retried a second later instead of at once, for ever.
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        AcceptBackoffHandler(shouldForwardIOErrorCaught: false))
                }
            }
            .childChannelInitializer { channel in
                guard gate.admit(channel) else {
                    logger?.warning(
                        "control socket \(path): refused a connection: \(limits.maxConnections) connections open (the limit)"
                    )
                    return channel.eventLoop.makeFailedFuture(
                        ConnectionRefused(endpoint: path, limit: limits.maxConnections))
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ControlConnectionHandler(handler: handler, limits: limits))
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        guard chmod(path, 0o660) == 0 else {
            try? await channel.close()
            throw DaemonError("\(path): cannot restrict the control socket: \(String(cString: strerror(errno)))")
        }
        return ControlServer(channel: channel, gate: gate, path: path)
    }

    private init(channel: any Channel, gate: ConnectionGate, path: String) {
        self.channel = channel
        self.gate = gate
        self.path = path
    }

    /// Connections open now, and refused since start.
    public var connections: (open: Int, refused: Int) { (gate.current, gate.refused) }

    public func stop() async {
        try? await channel.close()
        unlink(path)
    }
}

/// Reads one line, answers it, closes. A client that has not sent its line, or not taken the answer, when
/// the timer fires is closed.
private final class ControlConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var buffer = ByteBuffer()
    private var answered = false
    private let handler: ControlServer.Handler
    private let limits: ControlServer.Limits
    private var timer: Scheduled<Void>?

    init(handler: @escaping ControlServer.Handler, limits: ControlServer.Limits) {
        self.handler = handler
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startTimer(context.channel) }
    }

    func channelActive(context: ChannelHandlerContext) {
        startTimer(context.channel)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { timer?.cancel() }

    private func startTimer(_ channel: any Channel) {
        timer?.cancel()
        timer = channel.eventLoop.scheduleTask(in: limits.timeout) { channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        let channel = context.channel
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes >= limits.maxRequestBytes {
                answered = true
                buffer = ByteBuffer()
                send(
                    ControlResponse(ok: false, message: "request line over \(limits.maxRequestBytes) bytes"),
                    on: channel)
            }
            return
        }
        answered = true
        // Answering is the agent's time, not the client's; the timer starts again with the answer.
        timer?.cancel()
        let line = buffer.readableBytesView[..<newline]
        let request = try? JSONDecoder().decode(ControlRequest.self, from: Data(line))
        buffer = ByteBuffer()
        let handler = self.handler
        let promise = context.eventLoop.makePromise(of: ControlResponse.self)
        promise.completeWithTask {
            guard let request else { return ControlResponse(ok: false, message: "malformed request") }
            return await handler(request)
        }
        promise.futureResult.assumeIsolated().whenSuccess { response in self.send(response, on: channel) }
    }

    /// Writes the answer and closes; a client that does not take it within the timeout is closed anyway.
    private func send(_ response: ControlResponse, on channel: any Channel) {
        startTimer(channel)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var bytes = (try? encoder.encode(response)) ?? Data("{\"ok\":false}".utf8)
        bytes.append(UInt8(ascii: "\n"))
        channel.writeAndFlush(channel.allocator.buffer(bytes: bytes)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}

/// The client side, for the CLI: blocking and simple.
public enum ControlClient {
    /// Sends a request and waits for the answer; throws when the daemon cannot be reached.
    public static func send(_ request: ControlRequest, to path: String, timeout: Duration = .seconds(10)) throws
        -> ControlResponse
    {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw DaemonError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var seconds = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &seconds, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw DaemonError("\(path): control socket path too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in pathBytes.enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let reason =
                errno == ENOENT || errno == ECONNREFUSED ? "is anycastd running?" : String(cString: strerror(errno))
            throw DaemonError("\(path): cannot reach the daemon: \(reason)")
        }
        var line = try JSONEncoder().encode(request)
        line.append(UInt8(ascii: "\n"))
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else { throw DaemonError("\(path): cannot send the request") }
        var answer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 {
                throw DaemonError("\(path): no answer from the daemon: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            answer += chunk[0..<count]
        }
        do {
            return try JSONDecoder().decode(ControlResponse.self, from: Data(answer))
        } catch {
            throw DaemonError("\(path): unreadable answer from the daemon")
        }
    }
}
