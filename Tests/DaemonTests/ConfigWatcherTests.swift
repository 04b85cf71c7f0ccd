import Foundation
import Testing

@testable import Daemon

@Suite struct ConfigWatcherTests {
    @Test func seesARenameOverTheFileButNotOtherFiles() async throws {
        let directory = "/tmp/acd-watch-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/anycastd.json"
        try "{}".write(toFile: path, atomically: false, encoding: .utf8)
        let watcher = try ConfigWatcher(path: path)
        let changes = watcher.changes()
        var iterator = changes.makeAsyncIterator()

        try "x".write(toFile: "\(directory)/other.json", atomically: false, encoding: .utf8)
        try "{ }".write(toFile: "\(directory)/.anycastd.json.tmp", atomically: false, encoding: .utf8)
        #expect(rename("\(directory)/.anycastd.json.tmp", path) == 0)
        let seen: Void? = await iterator.next()
        #expect(seen != nil)
        watcher.stop()
    }
}
