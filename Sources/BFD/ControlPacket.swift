// The BFD Control packet (RFC 5880 §4.1) and its codec: 24 bytes, then with the A bit an authentication
// section (§4.4, Keyed SHA1 and Meticulous Keyed SHA1 only; Authentication.swift signs and checks it).
// Decoding applies every §6.8.6 discard rule that needs only the packet; the rules that need the session
// (discriminators, state, whether authentication is in use, sequence numbers) are BFDStateMachine's.
// The multipoint bit is reserved (RFC 5880 §4.1) and refused.
// RFC 5880 §4.1, §4.4, §6.8.6.

/// The session states as carried in the State field (RFC 5880 §4.1, §6.2).
public enum BFDState: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// Held down by the operator; no session is formed, packets say so to the peer.
    case adminDown = 0
    /// No session: the peer is absent, has not answered yet, or the session just failed.
    case down = 1
    /// The peer is heard (it said Down); waiting for it to hear us.
    case `init` = 2
    /// Both sides hear each other: the path is working.
    case up = 3

    public var description: String {
        switch self {
        case .adminDown: "AdminDown"
        case .down: "Down"
        case .`init`: "Init"
        case .up: "Up"
        }
    }
}

/// The Diagnostic field: why the sender's session last changed state (RFC 5880 §4.1). Values 9–31 are
/// reserved but are kept as received.
public struct BFDDiagnostic: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The 5-bit code (0–31).
    public var rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x1F }

    public static let none = BFDDiagnostic(rawValue: 0)
    public static let controlDetectionTimeExpired = BFDDiagnostic(rawValue: 1)
    public static let echoFunctionFailed = BFDDiagnostic(rawValue: 2)
    public static let neighborSignaledSessionDown = BFDDiagnostic(rawValue: 3)
    public static let forwardingPlaneReset = BFDDiagnostic(rawValue: 4)
    public static let pathDown = BFDDiagnostic(rawValue: 5)
    public static let concatenatedPathDown = BFDDiagnostic(rawValue: 6)
    public static let administrativelyDown = BFDDiagnostic(rawValue: 7)
    public static let reverseConcatenatedPathDown = BFDDiagnostic(rawValue: 8)

    public var description: String {
        switch rawValue {
        case 0: "No Diagnostic"
        case 1: "Control Detection Time Expired"
        case 2: "Echo Function Failed"
        case 3: "Neighbor Signaled Session Down"
        case 4: "Forwarding Plane Reset"
        case 5: "Path Down"
        case 6: "Concatenated Path Down"
        case 7: "Administratively Down"
        case 8: "Reverse Concatenated Path Down"
        default: "Diagnostic \(rawValue)"
        }
    }
}

/// One BFD Control packet. Intervals are in microseconds, as on the wire.
public struct BFDControlPacket: Hashable, Sendable {
    /// The length of an encoded packet without authentication.
    public static let length = 24
    /// The only version this codec speaks.
    public static let version: UInt8 = 1

    public var diagnostic: BFDDiagnostic
    public var state: BFDState
    /// P: the sender wants a packet with F back at once (a Poll Sequence, §6.5).
    public var poll: Bool
    /// F: the answer to a Poll.
    public var final: Bool
    /// C: the sender's BFD does not share fate with its control plane.
    public var controlPlaneIndependent: Bool
    /// D: the sender wants to run in Demand mode (the receiver may stop periodic packets).
    public var demand: Bool
    /// How many packets may be missed before the receiver of this packet declares the session down.
    public var detectMultiplier: UInt8
    /// The sender's discriminator (never 0).
    public var myDiscriminator: UInt32
    /// The receiver's discriminator as the sender knows it, or 0 when it knows none yet.
    public var yourDiscriminator: UInt32
    /// The interval at which the sender would like to send (zero is reserved).
    public var desiredMinTxMicroseconds: UInt32
    /// The fastest the sender wants to receive; 0 asks for no periodic packets at all.
    public var requiredMinRxMicroseconds: UInt32
    /// The fastest the sender wants to receive Echo packets; 0 means it does not support Echo.
    public var requiredMinEchoRxMicroseconds: UInt32
    /// The authentication section; present exactly when the A bit is set.
    public var authentication: BFDAuthenticationSection?

    public init(
        diagnostic: BFDDiagnostic = .none, state: BFDState, poll: Bool = false, final: Bool = false,
        controlPlaneIndependent: Bool = false, demand: Bool = false, detectMultiplier: UInt8,
        myDiscriminator: UInt32, yourDiscriminator: UInt32, desiredMinTxMicroseconds: UInt32,
        requiredMinRxMicroseconds: UInt32, requiredMinEchoRxMicroseconds: UInt32 = 0,
        authentication: BFDAuthenticationSection? = nil
    ) {
        self.diagnostic = diagnostic
        self.state = state
        self.poll = poll
        self.final = final
        self.controlPlaneIndependent = controlPlaneIndependent
        self.demand = demand
        self.detectMultiplier = detectMultiplier
        self.myDiscriminator = myDiscriminator
        self.yourDiscriminator = yourDiscriminator
        self.desiredMinTxMicroseconds = desiredMinTxMicroseconds
        self.requiredMinRxMicroseconds = requiredMinRxMicroseconds
        self.requiredMinEchoRxMicroseconds = requiredMinEchoRxMicroseconds
        self.authentication = authentication
    }
}

