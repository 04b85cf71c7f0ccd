// The channel handler of one BGP TCP connection: decodes each frame from BGPFrameDecoder with the
// session's negotiated CodecContext, hands messages to its PeerController, encodes and writes what the
// controller sends, and turns any decode error into the NOTIFICATION it carries followed by a close, so
// a malformed message never takes the process down. Writes respect the channel's writability: while the
// peer does not read, messages wait in a queue here (the controller bounds what it sends: the route
// differences and at most one refresh per family). The owner hears `sendWaiting true` while written
// messages wait for the socket with no progress, and `false` on each progress: that runs the send hold
// timer (RFC 9687). Runs on the speaker's EventLoop like its owner.
import BGP
import Logging
import NIOCore

/// Callbacks from one connection to the peer that owns it; all run on the speaker's EventLoop.
protocol BGPConnectionOwner: AnyObject {
    func connectionActive(_ connection: BGPConnectionHandler)
    func connection(_ connection: BGPConnectionHandler, received message: DecodedMessage)
    func connection(_ connection: BGPConnectionHandler, failedToDecode error: BGPDecodeError)
    func connection(_ connection: BGPConnectionHandler, closedWith error: (any Error)?)
    /// Messages wait for the socket (true), or the socket took some (false; true follows at once when
    /// more still wait, so each progress restarts the send hold timer).
    func connection(_ connection: BGPConnectionHandler, sendWaiting: Bool)
}

