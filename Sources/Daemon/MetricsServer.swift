// The `metrics.listen` endpoint: a small HTTP/1.1 server (SwiftNIO's HTTP codec) answering
// GET /metrics with the Prometheus text of the current status snapshot. Keep-alive and pipelined
// requests are answered in order; anything but GET or HEAD gets 405, other paths 404.
import NIOCore
import NIOHTTP1
import NIOPosix

/// Serves `/metrics` on one IP:PORT until stopped.
public final class MetricsServer: Sendable {
    /// Produces the exposition text for one scrape.
    public typealias Source = @Sendable () async -> String
    private let channel: any Channel
    /// The address as configured ("127.0.0.1:9477", "[::1]:9477").
    public let listen: String

    /// Binds `listen` (IP:PORT, IPv6 in brackets) and starts answering.
    public static func start(listen: String, group: any EventLoopGroup, source: @escaping Source) async throws
        -> MetricsServer
    {
        guard let (host, port) = split(listen) else {
            throw DaemonError("metrics.listen \(listen): expected IP:PORT")
        }
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(source: source))
                }
            }
            .bind(host: host, port: port).get()
        return MetricsServer(channel: channel, listen: listen)
    }

    /// The port actually bound (useful when `listen` asked for port 0).
    public var port: Int? { channel.localAddress?.port }

    private init(channel: any Channel, listen: String) {
        self.channel = channel
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

/// One HTTP connection. Requests bodies are ignored (the pipeline's error handler answers malformed HTTP).
private final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private let source: MetricsServer.Source
    private var head: HTTPRequestHead?

    init(source: @escaping MetricsServer.Source) { self.source = source }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            answer(head, channel: context.channel)
        }
    }

    private func answer(_ head: HTTPRequestHead, channel: any Channel) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let keepAlive = head.isKeepAlive
        let version = head.version
        let isHead = head.method == .HEAD
        guard head.method == .GET || isHead else {
            Self.respond(
                channel, version: version, keepAlive: keepAlive, status: .methodNotAllowed,
                extraHeaders: [("Allow", "GET, HEAD")], body: "only GET and HEAD\n", omitBody: false)
            return
        }
        switch path {
        case "/metrics":
            let source = self.source
            let promise = channel.eventLoop.makePromise(of: String.self)
            promise.completeWithTask { await source() }
            promise.futureResult.whenSuccess { text in
                Self.respond(
                    channel, version: version, keepAlive: keepAlive, status: .ok,
                    contentType: "text/plain; version=0.0.4; charset=utf-8", body: text, omitBody: isHead)
            }
        case "/":
            Self.respond(
                channel, version: version, keepAlive: keepAlive, status: .ok,
                body: "anycastd: metrics at /metrics\n", omitBody: isHead)
        default:
            Self.respond(
                channel, version: version, keepAlive: keepAlive, status: .notFound, body: "not found; try /metrics\n",
                omitBody: isHead)
        }
    }

    private static func respond(
        _ channel: any Channel, version: HTTPVersion, keepAlive: Bool, status: HTTPResponseStatus,
        contentType: String = "text/plain; charset=utf-8", extraHeaders: [(String, String)] = [], body: String,
        omitBody: Bool
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        for (name, value) in extraHeaders { headers.add(name: name, value: value) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let response = HTTPResponseHead(version: version, status: status, headers: headers)
        channel.write(HTTPServerResponsePart.head(response), promise: nil)
        if !omitBody {
            channel.write(
                HTTPServerResponsePart.body(.byteBuffer(channel.allocator.buffer(string: body))), promise: nil)
        }
        channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}
