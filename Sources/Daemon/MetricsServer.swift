// The `metrics.listen` endpoint: a small HTTP/1.1 server (SwiftNIO's HTTP codec) answering
// GET /metrics with the Prometheus text of the current status snapshot. Keep-alive and pipelined
// requests are answered in order; anything but GET or HEAD gets 405, other paths 404.
//
// A scraper must never be able to hurt the agent, so every connection is bounded (see `Limits`): at most
// one response is in flight and nothing more is read until the kernel took all of it, so a client that
// pipelines requests and never reads holds one response, not a million; a connection that does not send
// a whole request, or does not read its answer, within the timeout is closed; request heads and bodies
// have a size limit (400 and 413, then close); connections above the cap are accepted and closed at once.
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// Serves `/metrics` on one IP:PORT until stopped.
public final class MetricsServer: Sendable {
    /// Produces the exposition text for one scrape.
    public typealias Source = @Sendable () async -> String

    /// What one scraper may hold.
    public struct Limits: Sendable {
        /// Connections open at once; more are accepted and closed at once.
        public var maxConnections = 64
        /// A connection is closed when a request is not complete, or a response not taken by the client,
        /// this long after the connection opened or the previous response was taken.
        public var timeout: TimeAmount = .seconds(5)
        /// Request line and header fields together; above it the answer is 400 and the connection closes.
        public var maxHeaderBytes = 16384
        /// Header fields per request; above it the answer is 400 and the connection closes.
        public var maxHeaderFields = 100
        /// Request body (ignored anyway); above it the answer is 413 and the connection closes.
        public var maxBodyBytes = 65536

        public init() {}
    }

    private let channel: any Channel
    private let gate: ConnectionGate
    /// The address as configured ("127.0.0.1:9477", "[::1]:9477").
    public let listen: String

