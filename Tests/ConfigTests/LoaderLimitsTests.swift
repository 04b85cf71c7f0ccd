// The loader's limits on outside input: a FIFO (or anything but a regular file) at the configuration path
// is refused at once instead of blocking, the size is capped, and huge keys are neither compared whole
// for "did you mean" nor echoed whole into diagnostics.
import Dispatch
import Testing

@testable import Config

#if canImport(Glibc)
    import Glibc
#endif

/// A fresh folder under /tmp for one test.
private func scratchDirectory() -> String {
    var template = Array("/tmp/acd-config-limits.XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
}

/// Loads `path` on another thread and gives up after `seconds`, so a loader that blocks fails the test
/// instead of hanging it (the blocked thread is left behind in that case).
private func loadWithin(_ seconds: Double, _ path: String) -> Result<DesiredState, ConfigError>? {
    final class Box: @unchecked Sendable { var result: Result<DesiredState, ConfigError>? }
    let box = Box()
    let done = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
        box.result = ConfigLoader.load(path: path)
        done.signal()
    }
    guard done.wait(timeout: .now() + seconds) == .success else { return nil }
    return box.result
}

@Test func aFIFOAtTheConfigurationPathIsRefusedAtOnce() throws {
    let directory = scratchDirectory()
    let path = directory + "/anycastd.json"
    #expect(mkfifo(path, 0o600) == 0)
    defer {
        unlink(path)
        rmdir(directory)
    }
    let result = try #require(loadWithin(2, path), "loading a FIFO blocked for 2 s")
    guard case .failure(let error) = result else {
        Issue.record("a FIFO loaded as a configuration")
        return
    }
    #expect(error.diagnostics.count == 1)
    #expect(error.description.contains("a FIFO (named pipe), not a regular file"), "\(error)")
}

@Test func aSymbolicLinkToARegularFileIsFollowed() throws {
    let directory = scratchDirectory()
    let target = directory + "/real.json"
    let link = directory + "/anycastd.json"
    defer {
        unlink(link)
        unlink(target)
        rmdir(directory)
    }
    let text =
        #"{ "interface": { "name": "anycast0" }, "bgp": { "asn": 65000, "routerId": "192.0.2.1", "peers": [] }, "services": [] }"#
    let file = fopen(target, "w")
    fputs(text, file)
    fclose(file)
    #expect(symlink(target, link) == 0)
    let result = try #require(loadWithin(2, link))
    if case .failure(let error) = result { Issue.record("\(error)") }
}

@Test func aFileOverTheSizeLimitIsRefusedWithoutReadingIt() throws {
    let directory = scratchDirectory()
    let path = directory + "/anycastd.json"
    defer {
        unlink(path)
        rmdir(directory)
    }
    let descriptor = open(path, O_CREAT | O_WRONLY, 0o600)
    #expect(ftruncate(descriptor, off_t(ConfigLoader.maximumFileSize + 1)) == 0)
    close(descriptor)
    let result = try #require(loadWithin(2, path))
    guard case .failure(let error) = result else {
        Issue.record("an oversized file loaded")
        return
    }
    #expect(error.description.contains("larger than 16 MiB"), "\(error)")
}

@Test func aHugeUnknownKeyIsQuotedShortAndNotComparedWhole() {
    let key = String(repeating: "k", count: 10_000_000)
    let bytes = Array(#"{ "\#(key)": 1 }"#.utf8)
    guard case .failure(let error) = ConfigLoader.parse(bytes, file: "big.json") else {
        Issue.record("an unknown key was accepted")
        return
    }
    guard let first = error.diagnostics.first else {
        Issue.record("no diagnostic")
        return
    }
    #expect(first.description.utf8.count < 1000, "diagnostic of \(first.description.utf8.count) bytes")
    #expect(first.message.contains("(10000000 bytes)"))
    #expect(closestMatch(to: key, among: ["interface", "bgp"]) == nil)
}

@Test func shortTyposStillGetASuggestion() {
    #expect(closestMatch(to: "intrface", among: ["interface", "bgp"]) == "interface")
    #expect(quoteExcerpt("abc") == "\"abc\"")
    #expect(
        quoteExcerpt(String(repeating: "é", count: 257)) == "\"" + String(repeating: "é", count: 256)
            + "\"… (514 bytes)")
}
