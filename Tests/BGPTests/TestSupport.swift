// Helpers shared by the BGP tests: hex byte vectors and quick message builders.
import BGP
import NetAddress
import Testing

/// Bytes from hex text; spaces are ignored and `M` stands for the 16-byte 0xFF marker.
func bytes(_ text: String) -> [UInt8] {
    var digits: [Character] = []
    for character in text where !character.isWhitespace {
        if character == "M" {
            digits += Array(String(repeating: "FF", count: 16))
        } else {
            digits.append(character)
        }
    }
    precondition(digits.count % 2 == 0, "odd hex string")
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// ASCII text as bytes.
func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A whole message from a type and body: marker, correct length, type.
func frame(type: UInt8, _ body: [UInt8]) -> [UInt8] {
    let length = 19 + body.count
    return [UInt8](repeating: 0xFF, count: 16) + [UInt8(length >> 8), UInt8(length & 0xFF), type] + body
}

/// An UPDATE from its three sections.
func updateFrame(withdrawn: [UInt8] = [], attributes: [UInt8], nlri: [UInt8] = []) -> [UInt8] {
    frame(
        type: 2,
        [UInt8(withdrawn.count >> 8), UInt8(withdrawn.count & 0xFF)] + withdrawn
            + [UInt8(attributes.count >> 8), UInt8(attributes.count & 0xFF)] + attributes + nlri)
}

func prefix(_ text: String) -> IPPrefix { IPPrefix(text)! }
func v4(_ text: String) -> IPv4Address { IPv4Address(text)! }
func v6(_ text: String) -> IPv6Address { IPv6Address(text)! }

let as4 = CodecContext(fourOctetAS: true)
let as2 = CodecContext(fourOctetAS: false)

/// Decodes and expects a particular NOTIFICATION error.
func expectDecodeError(
    _ message: [UInt8], context: CodecContext = as4, code: UInt8, subcode: UInt8, data: [UInt8]? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    do {
        let decoded = try BGPMessage.decode(bytes: message, context: context)
        Issue.record("expected NOTIFICATION \(code)/\(subcode), decoded \(decoded)", sourceLocation: sourceLocation)
    } catch {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(error.subcode == subcode, "\(error)", sourceLocation: sourceLocation)
        if let data { #expect(error.data == data, "\(error)", sourceLocation: sourceLocation) }
    }
}

/// Decodes an UPDATE that must not reset the session.
func decodeUpdate(
    _ message: [UInt8], context: CodecContext = as4, sourceLocation: SourceLocation = #_sourceLocation
) throws -> (UpdateMessage, UpdateDisposition) {
    let decoded = try BGPMessage.decode(bytes: message, context: context)
    guard case .update(let update) = decoded.message else {
        Issue.record("not an UPDATE: \(decoded.message)", sourceLocation: sourceLocation)
        return (UpdateMessage(), decoded.disposition)
    }
    return (update, decoded.disposition)
}

extension UpdateDisposition {
    var isTreatAsWithdraw: Bool { if case .treatAsWithdraw = self { true } else { false } }
}