    /// Binds `listen` (IP:PORT, IPv6 in brackets) and starts answering. Refused connections are logged
    /// as warnings on `logger`.
    public static func start(
        listen: String, group: any EventLoopGroup, limits: Limits = Limits(), logger: Logger? = nil,
        source: @escaping Source
    ) async throws -> MetricsServer {
        guard let (host, port) = split(listen) else {
            throw DaemonError("metrics.listen \(listen): expected IP:PORT")
        }
        let gate = ConnectionGate(limit: limits.maxConnections)
        let decoderLimits = {
            var decoderLimits = NIOHTTPDecoderLimitConfiguration()
            decoderLimits.maxHeaderFieldSize = limits.maxHeaderBytes
            decoderLimits.maxHeaderListSize = limits.maxHeaderBytes
            decoderLimits.maxHeaderFieldCount = limits.maxHeaderFields
            return decoderLimits
        }()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                // Out of descriptors (EMFILE), accepting is retried a second later instead of at once, for ever.
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        AcceptBackoffHandler(shouldForwardIOErrorCaught: false))
                }
            }
            .childChannelInitializer { channel in
                guard gate.admit(channel) else {
                    let from = channel.remoteAddress.map { " from \($0.ipAddress ?? "?") port \($0.port ?? 0)" } ?? ""
                    logger?.warning(
                        "metrics \(listen): refused a connection\(from): \(limits.maxConnections) connections open (the limit)"
                    )
                    return channel.eventLoop.makeFailedFuture(
                        ConnectionRefused(endpoint: listen, limit: limits.maxConnections))
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withErrorHandling: true, withEncoderConfiguration: .init(),
                        withDecoderLimitConfiguration: decoderLimits)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(source: source, limits: limits))
                }
            }
            .bind(host: host, port: port).get()
        return MetricsServer(channel: channel, gate: gate, listen: listen)
    }

    /// Connections open now, and refused since start.
    public var connections: (open: Int, refused: Int) { (gate.current, gate.refused) }

    /// The port actually bound (useful when `listen` asked for port 0).
    public var port: Int? { channel.localAddress?.port }

    private init(channel: any Channel, gate: ConnectionGate, listen: String) {
        self.channel = channel
        self.gate = gate
        self.listen = listen
    }

    public func stop() async {
        try? await channel.close()
    }

    static func split(_ listen: String) -> (host: String, port: Int)? {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        var host = String(listen[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        return (host, port)
    }
}

/// One HTTP connection. Request bodies are ignored (the pipeline's error handler answers malformed HTTP with
/// 400; this handler then closes). NIO's pipelining handler hands over the next request only once the
/// previous response's end was written, and this handler writes the end only once the kernel took the
/// body: so one response at most waits in memory, and a client that does not read is closed by the timer.
private final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private let source: MetricsServer.Source
    private let limits: MetricsServer.Limits
    private var head: HTTPRequestHead?
    private var bodyBytes = 0
    /// True once the connection is to be closed (413 sent, or closing): nothing more is answered.
    private var finished = false
    private var timer: Scheduled<Void>?

    init(source: @escaping MetricsServer.Source, limits: MetricsServer.Limits) {
        self.source = source
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
        stopTimer()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { stopTimer() }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A parse error was answered with 400 by the error handler before us; the connection cannot go on.
        finished = true
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            bodyBytes = 0
            let declared = head.headers.first(name: "Content-Length").flatMap { Int($0) } ?? 0
            if declared > limits.maxBodyBytes { refuseTooLarge(head, channel: context.channel) }
        case .body(let part):
            bodyBytes += part.readableBytes
            if bodyBytes > limits.maxBodyBytes, let head { refuseTooLarge(head, channel: context.channel) }
        case .end:
            guard let head else { return }
            self.head = nil
            answer(head, channel: context.channel)
        }
    }

    /// (Re)starts the one timer: whatever the connection waits for (a request, or the client taking a
    /// response) must happen before it fires.
    private func startTimer(_ channel: any Channel) {
        timer?.cancel()
        timer = channel.eventLoop.scheduleTask(in: limits.timeout) { channel.close(promise: nil) }
    }

    private func stopTimer() {
        timer?.cancel()
        timer = nil
    }

    private func refuseTooLarge(_ head: HTTPRequestHead, channel: any Channel) {
        finished = true
        self.head = nil
        respond(
            channel, version: head.version, keepAlive: false, status: .payloadTooLarge,
            body: "request body over \(limits.maxBodyBytes) bytes\n", omitBody: false)
    }

    private func answer(_ head: HTTPRequestHead, channel: any Channel) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let keepAlive = head.isKeepAlive
        let version = head.version
        let isHead = head.method == .HEAD
        // Making the answer is the agent's time, not the client's; the timer starts again with the response.
        stopTimer()
        guard head.method == .GET || isHead else {
            respond(
                channel, version: version, keepAlive: keepAlive, status: .methodNotAllowed,
                extraHeaders: [("Allow", "GET, HEAD")], body: "only GET and HEAD\n", omitBody: false)
            return
        }
        switch path {
        case "/metrics":
            let source = self.source
            let promise = channel.eventLoop.makePromise(of: String.self)
            promise.completeWithTask { await source() }
            promise.futureResult.assumeIsolated().whenSuccess { text in
                self.respond(
                    channel, version: version, keepAlive: keepAlive, status: .ok,
                    contentType: "text/plain; version=0.0.4; charset=utf-8", body: text, omitBody: isHead)
            }
        case "/":
            respond(
                channel, version: version, keepAlive: keepAlive, status: .ok,
                body: "anycastd: metrics at /metrics\n", omitBody: isHead)
        default:
            respond(
                channel, version: version, keepAlive: keepAlive, status: .notFound, body: "not found; try /metrics\n",
                omitBody: isHead)
        }
    }

    /// Writes head and body, and the end (which lets the next pipelined request in) only once the kernel
    /// took them; then waits for the next request, or closes.
    private func respond(
        _ channel: any Channel, version: HTTPVersion, keepAlive: Bool, status: HTTPResponseStatus,
        contentType: String = "text/plain; charset=utf-8", extraHeaders: [(String, String)] = [], body: String,
        omitBody: Bool
    ) {
        guard channel.isActive else { return }
        // The client must take the response within the timeout.
        startTimer(channel)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        for (name, value) in extraHeaders { headers.add(name: name, value: value) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let response = HTTPResponseHead(version: version, status: status, headers: headers)
        channel.write(HTTPServerResponsePart.head(response), promise: nil)
        let written: EventLoopFuture<Void>
        if omitBody {
            written = channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer())))
        } else {
            written = channel.writeAndFlush(
                HTTPServerResponsePart.body(.byteBuffer(channel.allocator.buffer(string: body))))
        }
        written.assumeIsolated().whenComplete { result in
            guard case .success = result, channel.isActive else {
                channel.close(promise: nil)
                return
            }
            channel.writeAndFlush(HTTPServerResponsePart.end(nil)).assumeIsolated().whenComplete { _ in
                if !keepAlive || self.finished {
                    self.finished = true
                    channel.close(promise: nil)
                } else {
                    self.startTimer(channel)
                }
            }
        }
    }
}
