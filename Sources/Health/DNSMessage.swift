// The DNS health check's wire format: builds one query and judges the answer (RFC 1035 section 4,
// RFC 3597 for TYPEnnn names, RFC 6895 for RCODE names). Pure: DNSCheck does the UDP I/O around it.
// No EDNS (RFC 6891): the query has no OPT record, so every answer fits the classic 512 bytes.

/// What is wrong with a DNS check's configuration; reported as the check's result on every run.
public struct DNSConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, naming the offending value and the accepted forms.
    public var description: String
    /// An error with its message.
    public init(_ description: String) { self.description = description }
}

/// Why a received datagram does not count as a good answer to our query.
public enum DNSAnswerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Fewer bytes than a DNS header.
    case shortHeader(length: Int)
    /// The answer is for another query (late, spoofed or a confused server).
    case wrongID(expected: UInt16, received: UInt16)
    /// The QR bit is clear: a query, not a response.
    case notAResponse
    /// The opcode is not QUERY.
    case wrongOpcode(UInt8)
    /// The answer does not echo exactly one question.
    case questionCount(Int)
    /// The echoed question is not the one we asked.
    case wrongQuestion(String)
    /// The datagram ends (or a name or record runs) past its end: cut or garbled.
    case malformed(String)
    /// The server answered with an RCODE the check does not accept.
    case rcode(UInt8)

    /// The reason as it appears in the check's result text.
    public var description: String {
        switch self {
        case .shortHeader(let length): "answer of \(length) bytes is shorter than a DNS header"
        case .wrongID(let expected, let received): "answer has ID \(received), expected \(expected)"
        case .notAResponse: "received a query, not a response (QR bit clear)"
        case .wrongOpcode(let code): "answer has opcode \(code), expected 0 (QUERY)"
        case .questionCount(let count): "answer echoes \(count) questions, expected 1"
        case .wrongQuestion(let text): "answer is for another question: \(text)"
        case .malformed(let text): "malformed answer: \(text)"
        case .rcode(let code): "answer has rcode \(DNSRCode.name(code))"
        }
    }
}

/// Resource record types by mnemonic (the ones worth probing), plus RFC 3597 `TYPEnnn` and plain numbers.
public enum DNSType {
    static let known: [String: UInt16] = [
        "A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "HINFO": 13, "MX": 15, "TXT": 16, "AAAA": 28,
        "SRV": 33, "NAPTR": 35, "DS": 43, "SSHFP": 44, "RRSIG": 46, "NSEC": 47, "DNSKEY": 48, "NSEC3": 50,
        "TLSA": 52, "SVCB": 64, "HTTPS": 65, "ANY": 255, "CAA": 257,
    ]

    /// The numeric type for a mnemonic (case-insensitive), `TYPEnnn` or a number; nil if unknown.
    public static func code(_ text: String) -> UInt16? {
        let upper = text.uppercased()
        if let code = known[upper] { return code }
        if upper.hasPrefix("TYPE"), let code = UInt16(upper.dropFirst(4)) { return code }
        return UInt16(upper)
    }

    /// The mnemonic for a numeric type, or `TYPEnnn`.
    public static func name(_ code: UInt16) -> String {
        known.first { $0.value == code }?.key ?? "TYPE\(code)"
    }
}

/// Response codes by name; 4 bits only, since the query carries no EDNS extended RCODE.
public enum DNSRCode {
    static let names = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET",
        "NOTAUTH", "NOTZONE",
    ]

    /// The numeric RCODE for a name (case-insensitive) or a number 0-15; nil if unknown.
    public static func code(_ text: String) -> UInt8? {
        if let index = names.firstIndex(of: text.uppercased()) { return UInt8(index) }
        if let code = UInt8(text), code < 16 { return code }
        return nil
    }

    /// The name of an RCODE, or `RCODEn` for unassigned ones.
    public static func name(_ code: UInt8) -> String {
        Int(code) < names.count ? names[Int(code)] : "RCODE\(code)"
    }
}

