// Golden-file tests of the whole reader: each Golden/NAME.json is parsed and must give exactly
// NAME.err (the diagnostics, one per line) or NAME.ok (the canonical JSON of the valid state).
// UPDATE_GOLDEN=1 swift test --filter ConfigTests rewrites the expected files from the current output.
import Foundation
import Testing

@testable import Config

private let goldenDirectory: URL = {
    guard let url = Bundle.module.url(forResource: "Golden", withExtension: nil) else {
        fatalError("Golden resources are missing from the test bundle")
    }
    return url
}()

/// Where UPDATE_GOLDEN writes: the source tree, not the copied bundle.
private let sourceGoldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Golden")

private let goldenNames: [String] = {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: goldenDirectory.path)) ?? []
    return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
}()

@Test func goldenCorpusIsLargeEnough() {
    let bad = goldenNames.filter {
        FileManager.default.fileExists(atPath: goldenDirectory.appendingPathComponent("\($0).err").path)
    }
    #expect(bad.count >= 25, "only \(bad.count) failing golden inputs")
    #expect(goldenNames.count - bad.count >= 3, "too few valid golden inputs")
}

@Test(arguments: goldenNames)
func golden(name: String) throws {
    let input = try Data(contentsOf: goldenDirectory.appendingPathComponent("\(name).json"))
    let result = ConfigLoader.parse(Array(input), file: "\(name).json")
    let errURL = goldenDirectory.appendingPathComponent("\(name).err")
    let okURL = goldenDirectory.appendingPathComponent("\(name).ok")

    if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
        let errSource = sourceGoldenDirectory.appendingPathComponent("\(name).err")
        let okSource = sourceGoldenDirectory.appendingPathComponent("\(name).ok")
        switch result {
        case .success(let state):
            try? FileManager.default.removeItem(at: errSource)
            try state.canonicalJSON().write(to: okSource, atomically: true, encoding: .utf8)
        case .failure(let error):
            try? FileManager.default.removeItem(at: okSource)
            try (error.description + "\n").write(to: errSource, atomically: true, encoding: .utf8)
        }
        return
    }

    if FileManager.default.fileExists(atPath: errURL.path) {
        let expected = try String(contentsOf: errURL, encoding: .utf8)
        switch result {
        case .success:
            Issue.record("\(name).json parsed, but \(name).err expects errors")
        case .failure(let error):
            #expect(error.description + "\n" == expected)
            #expect(error.diagnostics == error.diagnostics.sorted { ($0.line, $0.column) < ($1.line, $1.column) })
        }
    } else if FileManager.default.fileExists(atPath: okURL.path) {
        let expected = try String(contentsOf: okURL, encoding: .utf8)
        switch result {
        case .success(let state):
            #expect(state.canonicalJSON() == expected)
            // The canonical form is itself a valid file that yields the same state.
            let again = ConfigLoader.parse(Array(expected.utf8), file: "\(name).ok")
            #expect((try? again.get()) == state)
        case .failure(let error):
            Issue.record("\(name).json should parse, got:\n\(error)")
        }
    } else {
        Issue.record("\(name).json has neither \(name).err nor \(name).ok; run with UPDATE_GOLDEN=1 and review")
    }
}
