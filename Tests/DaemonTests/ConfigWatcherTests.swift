// The configuration watch: which inotify events matter (pure), which directories a path needs watched
// (pure, with a fake readlink), and the real watch on /tmp: renames over the file, a directory that is
// deleted or moved away and comes back, and edits of a symbolic link's target. Waits for a change have a
// timeout, so a deaf watch fails the test instead of hanging it.
import Foundation
import Testing

@testable import Daemon

/// True when the stream yields within `limit`; false on timeout (which ends the stream: the test failed).
private func nextChange(_ changes: AsyncStream<Void>, within limit: Duration = .seconds(5)) async -> Bool {
    await withTaskGroup(of: Bool.self) { group in
        group.addTask {
            var iterator = changes.makeAsyncIterator()
            return await iterator.next() != nil
        }
        group.addTask {
            try? await Task.sleep(for: limit)
            return false
        }
        let first = await group.next() ?? false
        group.cancelAll()
        return first
    }
}

private func scratchDirectory() throws -> String {
    let directory = "/tmp/acd-watch-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    return directory
}

@Suite struct ConfigWatcherTests {
    @Test func classifiesEventsByNameAndWatch() {
        let table = WatchTable(watches: [1: ["anycastd.json"], 2: ["anycastd"]])
        let other = InotifyEvent(watch: 1, mask: UInt32(IN_CLOSE_WRITE), name: "other.json")
        #expect(table.classify([other]) == .init(changed: false, rearm: false))
        let renamed = InotifyEvent(watch: 1, mask: UInt32(IN_MOVED_TO), name: "anycastd.json")
        #expect(table.classify([other, renamed]) == .init(changed: true, rearm: true))
        let recreated = InotifyEvent(watch: 2, mask: UInt32(IN_CREATE | IN_ISDIR), name: "anycastd")
        #expect(table.classify([recreated]) == .init(changed: true, rearm: true))
        let gone = InotifyEvent(watch: 1, mask: UInt32(IN_IGNORED), name: "")
        #expect(table.classify([gone]) == .init(changed: true, rearm: true))
        let stale = InotifyEvent(watch: 7, mask: UInt32(IN_IGNORED), name: "anycastd.json")
        #expect(table.classify([stale]) == .init(changed: false, rearm: false))
        let overflow = InotifyEvent(watch: -1, mask: UInt32(IN_Q_OVERFLOW), name: "")
        #expect(table.classify([overflow]) == .init(changed: true, rearm: true))
    }

    @Test func watchesTheDirectoriesOfEveryLinkInTheChain() {
        let links = [
            "/etc/anycastd/anycastd.json": "../../srv/cfg/current",
            "/etc/anycastd/../../srv/cfg/current": "/srv/releases/7.json",
        ]
        let wanted = WatchTable.directories(for: "/etc/anycastd/anycastd.json") { links[$0] }
        #expect(
            wanted == [
                "/etc/anycastd": ["anycastd.json"], "/etc": ["anycastd"],
                "/etc/anycastd/../../srv/cfg": ["current"], "/etc/anycastd/../../srv": ["cfg"],
                "/srv/releases": ["7.json"], "/srv": ["releases"],
            ])
        #expect(WatchTable.directories(for: "/anycastd.json") { _ in nil } == ["/": ["anycastd.json"]])
    }

    /// Real inotify bytes: another file in the directory is not a change, the file renamed over is.
    @Test func otherFilesInTheDirectoryAreNotChanges() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/anycastd.json"
        try "{}".write(toFile: path, atomically: false, encoding: .utf8)
        let descriptor = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        defer { close(descriptor) }
        let table = WatchTable.arm(WatchTable(), descriptor: descriptor, for: path)
        func pending() -> [InotifyEvent] {
            var buffer = [UInt8](repeating: 0, count: 65536)
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            return count > 0 ? InotifyEvent.parse(buffer[0..<count]) : []
        }
        try "x".write(toFile: "\(directory)/other.json", atomically: false, encoding: .utf8)
        try "{ }".write(toFile: "\(directory)/.anycastd.json.tmp", atomically: false, encoding: .utf8)
        let unrelated = pending()
        #expect(!unrelated.isEmpty, "inotify reported the other files")
        #expect(table.classify(unrelated) == .init(changed: false, rearm: false))
        #expect(rename("\(directory)/.anycastd.json.tmp", path) == 0)
        #expect(table.classify(pending()).changed)
    }

    @Test func seesARenameOverTheFile() async throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/anycastd.json"
        try "{}".write(toFile: path, atomically: false, encoding: .utf8)
        let watcher = try ConfigWatcher(path: path)
        defer { watcher.stop() }
        try "{ }".write(toFile: "\(directory)/.anycastd.json.tmp", atomically: false, encoding: .utf8)
        #expect(rename("\(directory)/.anycastd.json.tmp", path) == 0)
        #expect(await nextChange(watcher.changes()))
    }

    @Test func staysArmedWhenTheDirectoryIsDeletedAndCreatedAgain() async throws {
        let parent = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let directory = "\(parent)/etc"
        let path = "\(directory)/anycastd.json"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "{}".write(toFile: path, atomically: false, encoding: .utf8)
        let watcher = try ConfigWatcher(path: path)
        defer { watcher.stop() }
        let changes = watcher.changes()
        try FileManager.default.removeItem(atPath: directory)
        #expect(await nextChange(changes), "the deletion is a change")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "{ }".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(await nextChange(changes), "the file in the recreated directory is seen")
        // Moved away rather than deleted: the watch must not follow the old directory.
        #expect(rename(directory, "\(parent)/etc.old") == 0)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "{  }".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(await nextChange(changes), "the directory that replaced a moved one is watched")
    }

    @Test func seesEditsOfASymbolicLinksTarget() async throws {
        let root = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: "\(root)/etc", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(root)/srv", withIntermediateDirectories: true)
        try "{}".write(toFile: "\(root)/srv/real.json", atomically: false, encoding: .utf8)
        #expect(symlink("../srv/real.json", "\(root)/etc/anycastd.json") == 0)
        let watcher = try ConfigWatcher(path: "\(root)/etc/anycastd.json")
        defer { watcher.stop() }
        let changes = watcher.changes()
        try "{ }".write(toFile: "\(root)/srv/.real.json.tmp", atomically: false, encoding: .utf8)
        #expect(rename("\(root)/srv/.real.json.tmp", "\(root)/srv/real.json") == 0)
        #expect(await nextChange(changes), "an edit of the link's target is seen")
        // Re-pointed to a file in a third directory: edits there are seen next.
        try FileManager.default.createDirectory(atPath: "\(root)/new", withIntermediateDirectories: true)
        try "{}".write(toFile: "\(root)/new/next.json", atomically: false, encoding: .utf8)
        #expect(symlink("\(root)/new/next.json", "\(root)/etc/.link.tmp") == 0)
        #expect(rename("\(root)/etc/.link.tmp", "\(root)/etc/anycastd.json") == 0)
        #expect(await nextChange(changes), "re-pointing the link is a change")
        try "{  }".write(toFile: "\(root)/new/next.json", atomically: false, encoding: .utf8)
        #expect(await nextChange(changes), "an edit of the new target is seen")
    }

    @Test func fingerprintsTellAnEditedFileApart() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/anycastd.json"
        try "{}".write(toFile: path, atomically: false, encoding: .utf8)
        let before = FileFingerprint.of(path)
        #expect(before != nil)
        #expect(FileFingerprint.of(path) == before)
        try "{ }".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(FileFingerprint.of(path) != before)
        #expect(FileFingerprint.of("\(directory)/missing.json") == nil)
    }
}
