// The DNS check's codec on byte vectors: a query and answers captured from dnsmasq 2.90 with
// `dig +noedns +norecurse -p 53531 @127.0.0.1 id.lab TXT` under tcpdump, and crafted bad answers.
import Health
import Testing

/// Bytes from hex text, ignoring spaces.
func hexBytes(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

struct DNSMessageTests {
    /// dig's query for id.lab TXT, ID 0x6850; dig sets the AD flag (0x0020), which the check leaves clear.
    static let digQuery = hexBytes("6850 0020 0001 0000 0000 0000 0269 6403 6c61 6200 0010 0001")
    /// dnsmasq's answer: QR AA RA, NOERROR, one TXT "x" with a compressed owner name.
    static let dnsmasqAnswer = hexBytes(
        "6850 8480 0001 0001 0000 0000 0269 6403 6c61 6200 0010 0001 c00c 0010 0001 0000 0000 0002 0178")
    /// dnsmasq's answer to nothere.lab A (ID 0x0849) when it has no upstream: REFUSED.
    static let dnsmasqRefused = hexBytes(
        "0849 8085 0001 0000 0000 0000 076e 6f74 6865 7265 036c 6162 0000 0100 01")

    let probe = try! DNSProbe(name: "id.lab", type: "TXT", rcodes: ["NOERROR"])

    @Test func queryMatchesDigExceptTheADFlag() {
        var expected = Self.digQuery
        expected[3] = 0
        #expect(probe.query(id: 0x6850) == expected)
    }

    @Test func queryForRootAndTrailingDot() throws {
        let root = try DNSProbe(name: ".", type: "SOA", rcodes: [])
        #expect(root.query(id: 1) == hexBytes("0001 0000 0001 0000 0000 0000 00 0006 0001"))
        let dotted = try DNSProbe(name: "id.lab.", type: "txt", rcodes: [])
        #expect(dotted.query(id: 0x6850) == probe.query(id: 0x6850))
        #expect(dotted.name == "id.lab.")
        #expect(root.name == ".")
    }

    @Test func realAnswerIsGood() throws {
        #expect(try probe.judge(answer: Self.dnsmasqAnswer, id: 0x6850) == "NOERROR, 1 answer")
    }

    @Test func questionIsComparedCaseInsensitively() throws {
        let upper = try DNSProbe(name: "ID.Lab", type: "TXT", rcodes: [])
        #expect(try upper.judge(answer: Self.dnsmasqAnswer, id: 0x6850) == "NOERROR, 1 answer")
    }

    @Test func realRefusedIsBadUnlessAccepted() throws {
        let probe = try DNSProbe(name: "nothere.lab", type: "A", rcodes: ["NOERROR", "NXDOMAIN"])
        #expect(throws: DNSAnswerError.rcode(5)) { try probe.judge(answer: Self.dnsmasqRefused, id: 0x0849) }
        #expect(DNSAnswerError.rcode(5).description == "answer has rcode REFUSED")
        let lenient = try DNSProbe(name: "nothere.lab", type: "A", rcodes: ["refused"])
        #expect(try lenient.judge(answer: Self.dnsmasqRefused, id: 0x0849) == "REFUSED, 0 answers")
    }

    @Test func wrongID() {
        #expect(throws: DNSAnswerError.wrongID(expected: 0x6851, received: 0x6850)) {
            try probe.judge(answer: Self.dnsmasqAnswer, id: 0x6851)
        }
    }

    @Test func queryInsteadOfAnswer() {
        var bytes = Self.dnsmasqAnswer
        bytes[2] &= 0x7F
        #expect(throws: DNSAnswerError.notAResponse) { try probe.judge(answer: bytes, id: 0x6850) }
    }

    @Test func wrongOpcode() {
        var bytes = Self.dnsmasqAnswer
        bytes[2] |= 2 << 3
        #expect(throws: DNSAnswerError.wrongOpcode(2)) { try probe.judge(answer: bytes, id: 0x6850) }
    }

    @Test func wrongQuestionName() throws {
        var bytes = Self.dnsmasqAnswer
        bytes[13] = UInt8(ascii: "x")  // "id" -> "xd"
        #expect(throws: DNSAnswerError.wrongQuestion("xd.lab TXT class 1")) {
            try probe.judge(answer: bytes, id: 0x6850)
        }
    }

    @Test func wrongQuestionTypeAndClass() throws {
        let aProbe = try DNSProbe(name: "id.lab", type: "A", rcodes: [])
        #expect(throws: DNSAnswerError.wrongQuestion("id.lab TXT class 1")) {
            try aProbe.judge(answer: Self.dnsmasqAnswer, id: 0x6850)
        }
        var chaos = Self.dnsmasqAnswer
        chaos[23] = 3
        #expect(throws: DNSAnswerError.wrongQuestion("id.lab TXT class 3")) {
            try probe.judge(answer: chaos, id: 0x6850)
        }
    }

    @Test func noQuestion() {
        var bytes = Array(Self.dnsmasqAnswer[0..<12])
        bytes[5] = 0
        bytes[7] = 0
        #expect(throws: DNSAnswerError.questionCount(0)) { try probe.judge(answer: bytes, id: 0x6850) }
    }

    @Test func servfail() throws {
        var bytes = Self.dnsmasqAnswer
        bytes[3] = (bytes[3] & 0xF0) | 2
        #expect(throws: DNSAnswerError.rcode(2)) { try probe.judge(answer: bytes, id: 0x6850) }
        let accepting = try DNSProbe(name: "id.lab", type: "TXT", rcodes: ["NOERROR", "SERVFAIL"])
        #expect(try accepting.judge(answer: bytes, id: 0x6850) == "SERVFAIL, 1 answer")
    }

    @Test func truncatedAtEveryLength() {
        for length in 0..<Self.dnsmasqAnswer.count {
            let cut = Array(Self.dnsmasqAnswer[0..<length])
            #expect(throws: DNSAnswerError.self, "cut at \(length) bytes") { try probe.judge(answer: cut, id: 0x6850) }
        }
        #expect(throws: DNSAnswerError.shortHeader(length: 5)) {
            try probe.judge(answer: Array(Self.dnsmasqAnswer[0..<5]), id: 0x6850)
        }
        do {
            _ = try probe.judge(answer: Array(Self.dnsmasqAnswer.dropLast()), id: 0x6850)
            Issue.record("a cut record must fail")
        } catch {
            #expect("\(error)".contains("answer record 1 of 1"))
            #expect("\(error)".hasPrefix("malformed answer"))
        }
    }

    @Test func tcFlagStillCountsWhenWhatIsThereParses() throws {
        var bytes = Self.dnsmasqAnswer
        bytes[2] |= 0x02
        #expect(try probe.judge(answer: bytes, id: 0x6850) == "NOERROR, 1 answer (truncated)")
    }

    @Test func compressionLoopAndBadLabelType() {
        var loop = Self.dnsmasqAnswer
        loop[24] = 0xC0
        loop[25] = 24  // the answer's owner name points at itself
        #expect(throws: DNSAnswerError.self) { try probe.judge(answer: loop, id: 0x6850) }
        var badLabel = Self.dnsmasqAnswer
        badLabel[24] = 0x40
        do {
            _ = try probe.judge(answer: badLabel, id: 0x6850)
            Issue.record("label type 0x40 must fail")
        } catch {
            #expect("\(error)".contains("label type 0x40"))
        }
    }

    @Test func recordCountLargerThanTheRecords() {
        var bytes = Self.dnsmasqAnswer
        bytes[7] = 2
        #expect(throws: DNSAnswerError.self) { try probe.judge(answer: bytes, id: 0x6850) }
    }

    @Test func configErrors() {
        #expect(throws: DNSConfigError.self) { try DNSProbe(name: "a..b", type: "A", rcodes: []) }
        #expect(throws: DNSConfigError.self) {
            try DNSProbe(name: String(repeating: "a", count: 64) + ".lab", type: "A", rcodes: [])
        }
        let long = Array(repeating: String(repeating: "a", count: 63), count: 4).joined(separator: ".")
        #expect(throws: DNSConfigError.self) { try DNSProbe(name: long, type: "A", rcodes: []) }
        #expect(throws: DNSConfigError.self) { try DNSProbe(name: "a.lab", type: "BOGUS", rcodes: []) }
        #expect(throws: DNSConfigError.self) { try DNSProbe(name: "a.lab", type: "A", rcodes: ["MAYBE"]) }
        #expect(throws: DNSConfigError.self) { try DNSProbe(name: "a.lab", type: "A", rcodes: ["16"]) }
    }

    @Test func typeAndRCodeNames() throws {
        #expect(DNSType.code("aaaa") == 28)
        #expect(DNSType.code("TYPE65280") == 65280)
        #expect(DNSType.code("99") == 99)
        #expect(DNSType.name(16) == "TXT")
        #expect(DNSType.name(65280) == "TYPE65280")
        #expect(DNSRCode.code("nxdomain") == 3)
        #expect(DNSRCode.code("15") == 15)
        #expect(DNSRCode.name(2) == "SERVFAIL")
        #expect(DNSRCode.name(12) == "RCODE12")
        #expect(try DNSProbe(name: "a", type: "A", rcodes: []).acceptedRCodes == [0])
    }
}
