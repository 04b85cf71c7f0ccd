import Foundation
import Logging
import NetAddress
import Testing

@testable import Daemon

/// A fresh directory under /tmp, removed at the end of the test.
private final class TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/acd-state-test.XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: "\(path)/\(name)"))
    }

    func read(_ name: String) -> String? { try? String(contentsOfFile: "\(path)/\(name)", encoding: .utf8) }

    func entries() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
}

@Suite struct StateStoreTests {
    @Test func drainsSurviveASaveAndAMissingFileIsNoDrain() throws {
        let directory = TemporaryDirectory()
        let store = StateStore(directory: "\(directory.path)/state")
        #expect(store.loadDrains() == .drains([]))
        try store.saveDrains(["*", "dns"])
        #expect(store.loadDrains() == .drains(["*", "dns"]))
        #expect(directory.read("state/drained") == "*\ndns\n")
        // Only the file itself: no temporary file is left behind.
        #expect((try FileManager.default.contentsOfDirectory(atPath: "\(directory.path)/state")) == ["drained"])
        try store.saveDrains([])
        #expect(store.loadDrains() == .drains([]))
    }

    /// Bug: with `drained` replaced by a directory the save failed only in the log, as a CocoaError dump.
    @Test func aFailedSaveThrowsWithOperationPathAndReason() throws {
        let directory = TemporaryDirectory()
        let store = StateStore(directory: directory.path)
        #expect(mkdir("\(directory.path)/drained", 0o755) == 0)
        let error = #expect(throws: DaemonError.self) { try store.saveDrains(["*"]) }
        let text = error?.description ?? ""
        #expect(
            text
                == "cannot save drains: rename \(directory.path)/drained.tmp.XXXXXX to \(directory.path)/drained: Is a directory"
        )
        #expect(directory.entries() == ["drained"], "the temporary file is removed")
    }

    @Test func aStateDirectoryThatIsAFileFailsClearly() throws {
        let directory = TemporaryDirectory()
        try directory.write("state", Array("x".utf8))
        let store = StateStore(directory: "\(directory.path)/state")
        let error = #expect(throws: DaemonError.self) { try store.saveDrains(["*"]) }
        #expect(
            error?.description == "cannot save drains: use (not a directory) \(directory.path)/state: Not a directory")
    }

    /// Bug: one invalid byte discarded the whole file, the valid `*` included, with no word in the log.
    @Test func anInvalidByteMakesTheDrainsUnreadableWithoutQuotingThem() throws {
        let directory = TemporaryDirectory()
        let store = StateStore(directory: directory.path)
        try directory.write("drained", Array("*\nsecret-\u{1}\n".utf8))
        #expect(store.loadDrains() == .unreadable("\(directory.path)/drained: line 2 holds a control character"))
        try directory.write("drained", Array("*\n".utf8) + [0xFF, 0x0A])
        #expect(store.loadDrains() == .unreadable("\(directory.path)/drained: not valid UTF-8"))
    }

    /// Concern: a 300 MB `drained` took 160 s and 710 MB at start.
    @Test func aFileOverTheLimitIsUnreadable() throws {
        let directory = TemporaryDirectory()
        let store = StateStore(directory: directory.path)
        try directory.write("drained", [UInt8](repeating: 0x61, count: StateStore.maxFileSize))
        #expect(store.loadDrains() == .drains([String(repeating: "a", count: StateStore.maxFileSize)]))
        try directory.write("drained", [UInt8](repeating: 0x61, count: StateStore.maxFileSize + 1))
        #expect(
            store.loadDrains()
                == .unreadable("\(directory.path)/drained: is larger than 65536 bytes (65537 bytes)"))
    }

    @Test func aDirectoryOrAFIFOIsUnreadableAndDoesNotBlock() throws {
        let directory = TemporaryDirectory()
        let store = StateStore(directory: directory.path)
        #expect(mkdir("\(directory.path)/drained", 0o755) == 0)
        #expect(store.loadDrains() == .unreadable("\(directory.path)/drained: is not a regular file"))
        #expect(mkfifo("\(directory.path)/owned-addresses", 0o644) == 0)
        let loaded = store.loadOwnedAddresses()
        #expect(loaded.owned.isEmpty)
        #expect(loaded.ignored == ["\(directory.path)/owned-addresses: is not a regular file; no address is removed"])
    }

    /// Bug: a `drained` linked to a copy of /etc/passwd had every line logged as drained.
    @Test func readingFollowsNoLink() throws {
        let directory = TemporaryDirectory()
        let store = StateStore(directory: directory.path)
        try directory.write("secret", Array("*\nroot:x:0:0\n".utf8))
        #expect(symlink("\(directory.path)/secret", "\(directory.path)/drained") == 0)
        #expect(store.loadDrains() == .unreadable("\(directory.path)/drained: is a symbolic link (not followed)"))
        #expect(symlink("\(directory.path)/secret", "\(directory.path)/owned-addresses") == 0)
        #expect(store.loadOwnedAddresses().owned.isEmpty)
    }

    /// Bug: `drained.tmp` as a symbolic link made the agent overwrite the link's target.
    @Test func writingNeverGoesThroughALink() throws {
        let directory = TemporaryDirectory()
        let store = StateStore(directory: directory.path)
        try directory.write("victim", Array("keep me\n".utf8))
        #expect(symlink("\(directory.path)/victim", "\(directory.path)/drained.tmp") == 0)
        #expect(symlink("\(directory.path)/victim", "\(directory.path)/owned-addresses.tmp") == 0)
        try store.saveDrains(["*"])
        try store.saveOwnedAddresses([IPPrefix("192.0.2.53/32")!])
        #expect(directory.read("victim") == "keep me\n")
        // A link in the file's own place is replaced by the new file; its target stays as it was.
        #expect(symlink("\(directory.path)/victim", "\(directory.path)/other") == 0)
        #expect(rename("\(directory.path)/other", "\(directory.path)/drained") == 0)
        try store.saveDrains(["dns"])
        #expect(directory.read("victim") == "keep me\n")
        #expect(store.loadDrains() == .drains(["dns"]))
    }

    /// Bug: `127.0.0.1/8` and `::1/128` in the ownership file made the agent delete them from `lo`.
    @Test func ownershipKeepsOnlyRemovableHostPrefixes() throws {
        let directory = TemporaryDirectory()
        let store = StateStore(directory: directory.path)
        let lines = [
            "192.0.2.53/32", "127.0.0.1/8", "::1/128", "# a comment", "", "fe80::1/128", "10.0.0.0/24",
            "password123", "2001:db8::53/128",
        ]
        try directory.write("owned-addresses", Array(lines.joined(separator: "\n").utf8))
        let loaded = store.loadOwnedAddresses()
        #expect(loaded.owned == [IPPrefix("192.0.2.53/32")!, IPPrefix("2001:db8::53/128")!])
        let file = "\(directory.path)/owned-addresses"
        #expect(
            loaded.ignored == [
                "\(file):2: 127.0.0.1/8 is not a host prefix (/32), never removed; ignored",
                "\(file):3: ::1/128 is loopback (::1), never removed; ignored",
                "\(file):6: fe80::1/128 is link-local (fe80::/10), never removed; ignored",
                "\(file):7: 10.0.0.0/24 is not a host prefix (/32), never removed; ignored",
                "\(file):8: not an address prefix; ignored",
            ])
    }

    /// Concern: a second agent with the same configuration silently took over the control socket.
    @Test func theLockIsExclusiveAndNamesItsHolder() throws {
        let directory = TemporaryDirectory()
        let store = StateStore(directory: "\(directory.path)/state")
        var first: StateLock? = try store.lock()
        #expect(directory.read("state/lock") == "\(getpid())\n")
        let error = #expect(throws: DaemonError.self) { try store.lock() }
        #expect(
            error?.description
                == "another anycastd (pid \(getpid())) is running with state directory \(directory.path)/state (\(directory.path)/state/lock is locked); stop it first"
        )
        _ = first
        first = nil
        #expect(throws: Never.self) { _ = try store.lock() }
    }
}