/// Why a received datagram is not a usable Control packet (RFC 5880 §6.8.6, rules on the packet alone).
public enum BFDDecodeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Fewer than 4 bytes: not even the header word.
    case truncated(count: Int)
    /// The Version field is not 1.
    case unsupportedVersion(UInt8)
    /// The Length field is below 24 (or below 26 with the A bit, which needs an authentication section).
    case lengthTooShort(length: UInt8, authenticationPresent: Bool)
    /// The Length field claims more bytes than the datagram holds.
    case lengthBeyondPayload(length: UInt8, payload: Int)
    /// Detect Mult is 0.
    case zeroDetectMultiplier
    /// The Multipoint bit is set (reserved for future point-to-multipoint use).
    case multipointSet
    /// My Discriminator is 0.
    case zeroMyDiscriminator
    /// The A bit is set with an Auth Type other than Keyed SHA1 (4) or Meticulous Keyed SHA1 (5).
    case authenticationTypeUnsupported(UInt8)
    /// The Auth Len field is not 28, or does not fit the packet's Length.
    case authenticationLengthInvalid(authLength: UInt8, length: UInt8)

    public var description: String {
        switch self {
        case .truncated(let count): "truncated: \(count) bytes"
        case .unsupportedVersion(let version): "version \(version), expected 1"
        case .lengthTooShort(let length, let auth):
            "length \(length) is below the minimum of \(auth ? 26 : 24)\(auth ? " with authentication" : "")"
        case .lengthBeyondPayload(let length, let payload): "length \(length) exceeds the \(payload)-byte datagram"
        case .zeroDetectMultiplier: "detect multiplier 0"
        case .multipointSet: "multipoint bit set"
        case .zeroMyDiscriminator: "my discriminator 0"
        case .authenticationTypeUnsupported(let type):
            "authentication type \(type) is not supported (only keyed SHA1, 4, and meticulous keyed SHA1, 5)"
        case .authenticationLengthInvalid(let authLength, let length):
            "authentication length \(authLength) in a \(length)-byte packet (SHA1 sections are 28 bytes)"
        }
    }
}

extension BFDControlPacket {
    private enum Flag {
        static let poll: UInt8 = 0x20
        static let final: UInt8 = 0x10
        static let controlPlaneIndependent: UInt8 = 0x08
        static let authenticationPresent: UInt8 = 0x04
        static let demand: UInt8 = 0x02
        static let multipoint: UInt8 = 0x01
    }

    /// The bytes on the wire: 24, plus the authentication section if any (version 1, M clear).
    public var encoded: [UInt8] {
        var flags = state.rawValue << 6
        if authentication != nil { flags |= Flag.authenticationPresent }
        if poll { flags |= Flag.poll }
        if final { flags |= Flag.final }
        if controlPlaneIndependent { flags |= Flag.controlPlaneIndependent }
        if demand { flags |= Flag.demand }
        let length = Self.length + (authentication == nil ? 0 : BFDAuthenticationSection.sha1Length)
        var bytes: [UInt8] = [Self.version << 5 | diagnostic.rawValue, flags, detectMultiplier, UInt8(length)]
        bytes.reserveCapacity(length)
        for word in [
            myDiscriminator, yourDiscriminator, desiredMinTxMicroseconds, requiredMinRxMicroseconds,
            requiredMinEchoRxMicroseconds,
        ] {
            bytes += [
                UInt8(word >> 24), UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 8),
                UInt8(truncatingIfNeeded: word),
            ]
        }
        if let authentication { bytes += authentication.encoded }
        return bytes
    }

    /// Decodes one datagram's payload. Bytes beyond the Length field are ignored.
    public init(decoding bytes: some Collection<UInt8>) throws(BFDDecodeError) {
        let bytes = Array(bytes)
        guard bytes.count >= 4 else { throw .truncated(count: bytes.count) }
        let version = bytes[0] >> 5
        guard version == Self.version else { throw .unsupportedVersion(version) }
        let flags = bytes[1]
        let authenticated = flags & Flag.authenticationPresent != 0
        let length = bytes[3]
        guard Int(length) >= (authenticated ? 26 : Self.length) else {
            throw .lengthTooShort(length: length, authenticationPresent: authenticated)
        }
        guard Int(length) <= bytes.count else { throw .lengthBeyondPayload(length: length, payload: bytes.count) }
        guard bytes[2] != 0 else { throw .zeroDetectMultiplier }
        guard flags & Flag.multipoint == 0 else { throw .multipointSet }
        func word(_ offset: Int) -> UInt32 {
            bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
        }
        guard word(4) != 0 else { throw .zeroMyDiscriminator }
        var authentication: BFDAuthenticationSection?
        if authenticated {
            guard let type = BFDAuthenticationType(rawValue: bytes[24]) else {
                throw .authenticationTypeUnsupported(bytes[24])
            }
            let authLength = bytes[25]
            guard Int(authLength) == BFDAuthenticationSection.sha1Length, Int(length) >= Self.length + Int(authLength)
            else { throw .authenticationLengthInvalid(authLength: authLength, length: length) }
            authentication = BFDAuthenticationSection(
                type: type, keyID: bytes[26], reserved: bytes[27], sequence: word(28), digest: Array(bytes[32..<52]))
        }
        self.init(
            diagnostic: BFDDiagnostic(rawValue: bytes[0]), state: BFDState(rawValue: flags >> 6)!,
            poll: flags & Flag.poll != 0, final: flags & Flag.final != 0,
            controlPlaneIndependent: flags & Flag.controlPlaneIndependent != 0, demand: flags & Flag.demand != 0,
            detectMultiplier: bytes[2], myDiscriminator: word(4), yourDiscriminator: word(8),
            desiredMinTxMicroseconds: word(12), requiredMinRxMicroseconds: word(16),
            requiredMinEchoRxMicroseconds: word(20), authentication: authentication)
    }
}
