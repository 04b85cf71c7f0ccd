// The Control packet codec: byte vectors built by hand from the RFC 5880 §4.1 layout, decoded field by
// field and encoded back, and one decode error for each §6.8.6 rule that needs only the packet.
import BFD
import Testing

private func zeros(_ count: Int) -> String { String(repeating: "00", count: count) }

@Suite struct ControlPacketTests {
    /// What FRR sends while Down: version 1, no diagnostic, state Down, no flags, multiplier 3, length 24,
    /// 1 s desired TX and required RX, 50 ms echo.
    @Test func decodesFRRDownPacket() throws {
        let wire = bytes("20 40 03 18  1234ABCD  00000000  000F4240  000F4240  0000C350")
        let packet = try BFDControlPacket(decoding: wire)
        #expect(packet.diagnostic == .none)
        #expect(packet.state == .down)
        #expect(!packet.poll && !packet.final && !packet.controlPlaneIndependent && !packet.demand)
        #expect(packet.detectMultiplier == 3)
        #expect(packet.myDiscriminator == 0x1234_ABCD)
        #expect(packet.yourDiscriminator == 0)
        #expect(packet.desiredMinTxMicroseconds == 1_000_000)
        #expect(packet.requiredMinRxMicroseconds == 1_000_000)
        #expect(packet.requiredMinEchoRxMicroseconds == 50_000)
        #expect(packet.encoded == wire)
    }

    /// Byte 0 = version 1 (001) | diag 3 (00011) = 0x23; byte 1 = Up (11) | P | C = 0xC0|0x20|0x08 = 0xE8.
    @Test func encodesUpWithPollAndControlPlaneIndependent() throws {
        let packet = BFDControlPacket(
            diagnostic: .neighborSignaledSessionDown, state: .up, poll: true, controlPlaneIndependent: true,
            detectMultiplier: 5, myDiscriminator: 1, yourDiscriminator: 0xDEAD_BEEF, desiredMinTxMicroseconds: 100_000,
            requiredMinRxMicroseconds: 10_000)
        let wire = bytes("23 E8 05 18  00000001  DEADBEEF  000186A0  00002710  00000000")
        #expect(packet.encoded == wire)
        #expect(try BFDControlPacket(decoding: wire) == packet)
    }

    /// Byte 0 = 0x20 | diag 7 = 0x27; byte 1 = AdminDown (00) | F 0x10 | D 0x02 = 0x12.
    @Test func encodesAdminDownWithFinalAndDemand() throws {
        let packet = BFDControlPacket(
            diagnostic: .administrativelyDown, state: .adminDown, final: true, demand: true, detectMultiplier: 1,
            myDiscriminator: 0xFFFF_FFFF, yourDiscriminator: 0x0102_0304, desiredMinTxMicroseconds: 0xFFFF_FFFF,
            requiredMinRxMicroseconds: 0, requiredMinEchoRxMicroseconds: 7)
        let wire = bytes("27 12 01 18  FFFFFFFF  01020304  FFFFFFFF  00000000  00000007")
        #expect(packet.encoded == wire)
        let decoded = try BFDControlPacket(decoding: wire)
        #expect(decoded.state == .adminDown && decoded.diagnostic == .administrativelyDown)
        #expect(decoded.final && decoded.demand && !decoded.poll && !decoded.controlPlaneIndependent)
        #expect(decoded == packet)
    }

    @Test func everyStateAndReservedDiagnosticRoundTrips() throws {
        for state in BFDState.allCases {
            let packet = BFDControlPacket(
                diagnostic: BFDDiagnostic(rawValue: 31), state: state, detectMultiplier: 3, myDiscriminator: 9,
                yourDiscriminator: 0, desiredMinTxMicroseconds: 1, requiredMinRxMicroseconds: 1)
            #expect(packet.encoded[1] >> 6 == state.rawValue)
            #expect(packet.encoded[0] == 0x3F)
            #expect(try BFDControlPacket(decoding: packet.encoded) == packet)
        }
    }

    @Test func ignoresBytesBeyondTheLengthField() throws {
        let wire = bytes("20 C0 03 18  00000001  00000002  000186A0  000186A0  00000000  AABBCCDD")
        let packet = try BFDControlPacket(decoding: wire)
        #expect(packet.state == .up && packet.yourDiscriminator == 2)
    }

