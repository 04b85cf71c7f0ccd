// Keeps the JSON Schema (packaging/anycastd.schema.json) in step with the reader: the embedded copy is the
// file byte for byte, every object of the schema lists exactly the keys the decoder accepts there
// (ConfigKeys), and ConfigKeys' places are the ones where the decoder reports unknown keys.
import Foundation
import Testing

@testable import Config

private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
private let schemaFile = repositoryRoot.appendingPathComponent("packaging/anycastd.schema.json")

private func loadSchema() throws -> [String: Any] {
    let data = try Data(contentsOf: schemaFile)
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

@Test func embeddedSchemaIsTheInstalledFile() throws {
    let file = try String(contentsOf: schemaFile, encoding: .utf8)
    #expect(
        ConfigSchema.json + "\n" == file,
        "Sources/Config/ConfigSchema.swift differs from packaging/anycastd.schema.json; run packaging/sync-schema.sh")
}

@Test func schemaDeclaresDraft2020AndClosesEveryObject() throws {
    let schema = try loadSchema()
    #expect(schema["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
    let objects = try schemaObjects(schema)
    #expect(objects.count == ConfigKeys.byPath.count)
    for (path, object) in objects {
        #expect(object.closed, "schema object at \"\(path)\" lacks \"additionalProperties\": false")
    }
}

@Test func schemaKeysAreTheDecoderKeys() throws {
    let objects = try schemaObjects(try loadSchema())
    #expect(Set(objects.keys) == Set(ConfigKeys.byPath.keys), "objects in the schema vs. ConfigKeys.byPath")
    for (path, keys) in ConfigKeys.byPath {
        let inSchema = Set(objects[path]?.keys ?? [])
        let missing = Set(keys).subtracting(inSchema).sorted()
        let extra = inSchema.subtracting(keys).sorted()
        #expect(missing.isEmpty, "\"\(path)\": keys the reader accepts but the schema lacks: \(missing)")
        #expect(extra.isEmpty, "\"\(path)\": keys in the schema that the reader rejects: \(extra)")
    }
}

/// A document with every object of the file, so that an unknown key can be put into each.
private let everyObject = """
    {
      "$schema": "file:///usr/share/anycastd/anycastd.schema.json",
      "interface": { "name": "anycast0", "kind": "dummy", "uplinks": ["eth0"], "sysctl": { "arpIgnore": 1 } },
      "bgp": {
        "asn": 65011, "routerId": "10.0.0.11", "gracefulRestart": { "restartTime": "120s" },
        "peers": [ { "name": "core1", "address": "10.0.0.1", "asn": 65000, "localAddress": "10.0.0.11",
                     "gracefulRestart": { "restartTime": "60s" },
                     "nextHop": { "ipv4": "10.0.0.11" },
                     "bfd": { "multiplier": 3,
                              "authentication": { "type": "keyed-sha1", "keyFile": "/etc/anycastd/bfd.key" } } } ]
      },
      "services": [ { "name": "dns", "prefixes": ["192.0.2.53/32"],
                      "checks": [ { "dns": { "name": "." } }, { "tcp": { "address": "127.0.0.1", "port": 53 } },
                                  { "exec": { "command": ["/bin/true"] } } ] } ],
      "drain": { "delay": "2s" }, "control": { "socket": "/run/anycastd/anycastd.sock" },
      "metrics": { "listen": "127.0.0.1:9477" }, "stateDirectory": "/var/lib/anycastd"
    }
    """

@Test func everyObjectDocumentIsValid() {
    let result = ConfigLoader.parse(Array(everyObject.utf8), file: "every-object.json")
    if case .failure(let error) = result { Issue.record("\(error)") }
}

/// ConfigKeys.byPath names the places where the decoder really checks keys: an unknown key put at each
/// place is reported there, and nowhere else.
@Test(arguments: ConfigKeys.byPath.keys.sorted())
func unknownKeyIsReportedAt(place: String) throws {
    var document = try #require(
        try JSONSerialization.jsonObject(with: Data(everyObject.utf8)) as? [String: Any])
    let steps = place.split(separator: ".").map(String.init)
    let concrete = try insertUnknownKey(into: &document, steps: steps[...])
    let data = try JSONSerialization.data(withJSONObject: document)
    let result = ConfigLoader.parse(Array(data), file: "unknown.json")
    guard case .failure(let error) = result else {
        Issue.record("an unknown key at \"\(place)\" was accepted")
        return
    }
    let expectedPath = concrete.isEmpty ? "zzUnknown" : concrete + ".zzUnknown"
    #expect(error.diagnostics.map(\.path) == [expectedPath], "\(error)")
    #expect(error.diagnostics.first?.message.hasPrefix("unknown key \"zzUnknown\"") == true, "\(error)")
}

/// Walks `steps` (`name` or `name[]`) into the document, adds "zzUnknown" to the object found there and
/// returns that object's concrete path as the reader writes it (`services[0].checks[1].tcp`).
private func insertUnknownKey(into object: inout [String: Any], steps: ArraySlice<String>) throws -> String {
    guard let step = steps.first else {
        object["zzUnknown"] = 1
        return ""
    }
    let isArray = step.hasSuffix("[]")
    let key = isArray ? String(step.dropLast(2)) : step
    var concrete = key
    if isArray {
        var elements = try #require(object[key] as? [[String: Any]], "\(key) is not an array of objects")
        // A check kind is only found in the element that has it.
        let next = steps.dropFirst().first
        let index = elements.firstIndex { next == nil || $0[next!] != nil } ?? 0
        concrete += "[\(index)]"
        let rest = try insertUnknownKey(into: &elements[index], steps: steps.dropFirst())
        object[key] = elements
        return rest.isEmpty ? concrete : concrete + "." + rest
    }
    var child = try #require(object[key] as? [String: Any], "\(key) is not an object")
    let rest = try insertUnknownKey(into: &child, steps: steps.dropFirst())
    object[key] = child
    return rest.isEmpty ? concrete : concrete + "." + rest
}

/// One object of the schema: its property names and whether it forbids others.
private struct SchemaObject {
    var keys: [String]
    var closed: Bool
}

/// Every object of the schema that has `properties`, by its place in the document (the same notation as
/// ConfigKeys.byPath), with local `$ref`s followed.
private func schemaObjects(_ schema: [String: Any]) throws -> [String: SchemaObject] {
    var found: [String: SchemaObject] = [:]
    let definitions = schema["$defs"] as? [String: Any] ?? [:]

    func resolve(_ node: [String: Any]) throws -> [String: Any] {
        guard let reference = node["$ref"] as? String else { return node }
        let prefix = "#/$defs/"
        #expect(reference.hasPrefix(prefix), "only local $defs references are expected, got \(reference)")
        let name = String(reference.dropFirst(prefix.count))
        let target = try #require(definitions[name] as? [String: Any], "\(reference) is not defined")
        return try resolve(target)
    }

    func walk(_ raw: [String: Any], at path: String) throws {
        let node = try resolve(raw)
        if let properties = node["properties"] as? [String: Any] {
            found[path] = SchemaObject(
                keys: Array(properties.keys), closed: node["additionalProperties"] as? Bool == false)
            for (key, value) in properties {
                guard let child = value as? [String: Any] else { continue }
                try walk(child, at: path.isEmpty ? key : "\(path).\(key)")
            }
        }
        if let items = node["items"] as? [String: Any] {
            let resolved = try resolve(items)
            if resolved["properties"] != nil { try walk(resolved, at: path + "[]") }
        }
    }

    try walk(schema, at: "")
    return found
}
