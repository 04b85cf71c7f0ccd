// The BFD key file (bfd.authentication.keyFile): a regular file of 1 to 20 bytes, one trailing newline
// dropped; anything else is a clear error and never a hang (a FIFO is refused, not read).
import BFD
import Config
import Foundation
import Testing

@testable import Daemon

@Suite struct BFDKeyFileTests {
    private func withKeyFile(_ contents: [UInt8]?, _ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bfd-key-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("key").path
        if let contents {
            try Data(contents).write(to: URL(fileURLWithPath: path))
        } else {
            #expect(mkfifo(path, 0o600) == 0)
        }
        try body(path)
    }

    private func load(_ path: String) -> Result<BFDAuthentication, Error> {
        Result {
            try BFDController.authentication(
                BFDAuthenticationConfig(kind: .meticulousKeyedSHA1, keyID: 3, keyFile: path))
        }
    }

    @Test func keyWithNewlineIsRead() throws {
        try withKeyFile(Array("s3cret\n".utf8)) { path in
            let auth = try load(path).get()
            #expect(auth.key == Array("s3cret".utf8) && auth.keyID == 3 && auth.type == .meticulousKeyedSHA1)
        }
        try withKeyFile(Array(repeating: 0x41, count: 20)) { path in
            let auth = try load(path).get()
            #expect(auth.key.count == 20)
        }
    }

    @Test(arguments: [[], Array("\n".utf8), Array(repeating: 0x41, count: 21), Array(repeating: 0x41, count: 5000)])
    func wrongLengthIsRefused(contents: [UInt8]) throws {
        try withKeyFile(contents) { path in
            guard case .failure(let error) = load(path) else {
                Issue.record("accepted \(contents.count) bytes")
                return
            }
            #expect("\(error)".contains("1 to 20 bytes"))
        }
    }

    @Test func fifoAndMissingFileAreRefused() throws {
        try withKeyFile(nil) { path in
            guard case .failure(let error) = load(path) else {
                Issue.record("a FIFO was accepted")
                return
            }
            #expect("\(error)".contains("not a regular file"))
        }
        guard case .failure(let error) = load("/nonexistent/bfd.key") else {
            Issue.record("missing file")
            return
        }
        #expect("\(error)".contains("No such file"))
    }
}
