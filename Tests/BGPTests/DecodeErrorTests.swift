// Every NOTIFICATION the decoder can ask for, one test each: header (RFC 4271 §6.1), OPEN (§6.2,
// RFC 5492, RFC 9072, RFC 6793), UPDATE resets that RFC 7606 keeps (§3g, §5.3, §7.11), ROUTE-REFRESH (RFC 7313).
import BGP
import NIOCore
import Testing

@Suite struct FramingTests {
    @Test func waitsForAWholeMessageAndSplitsAStream() throws {
        var buffer = ByteBuffer(bytes: bytes("M 0013 04 M 0017 02 0000 0000 FFFF"))
        let first = try BGPFraming.nextMessage(in: &buffer)
        #expect(first.map { Array($0.readableBytesView) } == bytes("M 0013 04"))
        let second = try BGPFraming.nextMessage(in: &buffer)
        #expect(second?.readableBytes == 23)
        #expect(try BGPFraming.nextMessage(in: &buffer) == nil)
        #expect(buffer.readableBytes == 2)
        var partial = ByteBuffer(bytes: bytes("M 0017 02 0000"))
        #expect(try BGPFraming.nextMessage(in: &partial) == nil)
        #expect(partial.readableBytes == 21)
    }

    func expectFramingError(_ input: [UInt8], code: UInt8, subcode: UInt8, data: [UInt8]) {
        var buffer = ByteBuffer(bytes: input)
        do {
            let message = try BGPFraming.nextMessage(in: &buffer)
            Issue.record("expected \(code)/\(subcode), framed \(String(describing: message))")
        } catch {
            #expect(error.notification == NotificationMessage(code: code, subcode: subcode, data: data))
        }
        expectDecodeError(input, code: code, subcode: subcode, data: data)
    }

    @Test func badMarkerIs1_1() {
        expectFramingError(bytes("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00 0013 04"), code: 1, subcode: 1, data: [])
    }

    @Test func shortLengthIs1_2WithTheLengthField() {
        expectFramingError(bytes("M 0012 04 00"), code: 1, subcode: 2, data: [0x00, 0x12])
    }

    @Test func longLengthIs1_2WithTheLengthField() {
        expectFramingError(
            bytes("M 1001 02") + [UInt8](repeating: 0, count: 4078), code: 1, subcode: 2, data: [0x10, 0x01])
    }

    @Test func unknownTypeIs1_3WithTheType() {
        expectFramingError(bytes("M 0013 06"), code: 1, subcode: 3, data: [6])
    }

    @Test func decodeRechecksTheFrame() {
        expectDecodeError(bytes("FFFF"), code: 1, subcode: 2, data: [0, 2])
        expectDecodeError(bytes("M 0014 04"), code: 1, subcode: 2, data: [0, 0x14])
    }

    @Test func perTypeMinimumLengthsAre1_2() {
        expectDecodeError(frame(type: 1, [4, 0, 1, 0, 90, 1, 1, 1]), code: 1, subcode: 2, data: [0, 27])
        expectDecodeError(frame(type: 2, [0, 0]), code: 1, subcode: 2, data: [0, 21])
        expectDecodeError(frame(type: 3, [6]), code: 1, subcode: 2, data: [0, 20])
        expectDecodeError(frame(type: 4, [0]), code: 1, subcode: 2, data: [0, 20])
    }

    @Test func routeRefreshOfWrongLengthIs7_1WithTheMessage() {
        let message = frame(type: 5, [0, 1, 0, 1, 0])
        expectDecodeError(message, code: 7, subcode: 1, data: message)
    }
}

@Suite struct OpenDecodeErrorTests {
    /// An OPEN body: version, AS, hold, id, then the optional parameters as given (length included).
    func open(
        version: UInt8 = 4, myAS: UInt16 = 65002, hold: UInt16 = 90, id: [UInt8] = [192, 0, 2, 1], params: [UInt8]
    )
        -> [UInt8]
    {
        frame(
            type: 1,
            [version, UInt8(myAS >> 8), UInt8(myAS & 0xFF), UInt8(hold >> 8), UInt8(hold & 0xFF)] + id + params)
    }

    @Test func unsupportedVersionIs2_1WithVersion4() {
        expectDecodeError(open(version: 3, params: [0]), code: 2, subcode: 1, data: [0, 4])
    }

    @Test func zeroASIs2_2() {
        expectDecodeError(open(myAS: 0, params: [0]), code: 2, subcode: 2)
        expectDecodeError(open(params: bytes("08 02 06 41 04 00000000")), code: 2, subcode: 2)
    }

    @Test func zeroIdentifierIs2_3() {
        expectDecodeError(open(id: [0, 0, 0, 0], params: [0]), code: 2, subcode: 3)
    }

    @Test func holdTimeOneOrTwoIs2_6() {
        expectDecodeError(open(hold: 1, params: [0]), code: 2, subcode: 6)
        expectDecodeError(open(hold: 2, params: [0]), code: 2, subcode: 6)
    }

