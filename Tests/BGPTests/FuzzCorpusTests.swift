// Replays the fuzz seeds (Tests/fuzz/corpus) and every crash the fuzzer kept (Tests/fuzz/crashes), with
// hand-made hostile inputs (lengths that overrun) there too, through the codec round-trip check, so a
// fixed crash stays fixed. An empty crashes directory fails the test.
import BGP
import Foundation
import NIOCore
import Testing

@Suite struct FuzzCorpusTests {
    static let fuzzDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fuzz")

    func files(_ name: String) throws -> [URL] {
        let directory = Self.fuzzDirectory.appendingPathComponent(name)
        return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { !$0.lastPathComponent.hasPrefix(".") }
            .sorted { $0.path < $1.path }
    }

    @Test func seedsDecodeCompletelyAndRoundTrip() throws {
        let seeds = try files("corpus")
        #expect(seeds.count >= 10, "Tests/fuzz/corpus should hold the byte vectors from the notes")
        for seed in seeds {
            let input = [UInt8](try Data(contentsOf: seed))
            #expect(CodecSelfCheck.check(input) == nil, "\(seed.lastPathComponent)")
            // Seeds are valid streams: every message decodes.
            for context in CodecSelfCheck.contexts {
                var stream = ByteBufferStream(input)
                while let frame = try stream.next() {
                    #expect(throws: Never.self, "\(seed.lastPathComponent)") {
                        try BGPMessage.decode(bytes: frame, context: context)
                    }
                }
                #expect(stream.isEmpty, "\(seed.lastPathComponent) has trailing bytes")
            }
        }
    }

    @Test func keptCrashesNoLongerFail() throws {
        let crashes = try files("crashes")
        // An empty directory would make this test pass without checking anything.
        #expect(crashes.count >= 1, "Tests/fuzz/crashes holds no input: keep at least one hostile input there")
        for crash in crashes {
            let input = [UInt8](try Data(contentsOf: crash))
            #expect(CodecSelfCheck.check(input) == nil, "\(crash.lastPathComponent)")
        }
    }
}

/// Frames a byte array with BGPFraming, returning whole messages as arrays.
struct ByteBufferStream {
    var buffer: ByteBuffer

    init(_ bytes: [UInt8]) { buffer = ByteBuffer(bytes: bytes) }

    var isEmpty: Bool { buffer.readableBytes == 0 }

    mutating func next() throws -> [UInt8]? {
        try BGPFraming.nextMessage(in: &buffer).map { Array($0.readableBytesView) }
    }
}