/// One DNS health probe: the question to ask and the RCODEs that count as healthy.
public struct DNSProbe: Sendable, Equatable {
    /// The name in wire form, as labels.
    public let labels: [[UInt8]]
    /// The query type (QTYPE), such as 16 for TXT.
    public let type: UInt16
    /// Always IN (1).
    public let qclass: UInt16 = 1
    /// The RCODEs that make an answer good.
    public let acceptedRCodes: Set<UInt8>

    /// Validates the configured name, type and RCODE names. An empty RCODE list means NOERROR only.
    public init(name: String, type: String, rcodes: [String]) throws(DNSConfigError) {
        self.labels = try Self.labels(of: name)
        guard let code = DNSType.code(type) else {
            throw DNSConfigError("unknown DNS type \"\(type)\" (use A, AAAA, TXT, SOA, ... or TYPEnnn)")
        }
        self.type = code
        var accepted = Set<UInt8>()
        for name in rcodes {
            guard let rcode = DNSRCode.code(name) else {
                throw DNSConfigError("unknown DNS rcode \"\(name)\" (use NOERROR, NXDOMAIN, SERVFAIL, ... or 0-15)")
            }
            accepted.insert(rcode)
        }
        self.acceptedRCodes = accepted.isEmpty ? [0] : accepted
    }

    /// The name in presentation form, with a trailing dot.
    public var name: String {
        labels.isEmpty ? "." : labels.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ".") + "."
    }

    /// Splits a name into wire labels; a trailing dot is optional, "." is the root.
    static func labels(of name: String) throws(DNSConfigError) -> [[UInt8]] {
        if name == "." { return [] }
        let trimmed = name.hasSuffix(".") ? String(name.dropLast()) : name
        let labels = trimmed.split(separator: ".", omittingEmptySubsequences: false).map { Array($0.utf8) }
        var wireLength = 1
        for label in labels {
            guard !label.isEmpty else { throw DNSConfigError("DNS name \"\(name)\" has an empty label") }
            guard label.count <= 63 else {
                throw DNSConfigError("DNS name \"\(name)\" has a label longer than 63 bytes")
            }
            wireLength += 1 + label.count
        }
        guard wireLength <= 255 else { throw DNSConfigError("DNS name \"\(name)\" is longer than 255 bytes") }
        return labels
    }

    /// The query datagram: header with the given ID, all flags clear (RD=0: ask the server itself, no
    /// recursion), one question.
    public func query(id: UInt16) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in labels {
            bytes.append(UInt8(label.count))
            bytes.append(contentsOf: label)
        }
        bytes.append(0)
        bytes.append(contentsOf: [UInt8(type >> 8), UInt8(type & 0xFF), UInt8(qclass >> 8), UInt8(qclass & 0xFF)])
        return bytes
    }

    /// Judges an answer to `query(id:)`: returns a short description of a good answer, or throws why it is
    /// not one. The whole message is walked, so a cut or garbled datagram fails even with a good RCODE.
    public func judge(answer bytes: [UInt8], id: UInt16) throws(DNSAnswerError) -> String {
        guard bytes.count >= 12 else { throw .shortHeader(length: bytes.count) }
        let received = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        guard received == id else { throw .wrongID(expected: id, received: received) }
        guard bytes[2] & 0x80 != 0 else { throw .notAResponse }
        let opcode = bytes[2] >> 3 & 0x0F
        guard opcode == 0 else { throw .wrongOpcode(opcode) }
        let truncated = bytes[2] & 0x02 != 0
        let rcode = bytes[3] & 0x0F
        let counts = (0..<4).map { Int(bytes[4 + 2 * $0]) << 8 | Int(bytes[5 + 2 * $0]) }
        guard counts[0] == 1 else { throw .questionCount(counts[0]) }

        var reader = DNSReader(bytes: bytes, offset: 12)
        let qname = try reader.name()
        let qtype = try reader.uint16("question type")
        let qclass = try reader.uint16("question class")
        guard Self.sameName(qname, labels), qtype == type, qclass == self.qclass else {
            let text = qname.isEmpty ? "." : qname.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ".")
            throw .wrongQuestion("\(text) \(DNSType.name(qtype)) class \(qclass)")
        }
        // A truncated (TC) answer still proves the server answers this question; its sections may be
        // incomplete, but what is there must still parse.
        for (section, count) in zip(["answer", "authority", "additional"], counts.dropFirst()) {
            for index in 0..<count {
                do throws(DNSAnswerError) {
                    _ = try reader.name()
                    _ = try reader.skip(8, "record header")
                    let length = try reader.uint16("record data length")
                    try reader.skip(Int(length), "record data")
                } catch {
                    throw .malformed("\(section) record \(index + 1) of \(count): \(error.detail)")
                }
            }
        }
        guard acceptedRCodes.contains(rcode) else { throw .rcode(rcode) }
        let plural = counts[1] == 1 ? "" : "s"
        return "\(DNSRCode.name(rcode)), \(counts[1]) answer\(plural)\(truncated ? " (truncated)" : "")"
    }

    /// ASCII case-insensitive label comparison (RFC 4343).
    static func sameName(_ a: [[UInt8]], _ b: [[UInt8]]) -> Bool {
        guard a.count == b.count else { return false }
        func lower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }
        return zip(a, b).allSatisfy { x, y in x.count == y.count && zip(x, y).allSatisfy { lower($0) == lower($1) } }
    }
}

