// The codec's round-trip property, shared by the fuzz target (Sources/BGPFuzz) and the unit tests that
// replay its corpus and crashes: frame, decode under a context, re-encode, decode again, compare.

import NIOCore

/// Checks what must hold for any input bytes: decoding never traps, and every message that decoded
/// without treat-as-withdraw re-encodes (strictly) into bytes that decode to an equal message.
public enum CodecSelfCheck {
    /// The contexts the fuzzer exercises: a 4-octet eBGP session with both families, and a 2-octet iBGP
    /// session with IPv4 only.
    public static let contexts = [
        CodecContext(fourOctetAS: true, families: [.ipv4Unicast, .ipv6Unicast], isInternal: false),
        CodecContext(fourOctetAS: false, families: [.ipv4Unicast], isInternal: true),
    ]

    /// A session with ADD-PATH (RFC 7911) both ways for both families, so that NLRI with path identifiers
    /// are decoded and re-encoded too. Apart from `contexts`: a valid stream without ADD-PATH rarely
    /// decodes under it.
    public static let addPathContext = CodecContext(
        fourOctetAS: true, families: [.ipv4Unicast, .ipv6Unicast], isInternal: false,
        addPathReceive: [.ipv4Unicast, .ipv6Unicast], addPathSend: [.ipv4Unicast, .ipv6Unicast])

    /// Runs the check on a byte stream under every context and `addPathContext`; returns a description of
    /// the first violation, or nil when the property holds.
    public static func check(_ input: [UInt8]) -> String? {
        for context in contexts + [addPathContext] {
            if let failure = check(input, context: context) { return failure }
        }
        return nil
    }

    static func check(_ input: [UInt8], context: CodecContext) -> String? {
        var stream = ByteBuffer(bytes: input)
        while true {
            let frame: ByteBuffer
            do {
                guard let next = try BGPFraming.nextMessage(in: &stream) else { return nil }
                frame = next
            } catch {
                _ = error.description
                return nil
            }
            let decoded: DecodedMessage
            do {
                decoded = try BGPMessage.decode(frame: frame, context: context)
            } catch {
                _ = error.description
                return nil  // the session ends on the first bad message
            }
            if case .notification(let notification) = decoded.message { _ = notification.description }
            if case .treatAsWithdraw = decoded.disposition {
                _ = try? decoded.message.encoded(context: context)
                continue
            }
            let encoded: [UInt8]
            do {
                encoded = try decoded.message.encoded(context: context)
            } catch {
                return "decoded \(decoded.message) but re-encoding failed: \(error)"
            }
            do {
                let again = try BGPMessage.decode(bytes: encoded, context: context)
                guard again.message == decoded.message, again.disposition == .normal else {
                    return "round trip changed \(decoded.message) into \(again.message) (\(again.disposition))"
                }
            } catch {
                return "re-encoded \(decoded.message) does not decode: \(error)"
            }
        }
    }
}