    @Test func holdTimeZeroAndThreeAreAccepted() throws {
        #expect(throws: Never.self) { try BGPMessage.decode(bytes: open(hold: 0, params: [0]), context: as4) }
        #expect(throws: Never.self) { try BGPMessage.decode(bytes: open(hold: 3, params: [0]), context: as4) }
    }

    @Test func unsupportedOptionalParameterIs2_4() {
        expectDecodeError(open(params: bytes("03 01 01 00")), code: 2, subcode: 4)
    }

    @Test func parameterOverrunIs2_0() {
        expectDecodeError(open(params: bytes("03 02 05 00")), code: 2, subcode: 0)
    }

    @Test func capabilityOverrunIs2_0() {
        expectDecodeError(open(params: bytes("04 02 02 41 04")), code: 2, subcode: 0)
    }

    @Test func parametersLengthMismatchIs1_2() {
        expectDecodeError(open(params: bytes("05 02 02 02 00")), code: 1, subcode: 2, data: [0, 33])
    }

    @Test func truncatedExtendedLengthIs1_2() {
        expectDecodeError(open(params: bytes("FF FF 00")), code: 1, subcode: 2, data: [0, 31])
    }

    @Test func capabilitiesSpreadOverParametersAndUnknownOnesAreKept() throws {
        let message = open(params: bytes("14 02 06 01 04 0002 00 01 02 02 40 00 02 06 41 04 0000FDEA"))
        let decoded = try BGPMessage.decode(bytes: message, context: as4)
        guard case .open(let open) = decoded.message else {
            Issue.record("not an OPEN")
            return
        }
        #expect(
            open.capabilities == [.multiprotocol(.ipv6Unicast), .unknown(code: 64, value: []), .fourOctetAS(65002)])
        #expect(open.families == [.ipv6Unicast])
    }

    @Test func extendedOptionalParametersRFC9072() throws {
        // Non-Ext OP Len 255, Non-Ext OP Type 255, Ext OP Len 0x000B, one parameter with a 2-byte length.
        let message = open(params: bytes("FF FF 000B 02 0008 02 00 41 04 0000FDEA"))
        let decoded = try BGPMessage.decode(bytes: message, context: as4)
        guard case .open(let open) = decoded.message else {
            Issue.record("not an OPEN")
            return
        }
        #expect(open.capabilities == [.routeRefresh, .fourOctetAS(65002)])
        #expect(open.families == [.ipv4Unicast])  // no MP capability: IPv4 unicast implicit
    }
}

@Suite struct UpdateDecodeErrorTests {
    let origin = bytes("40010100")
    let asPath = bytes("4002060201 0000FDF2")
    let nextHop = bytes("4003040A000001")

    @Test func withdrawnLengthOverrunIs3_1() {
        expectDecodeError(frame(type: 2, bytes("0010 20C0 0002 0000")), code: 3, subcode: 1)
    }

    @Test func noRoomForAttributeLengthIs3_1() {
        expectDecodeError(frame(type: 2, bytes("0002 18C00002")), code: 3, subcode: 1)
    }

    @Test func totalAttributeLengthOverrunIs3_1() {
        expectDecodeError(frame(type: 2, bytes("0000 0020 40010100")), code: 3, subcode: 1)
    }

    @Test func badPrefixLengthInWithdrawnIs3_10() {
        expectDecodeError(updateFrame(withdrawn: bytes("21 C0000201 00"), attributes: []), code: 3, subcode: 10)
    }

    @Test func prefixOverrunningNLRIIs3_10() {
        expectDecodeError(
            updateFrame(attributes: origin + asPath + nextHop, nlri: bytes("20 C00002")), code: 3, subcode: 10)
    }

    @Test func repeatedMPReachIs3_1() {
        let unreach = bytes("800F03 000201")
        expectDecodeError(updateFrame(attributes: unreach + unreach), code: 3, subcode: 1)
    }

    @Test func unrecognizedWellKnownIs3_2WithTheAttribute() {
        expectDecodeError(
            updateFrame(attributes: origin + bytes("40 63 02 ABCD")), code: 3, subcode: 2, data: bytes("4063 02 ABCD"))
    }

    @Test func malformedMPReachIs3_9() {
        // Too short for AFI/SAFI.
        expectDecodeError(
            updateFrame(attributes: bytes("800E02 0002")), code: 3, subcode: 9, data: bytes("800E02 0002"))
        // Next hop length runs past the attribute.
        expectDecodeError(updateFrame(attributes: bytes("800E05 000201 10 20")), code: 3, subcode: 9)
        // A 4-byte next hop for IPv6.
        expectDecodeError(updateFrame(attributes: bytes("800E0A 000201 04 0A000001 00 00")), code: 3, subcode: 9)
    }

    @Test func malformedMPNLRIIs3_10() {
        let reach = bytes("800E16 000201 10 20010DB8000000000000000000000001 00 81")
        expectDecodeError(updateFrame(attributes: reach), code: 3, subcode: 10)
        expectDecodeError(updateFrame(attributes: bytes("800F05 000201 8001")), code: 3, subcode: 10)
    }
}