    @Test func decodeErrors() {
        let good = "20 40 03 18  00000001  00000000  000F4240  000F4240  00000000"
        expectError(bytes("20 40 03"), .truncated(count: 3))
        expectError([], .truncated(count: 0))
        expectError(bytes("00 40 03 18  00000001  00000000  000F4240  000F4240  00000000"), .unsupportedVersion(0))
        expectError(bytes("40 40 03 18  00000001  00000000  000F4240  000F4240  00000000"), .unsupportedVersion(2))
        expectError(
            bytes("20 40 03 17  00000001  00000000  000F4240  000F4240  00000000"),
            .lengthTooShort(length: 23, authenticationPresent: false))
        // A bit (0x04) needs room for an authentication section: 24 is too short.
        expectError(
            bytes("20 44 03 18  00000001  00000000  000F4240  000F4240  00000000"),
            .lengthTooShort(length: 24, authenticationPresent: true))
        expectError(
            bytes("20 40 03 19  00000001  00000000  000F4240  000F4240  00000000"),
            .lengthBeyondPayload(length: 25, payload: 24))
        expectError(Array(bytes(good).prefix(20)), .lengthBeyondPayload(length: 24, payload: 20))
        expectError(
            bytes("20 40 00 18  00000001  00000000  000F4240  000F4240  00000000"), .zeroDetectMultiplier)
        expectError(bytes("20 41 03 18  00000001  00000000  000F4240  000F4240  00000000"), .multipointSet)
        expectError(bytes("20 40 03 18  00000000  00000000  000F4240  000F4240  00000000"), .zeroMyDiscriminator)
        // A bit with a (simple password, type 1) authentication section of 2 bytes: well formed, unsupported.
        expectError(
            bytes("20 44 03 1A  00000001  00000000  000F4240  000F4240  00000000  0102"),
            .authenticationTypeUnsupported(1))
        // Meticulous Keyed SHA1 with an Auth Len of 24, and one whose section does not fit the Length.
        expectError(
            bytes("20 44 03 34  00000001  00000000  000F4240  000F4240  00000000  05180100" + zeros(24)),
            .authenticationLengthInvalid(authLength: 24, length: 52))
        expectError(
            bytes("20 44 03 30  00000001  00000000  000F4240  000F4240  00000000  051C0100" + zeros(24)),
            .authenticationLengthInvalid(authLength: 28, length: 48))
        #expect((try? BFDControlPacket(decoding: bytes(good))) != nil)
    }

    @Test func authenticationErrorNamesTheType() {
        #expect(BFDDecodeError.authenticationTypeUnsupported(2).description.contains("type 2 is not supported"))
    }

    // MARK: Authentication (RFC 5880 §4.4, §6.7.4). The hashes were computed independently with Python's
    // hashlib.sha1 over the packet with the key zero-padded to 20 bytes in the hash's place.

    /// Meticulous Keyed SHA1, key ID 1, sequence 16, key "secret", state Up, 100 ms.
    static let meticulousWire =
        "20 C4 03 34  11223344  55667788  000186A0  000186A0  00000000  05 1C 01 00  00000010"
        + "ed8f4d0c2e4b95343e40d8eb30fa862ddc6b055b"

    @Test func signsMeticulousKeyedSHA1() throws {
        let packet = BFDControlPacket(
            state: .up, detectMultiplier: 3, myDiscriminator: 0x1122_3344, yourDiscriminator: 0x5566_7788,
            desiredMinTxMicroseconds: 100_000, requiredMinRxMicroseconds: 100_000)
        let auth = try #require(BFDAuthentication(type: .meticulousKeyedSHA1, keyID: 1, key: Array("secret".utf8)))
        let signed = auth.sign(packet, sequence: 16)
        #expect(signed.encoded == bytes(Self.meticulousWire))
        let decoded = try BFDControlPacket(decoding: bytes(Self.meticulousWire))
        #expect(decoded == signed)
        #expect(decoded.authentication?.type == .meticulousKeyedSHA1 && decoded.authentication?.sequence == 16)
        #expect(auth.verifies(decoded))
        // Another key, a changed bit anywhere, or a changed sequence number fail.
        #expect(!BFDAuthentication(type: .meticulousKeyedSHA1, keyID: 1, key: Array("secreT".utf8))!.verifies(decoded))
        var flipped = decoded
        flipped.state = .adminDown
        #expect(!auth.verifies(flipped))
        flipped = decoded
        flipped.authentication!.sequence += 1
        #expect(!auth.verifies(flipped))
    }

    /// Keyed SHA1 with a full 20-byte key, key ID 7, sequence 0xAABBCCDD.
    @Test func signsKeyedSHA1WithATwentyByteKey() throws {
        let wire = bytes(
            "20 C4 03 34  11223344  55667788  000186A0  000186A0  00000000  04 1C 07 00  AABBCCDD"
                + "53ea1681c1fd240123430a51f2cc57bfe82b086b")
        let auth = try #require(
            BFDAuthentication(type: .keyedSHA1, keyID: 7, key: Array("0123456789abcdefghij".utf8)))
        let decoded = try BFDControlPacket(decoding: wire)
        #expect(auth.verifies(decoded))
        var plain = decoded
        plain.authentication = nil
        #expect(auth.sign(plain, sequence: 0xAABB_CCDD).encoded == wire)
        #expect(BFDAuthentication(type: .keyedSHA1, keyID: 7, key: Array(repeating: 0x41, count: 21)) == nil)
        #expect(BFDAuthentication(type: .keyedSHA1, keyID: 7, key: []) == nil)
        #expect(!auth.description.contains("0123"))
    }

    @Test func sha1KnownAnswers() {
        #expect(sha1(Array("abc".utf8)) == bytes("a9993e364706816aba3e25717850c26c9cd0d89d"))
        #expect(sha1([]) == bytes("da39a3ee5e6b4b0d3255bfef95601890afd80709"))
        #expect(sha1(Array(repeating: 0x61, count: 1000)) == bytes("291e9a6c66994949b57ba5e650361e98fc36b1ba"))
    }

    private func expectError(
        _ wire: [UInt8], _ expected: BFDDecodeError, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(throws: expected, sourceLocation: sourceLocation) { try BFDControlPacket(decoding: wire) }
    }
}
