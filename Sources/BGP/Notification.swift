// NOTIFICATION messages: codes, readable descriptions for logs and status, and the RFC 9003 shutdown
// communication carried by Cease/Administrative Shutdown and Cease/Administrative Reset.
// RFC 4271 §4.5/§6, RFC 4486 (Cease subcodes), RFC 9003, RFC 7313 (code 7), RFC 9687 (code 8).

/// A NOTIFICATION message: the last word before a session closes.
public struct NotificationMessage: Hashable, Sendable, CustomStringConvertible, Error {
    public var code: UInt8
    public var subcode: UInt8
    public var data: [UInt8]

    public init(code: UInt8, subcode: UInt8, data: [UInt8] = []) {
        self.code = code
        self.subcode = subcode
        self.data = data
    }

    /// Error codes (RFC 4271 §4.5 and later RFCs).
    public enum Code {
        public static let messageHeader: UInt8 = 1
        public static let open: UInt8 = 2
        public static let update: UInt8 = 3
        public static let holdTimerExpired: UInt8 = 4
        public static let fsm: UInt8 = 5
        public static let cease: UInt8 = 6
        public static let routeRefresh: UInt8 = 7
        public static let sendHoldTimerExpired: UInt8 = 8
    }

    /// Cease subcodes (RFC 4486, RFC 8538, RFC 9384).
    public enum CeaseSubcode {
        public static let maximumPrefixes: UInt8 = 1
        public static let administrativeShutdown: UInt8 = 2
        public static let peerDeconfigured: UInt8 = 3
        public static let administrativeReset: UInt8 = 4
        public static let connectionRejected: UInt8 = 5
        public static let otherConfigurationChange: UInt8 = 6
        public static let connectionCollisionResolution: UInt8 = 7
        public static let outOfResources: UInt8 = 8
        public static let hardReset: UInt8 = 9
        /// RFC 9384: the session's BFD session went down.
        public static let bfdDown: UInt8 = 10
    }

    /// Cease with an RFC 9003 shutdown communication, truncated on a character boundary to 255 bytes.
    public static func cease(subcode: UInt8, shutdownMessage: String? = nil) -> NotificationMessage {
        guard let shutdownMessage, !shutdownMessage.isEmpty,
            subcode == CeaseSubcode.administrativeShutdown || subcode == CeaseSubcode.administrativeReset
        else { return NotificationMessage(code: Code.cease, subcode: subcode) }
        var text = Substring(shutdownMessage)
        while text.utf8.count > 255 { text.removeLast() }
        return NotificationMessage(
            code: Code.cease, subcode: subcode, data: [UInt8(text.utf8.count)] + Array(text.utf8))
    }

    /// The RFC 9003 shutdown communication of a Cease 2 or 4, when present and well formed UTF-8.
    public var shutdownMessage: String? {
        guard code == Code.cease,
            subcode == CeaseSubcode.administrativeShutdown || subcode == CeaseSubcode.administrativeReset,
            let length = data.first, length > 0, data.count >= 1 + Int(length)
        else { return nil }
        let bytes = data[1...Int(length)]
        return String(validating: bytes, as: UTF8.self)
    }

    /// The error code in words.
    public var codeName: String {
        switch code {
        case Code.messageHeader: "Message Header Error"
        case Code.open: "OPEN Message Error"
        case Code.update: "UPDATE Message Error"
        case Code.holdTimerExpired: "Hold Timer Expired"
        case Code.fsm: "Finite State Machine Error"
        case Code.cease: "Cease"
        case Code.routeRefresh: "ROUTE-REFRESH Message Error"
        case Code.sendHoldTimerExpired: "Send Hold Timer Expired"
        default: "Error code \(code)"
        }
    }

    /// The subcode in words, or nil when it has no name (such as subcode 0, "unspecific").
    public var subcodeName: String? {
        let names: [UInt8: String]
        switch code {
        case Code.messageHeader:
            names = [1: "Connection Not Synchronized", 2: "Bad Message Length", 3: "Bad Message Type"]
        case Code.open:
            names = [
                1: "Unsupported Version Number", 2: "Bad Peer AS", 3: "Bad BGP Identifier",
                4: "Unsupported Optional Parameter", 6: "Unacceptable Hold Time", 7: "Unsupported Capability",
                11: "Role Mismatch",
            ]
        case Code.update:
            names = [
                1: "Malformed Attribute List", 2: "Unrecognized Well-known Attribute",
                3: "Missing Well-known Attribute", 4: "Attribute Flags Error", 5: "Attribute Length Error",
                6: "Invalid ORIGIN Attribute", 8: "Invalid NEXT_HOP Attribute", 9: "Optional Attribute Error",
                10: "Invalid Network Field", 11: "Malformed AS_PATH",
            ]
        case Code.fsm:
            names = [
                1: "Unexpected Message in OpenSent", 2: "Unexpected Message in OpenConfirm",
                3: "Unexpected Message in Established",
            ]
        case Code.cease:
            names = [
                1: "Maximum Number of Prefixes Reached", 2: "Administrative Shutdown", 3: "Peer De-configured",
                4: "Administrative Reset", 5: "Connection Rejected", 6: "Other Configuration Change",
                7: "Connection Collision Resolution", 8: "Out of Resources", 9: "Hard Reset",
                10: "BFD Down",
            ]
        case Code.routeRefresh:
            names = [1: "Invalid Message Length"]
        default:
            names = [:]
        }
        return names[subcode]
    }

    /// For logs: `Cease/Administrative Shutdown: "planned maintenance"`, or the data in hex.
    public var description: String {
        var text = codeName
        if let name = subcodeName {
            text += "/" + name
        } else if subcode != 0 {
            text += "/subcode \(subcode)"
        }
        if let message = shutdownMessage {
            text += ": \"" + message.unicodeScalars.map { $0.escaped(asASCII: false) }.joined() + "\""
        } else if !data.isEmpty {
            text += " (data " + hex(data.prefix(64)) + (data.count > 64 ? "…" : "") + ")"
        }
        return text
    }
}

/// Lower-case hex with no separators, for logs and error messages.
func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef")
    var text = ""
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0xF)])
    }
    return text
}