final class BGPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Distinguishes connections in logs and in collision handling.
    let id: Int
    /// True when the peer connected to us.
    let inbound: Bool
    weak var owner: (any BGPConnectionOwner)?
    /// How messages are read and written; the controller updates it once OPENs are exchanged.
    var codec: CodecContext
    private(set) var channel: (any Channel)?
    private var context: ChannelHandlerContext?
    private var closing = false
    private var reportedActive = false
    private var reportedClose = false
    private var closeError: (any Error)?
    /// Encoded messages waiting for the channel to become writable, with the callback of the last
    /// message of a `send` that asked for one.
    private var pending = CircularBuffer<(ByteBuffer, (() -> Void)?)>()
    /// Bytes in `pending`.
    private(set) var pendingBytes = 0
    /// Writes handed to the channel and not yet taken by the socket.
    private var outstanding = 0
    let logger: Logger

    init(id: Int, inbound: Bool, codec: CodecContext, logger: Logger) {
        self.id = id
        self.inbound = inbound
        self.codec = codec
        self.logger = logger
    }

    /// The remote and local addresses, once connected.
    var remoteAddress: SocketAddress? { channel?.remoteAddress }
    var localAddress: SocketAddress? { channel?.localAddress }
    var isOpen: Bool { context != nil && !closing }
    /// True once a close (or a NOTIFICATION followed by a close) is under way.
    var isClosing: Bool { closing }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.channel = context.channel
        if context.channel.isActive { reportActive() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        reportClosed()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        reportActive()
        context.fireChannelActive()
    }

    /// Accepted channels are already active when the handler is added; report them once either way.
    private func reportActive() {
        guard !reportedActive else { return }
        reportedActive = true
        owner?.connectionActive(self)
    }

    func channelInactive(context: ChannelHandlerContext) {
        reportClosed()
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { writePending(context) }
        context.fireChannelWritabilityChanged()
    }

    /// Writes queued messages until the channel stops taking more.
    private func writePending(_ context: ChannelHandlerContext) {
        var wrote = false
        while context.channel.isWritable, let (buffer, written) = pending.popFirst() {
            pendingBytes -= buffer.readableBytes
            write(buffer, written, context)
            wrote = true
        }
        if wrote { context.flush() }
    }

    private func write(_ buffer: ByteBuffer, _ written: (() -> Void)?, _ context: ChannelHandlerContext) {
        let promise = context.eventLoop.makePromise(of: Void.self)
        outstanding += 1
        if outstanding == 1, !closing { owner?.connection(self, sendWaiting: true) }
        promise.futureResult.assumeIsolated().whenComplete { _ in
            self.outstanding -= 1
            written?()
            guard !self.closing else { return }
            self.owner?.connection(self, sendWaiting: false)
            if self.outstanding > 0 { self.owner?.connection(self, sendWaiting: true) }
        }
        context.write(Self.wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let frame = Self.unwrapInboundIn(data)
        do {
            let decoded = try BGPMessage.decode(frame: frame, context: codec)
            owner?.connection(self, received: decoded)
        } catch {
            owner?.connection(self, failedToDecode: error)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let decodeError = error as? BGPDecodeError {
            owner?.connection(self, failedToDecode: decodeError)
            return
        }
        if case .some(ByteToMessageDecoderError.dataReceivedInErrorState(let inner, _)) =
            error as? ByteToMessageDecoderError
        {
            // Already reported when the decoder first failed.
            _ = inner
            return
        }
        closeError = error
        logger.debug("connection \(id): \(error)")
        context.close(promise: nil)
    }

    /// Encodes and writes messages, flushing once at the end; while the channel is not writable they
    /// wait in order. `written` runs once the last of them is written to the socket (or the connection
    /// ends). Returns the number accepted.
    @discardableResult
    func send(_ messages: [BGPMessage], written: (() -> Void)? = nil) -> Int {
        guard let context, !closing else {
            written?()
            return 0
        }
        var buffers: [ByteBuffer] = []
        for message in messages {
            do {
                var buffer = context.channel.allocator.buffer(capacity: 64)
                try message.encode(into: &buffer, context: codec)
                buffers.append(buffer)
            } catch {
                // A message we cannot encode is a bug on our side; never put it on the wire.
                logger.error("connection \(id): not sending \(message.typeName): \(error)")
            }
        }
        guard !buffers.isEmpty else {
            written?()
            return 0
        }
        var wrote = false
        for (index, buffer) in buffers.enumerated() {
            let callback = index == buffers.count - 1 ? written : nil
            if pending.isEmpty && context.channel.isWritable {
                write(buffer, callback, context)
                wrote = true
            } else {
                pending.append((buffer, callback))
                pendingBytes += buffer.readableBytes
            }
        }
        if wrote { context.flush() }
        return buffers.count
    }

    /// Drops the queued messages (the connection is ending), running their callbacks.
    private func dropPending() {
        while let (_, written) = pending.popFirst() { written?() }
        pendingBytes = 0
    }

    /// Sends a NOTIFICATION and closes once it is written (or after 2 s if the peer does not read).
    func sendNotificationAndClose(_ notification: NotificationMessage) {
        guard let context, !closing else { return }
        var buffer = context.channel.allocator.buffer(capacity: 64)
        do {
            try BGPMessage.notification(notification).encode(into: &buffer, context: codec)
        } catch {
            close()
            return
        }
        closing = true
        dropPending()
        let channel = context.channel
        // Closing a socket with unread input makes the kernel send a reset, which can destroy the
        // NOTIFICATION before the peer reads it. So: send it, half-close (FIN after the data), keep
        // reading and discarding until the peer closes too, and close outright after 2 s at the latest.
        let timeout = channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
        channel.closeFuture.whenComplete { _ in timeout.cancel() }
        context.writeAndFlush(Self.wrapOutboundOut(buffer)).whenComplete { result in
            if case .failure = result {
                channel.close(promise: nil)
                return
            }
            channel.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
        }
    }

    /// Closes at once without a message.
    func close() {
        guard let context else { return }
        closing = true
        dropPending()
        context.close(promise: nil)
    }

    private func reportClosed() {
        guard !reportedClose else { return }
        reportedClose = true
        closing = true
        dropPending()
        owner?.connection(self, closedWith: closeError)
    }
}