extension DNSAnswerError {
    /// The text of a `.malformed` error without its prefix, for nesting.
    fileprivate var detail: String {
        if case .malformed(let text) = self { return text }
        return description
    }
}

/// A bounds-checked cursor over a received message.
private struct DNSReader {
    let bytes: [UInt8]
    var offset: Int

    mutating func uint16(_ what: String) throws(DNSAnswerError) -> UInt16 {
        guard offset + 2 <= bytes.count else { throw .malformed("\(what) at offset \(offset) runs past the end") }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func skip(_ count: Int, _ what: String) throws(DNSAnswerError) {
        guard offset + count <= bytes.count else {
            throw .malformed("\(what) at offset \(offset) runs past the end (\(bytes.count) bytes)")
        }
        offset += count
    }

    /// Reads a possibly compressed name (RFC 1035 4.1.4); leaves the cursor after it.
    mutating func name() throws(DNSAnswerError) -> [[UInt8]] {
        var labels: [[UInt8]] = []
        var position = offset
        var jumps = 0
        var wireLength = 1
        var end: Int?
        while true {
            guard position < bytes.count else { throw .malformed("name at offset \(offset) runs past the end") }
            let length = Int(bytes[position])
            switch length & 0xC0 {
            case 0x00:
                if length == 0 {
                    offset = end ?? position + 1
                    return labels
                }
                guard position + 1 + length <= bytes.count else {
                    throw .malformed("label at offset \(position) runs past the end")
                }
                wireLength += 1 + length
                guard wireLength <= 255 else { throw .malformed("name at offset \(offset) is longer than 255 bytes") }
                labels.append(Array(bytes[(position + 1)..<(position + 1 + length)]))
                position += 1 + length
            case 0xC0:
                guard position + 1 < bytes.count else { throw .malformed("pointer at offset \(position) is cut") }
                jumps += 1
                guard jumps <= 32 else { throw .malformed("name at offset \(offset) has a compression loop") }
                if end == nil { end = position + 2 }
                position = (length & 0x3F) << 8 | Int(bytes[position + 1])
            default:
                throw .malformed("label type 0x\(String(length & 0xC0, radix: 16)) at offset \(position)")
            }
        }
    }
}
