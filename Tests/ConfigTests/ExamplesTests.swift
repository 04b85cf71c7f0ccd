// The files the Debian package ships (packaging/anycastd.json, the conffile, and packaging/examples/*.json)
// must all be accepted by the reader, and the conffile must announce nothing until it is edited.
import Foundation
import Testing

@testable import Config

private let packagingDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("packaging")

private let exampleNames: [String] = {
    let directory = packagingDirectory.appendingPathComponent("examples").path
    let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    return files.filter { $0.hasSuffix(".json") }.sorted()
}()

private func load(_ relativePath: String) throws -> Result<DesiredState, ConfigError> {
    let data = try Data(contentsOf: packagingDirectory.appendingPathComponent(relativePath))
    return ConfigLoader.parse(Array(data), file: relativePath)
}

@Test func examplesCoverTheDocumentedSetups() {
    for name in [
        "dc-pair-dc1.json", "dc-pair-dc2.json", "juniper-md5-bfd.json", "azure-route-server.json",
        "ibgp-route-reflectors.json", "ipv6.json",
    ] {
        #expect(exampleNames.contains(name), "packaging/examples/\(name) is missing")
    }
}

@Test(arguments: exampleNames)
func exampleIsValid(name: String) throws {
    switch try load("examples/\(name)") {
    case .success(let state):
        #expect(!state.services.isEmpty, "\(name) has no service")
        #expect(!state.bgp.peers.isEmpty, "\(name) has no peer")
    case .failure(let error):
        Issue.record("packaging/examples/\(name) is invalid:\n\(error)")
    }
}

/// A shipped example asks for nothing its routers would ignore: `anycastd check` prints no warning for it.
@Test(arguments: exampleNames)
func exampleHasNoWarnings(name: String) throws {
    let data = try Data(contentsOf: packagingDirectory.appendingPathComponent("examples/\(name)"))
    let warnings = ConfigLoader.parseWithWarnings(Array(data), file: name).warnings
    #expect(warnings.map(\.warningDescription) == [])
}

@Test func theAzureExampleIsOneGroupWithTheProfile() throws {
    let state = try load("examples/azure-route-server.json").get()
    #expect(state.bgp.peers.map(\.group) == ["azure", "azure"])
    #expect(state.bgp.peers.allSatisfy { $0.profile == .azureRouteServer && $0.multihop == 2 })
    #expect(state.bgp.peers.allSatisfy { $0.holdTime == .seconds(180) })
}

@Test func shippedConfigurationIsValidAndAnnouncesNothing() throws {
    switch try load("anycastd.json") {
    case .success(let state):
        #expect(state.services.isEmpty)
        #expect(state.bgp.peers.isEmpty)
        #expect(state.interface.uplinks.isEmpty, "the default must not change settings of other interfaces")
    case .failure(let error):
        Issue.record("packaging/anycastd.json is invalid:\n\(error)")
    }
}

/// The Azure Route Server example shows what that peer requires: AS 65515, two instances, multihop, a
/// 2-octet local AS and IPv4 only.
@Test func azureRouteServerExampleFitsTheService() throws {
    let state = try load("examples/azure-route-server.json").get()
    #expect(state.bgp.asn <= 65535)
    #expect(state.bgp.peers.count == 2)
    for peer in state.bgp.peers {
        #expect(peer.asn == 65515)
        #expect(peer.multihop > 1)
        #expect(peer.families == [.ipv4])
    }
    #expect(state.allPrefixes.allSatisfy { $0.family == .ipv4 })
}
