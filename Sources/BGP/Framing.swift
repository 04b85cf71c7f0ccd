// Splits a TCP byte stream into BGP messages and checks the common header, for the NIO
// ByteToMessageDecoder in BGPSession; Decoder.swift then decodes each frame.
// RFC 4271 §4.1 and §6.1 (Message Header Error handling).
import NIOCore

/// A decoding failure carrying exactly the NOTIFICATION (code, subcode, data) to send to the peer.
public struct BGPDecodeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The NOTIFICATION to send before closing the session.
    public var notification: NotificationMessage
    /// What was wrong, in words, for the log.
    public var reason: String

    public init(code: UInt8, subcode: UInt8, data: [UInt8] = [], reason: String) {
        self.notification = NotificationMessage(code: code, subcode: subcode, data: data)
        self.reason = reason
    }

    /// The NOTIFICATION error code.
    public var code: UInt8 { notification.code }
    /// The NOTIFICATION error subcode.
    public var subcode: UInt8 { notification.subcode }
    /// The NOTIFICATION data field.
    public var data: [UInt8] { notification.data }

    public var description: String { "\(reason) (sending \(notification))" }
}

/// Message framing: marker, length and type checks on the 19-byte header.
public enum BGPFraming {
    /// Removes and returns the next whole message (header included) from `buffer`, or returns nil and
    /// leaves `buffer` alone when more bytes are needed. Throws the Message Header Error to send for a
    /// bad marker (1/1), a length outside 19…4096 (1/2, data = the length field) or an unknown type (1/3).
    public static func nextMessage(in buffer: inout ByteBuffer) throws(BGPDecodeError) -> ByteBuffer? {
        guard buffer.readableBytes >= BGPConstants.headerLength,
            let header = buffer.getBytes(at: buffer.readerIndex, length: BGPConstants.headerLength)
        else { return nil }
        let length = try checkHeader(header)
        guard buffer.readableBytes >= length else { return nil }
        return buffer.readSlice(length: length)
    }

    /// Checks the first 19 bytes of a message and returns its length.
    static func checkHeader(_ header: [UInt8]) throws(BGPDecodeError) -> Int {
        for index in 0..<16 where header[index] != 0xFF {
            throw BGPDecodeError(
                code: 1, subcode: 1, reason: "message header: marker is not 16 bytes of 0xFF (byte \(index))")
        }
        let length = Int(header[16]) << 8 | Int(header[17])
        guard length >= BGPConstants.headerLength, length <= BGPConstants.maxMessageLength else {
            throw BGPDecodeError(
                code: 1, subcode: 2, data: [header[16], header[17]],
                reason: "message header: length \(length) is outside 19…4096")
        }
        let type = header[18]
        guard (1...5).contains(type) else {
            throw BGPDecodeError(
                code: 1, subcode: 3, data: [type], reason: "message header: unknown message type \(type)")
        }
        return length
    }
}