@Suite struct AgentStateTests {
    /// A configuration on `lo` with one service and the state directory given.
    private func agent(state: String, in directory: TemporaryDirectory) throws -> Agent {
        let config = """
            {
              "interface": { "name": "lo", "kind": "existing" },
              "bgp": { "asn": 65011, "routerId": "10.78.1.2",
                       "peers": [ { "name": "r1", "address": "10.78.1.1", "asn": 65000 } ] },
              "services": [ { "name": "dns", "prefixes": ["192.0.2.53/32"] } ],
              "drain": { "delay": "0s" },
              "stateDirectory": "\(state)"
            }
            """
        try directory.write("anycastd.json", Array(config.utf8))
        return try Agent(
            options: AgentOptions(configPath: "\(directory.path)/anycastd.json"), logger: Logger(label: "test"))
    }

    /// Bug: `anycastd drain` answered "draining host" and exit 0 although nothing reached the disk.
    @Test func aDrainThatCannotBeSavedIsNotAcknowledgedButTakesEffect() async throws {
        let directory = TemporaryDirectory()
        let state = "\(directory.path)/state"
        let agent = try agent(state: state, in: directory)
        #expect(await agent.loadConfig(reason: "test"))
        let before = await agent.status()
        #expect(before.statePersisted)
        #expect(before.stateErrors.isEmpty)
        #expect(before.prometheus().contains("\nanycastd_state_persisted 1\n"))
        // The state directory may already exist (the agent creates it when it first saves).
        #expect(mkdir(state, 0o755) == 0 || errno == EEXIST)
        #expect(mkdir("\(state)/drained", 0o755) == 0)

        let response = await agent.handle(ControlRequest(command: .drain))
        #expect(!response.ok)
        #expect(response.message?.contains("NOT persisted") == true)
        #expect(response.message?.contains("\(state)/drained: Is a directory") == true)
        let after = await agent.status()
        #expect(after.hostDrained, "the drain is in effect in memory")
        #expect(!after.statePersisted)
        #expect(after.stateErrors.count == 1)
        #expect(after.prometheus().contains("\nanycastd_state_persisted 0\n"))
        #expect(after.text().contains("state: NOT PERSISTED"))

        // Once the obstacle is gone, the next drain is saved and the status clears (the core also retries at
        // reconcile passes, see AgentCoreTests; a whole pass here would add the address to this host's lo).
        #expect(rmdir("\(state)/drained") == 0)
        #expect(await agent.handle(ControlRequest(command: .drain)).ok)
        #expect(await agent.status().statePersisted)
        #expect(directory.read("state/drained") == "*\n")
        #expect(await agent.handle(ControlRequest(command: .undrain)).ok)
        #expect(directory.read("state/drained") == "")
    }

    /// Bug: one invalid byte in `drained` silently undid the drain at restart.
    @Test func anUnreadableDrainFileKeepsTheHostDrained() async throws {
        let directory = TemporaryDirectory()
        let state = "\(directory.path)/state"
        #expect(mkdir(state, 0o755) == 0)
        try directory.write("state/drained", Array("*\n".utf8) + [0xC3])
        let agent = try agent(state: state, in: directory)
        #expect(await agent.loadConfig(reason: "test"))
        let status = await agent.status()
        #expect(status.hostDrained)
        #expect(!status.statePersisted)
        #expect(status.stateErrors.first?.contains("\(state)/drained: not valid UTF-8") == true)
        #expect(status.text().contains("HOST DRAINED"))
        // The operator's undrain writes a good file and clears the error.
        #expect(await agent.handle(ControlRequest(command: .undrain)).ok)
        #expect(await agent.status().statePersisted)
        #expect(!(await agent.status().hostDrained))
    }
}
