// The channel handler of one BGP TCP connection: decodes each frame from BGPFrameDecoder with the
// session's negotiated CodecContext, hands messages to its PeerController, encodes and writes what the
// controller sends, and turns any decode error into the NOTIFICATION it carries followed by a close, so
// a malformed message never takes the process down. Runs on the speaker's EventLoop like its owner.
import BGP
import Logging
import NIOCore

/// Callbacks from one connection to the peer that owns it; all run on the speaker's EventLoop.
protocol BGPConnectionOwner: AnyObject {
    func connectionActive(_ connection: BGPConnectionHandler)
    func connection(_ connection: BGPConnectionHandler, received message: DecodedMessage)
    func connection(_ connection: BGPConnectionHandler, failedToDecode error: BGPDecodeError)
    func connection(_ connection: BGPConnectionHandler, closedWith error: (any Error)?)
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

    /// Encodes and writes messages, flushing once at the end. Returns the number written.
    @discardableResult
    func send(_ messages: [BGPMessage]) -> Int {
        guard let context, !closing else { return 0 }
        var written = 0
        for message in messages {
            do {
                var buffer = context.channel.allocator.buffer(capacity: 64)
                try message.encode(into: &buffer, context: codec)
                context.write(Self.wrapOutboundOut(buffer), promise: nil)
                written += 1
            } catch {
                // A message we cannot encode is a bug on our side; never put it on the wire.
                logger.error("connection \(id): not sending \(message.typeName): \(error)")
            }
        }
        if written > 0 { context.flush() }
        return written
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
        context.close(promise: nil)
    }

    private func reportClosed() {
        guard !reportedClose else { return }
        reportedClose = true
        closing = true
        owner?.connection(self, closedWith: closeError)
    }
}
