// Typed access to the positioned JSON tree for the section decoders: each accessor checks the JSON type
// and range of one value and reports a diagnostic at that value's position instead of stopping, so a
// single pass finds every problem in the file.
import NetAddress

/// A decoded value with the place it came from, kept for checks that compare several fields.
struct Located<Value> {
    var value: Value
    var position: SourcePosition
    var path: JSONPath
}

/// The members of one JSON object, after unknown keys have been reported.
struct ObjectView {
    var position: SourcePosition
    var path: JSONPath
    var members: [String: JSONMember]

    subscript(key: String) -> JSONNode? { members[key]?.value }
    func has(_ key: String) -> Bool { members[key] != nil }
}

/// Walks the tree and reports problems to a sink; the section decoders are extensions of it.
final class ConfigDecoder {
    let sink: DiagnosticSink

    init(sink: DiagnosticSink) { self.sink = sink }

    func report(_ position: SourcePosition, _ path: JSONPath, _ message: String) {
        sink.report(position, path, message)
    }

    func warn(_ position: SourcePosition, _ path: JSONPath, _ message: String) {
        sink.warn(position, path, message)
    }

    func typeMismatch(_ node: JSONNode, _ path: JSONPath, expected: String) {
        var message = "expected \(expected), got \(node.kindDescription)"
        if case .null = node.value { message += " (leave the key out to use the default)" }
        report(node.position, path, message)
    }

    /// Opens an object and reports each key that is not in `known`, with a suggestion when one is close.
    func object(_ node: JSONNode, _ path: JSONPath, known: [String]) -> ObjectView? {
        guard case .object(let members) = node.value else {
            typeMismatch(node, path, expected: "an object")
            return nil
        }
        var byKey: [String: JSONMember] = [:]
        for member in members {
            if known.contains(member.key) {
                byKey[member.key] = member
                continue
            }
            var message = "unknown key \(quoteExcerpt(member.key))"
            if let suggestion = closestMatch(to: member.key, among: known) {
                message += "; did you mean \(quoteExcerpt(suggestion))?"
            }
            report(member.keyPosition, path.appending(member.key), message)
        }
        return ObjectView(position: node.position, path: path, members: byKey)
    }

    /// Decodes `key` when present. Returns nil when absent or invalid (the problem is already reported).
    func field<Value>(
        _ object: ObjectView, _ key: String, _ decode: (JSONNode, JSONPath) -> Value?
    ) -> Located<Value>? {
        guard let node = object[key] else { return nil }
        let path = object.path.appending(key)
        return decode(node, path).map { Located(value: $0, position: node.position, path: path) }
    }

    /// Like `field`, but reports a missing key at the object.
    func required<Value>(
        _ object: ObjectView, _ key: String, _ decode: (JSONNode, JSONPath) -> Value?
    ) -> Located<Value>? {
        guard object.has(key) else {
            report(object.position, object.path, "missing required key \(quoteExcerpt(key))")
            return nil
        }
        return field(object, key, decode)
    }

    // MARK: - JSON types

    func string(_ node: JSONNode, _ path: JSONPath) -> String? {
        guard case .string(let text) = node.value else {
            typeMismatch(node, path, expected: "a string")
            return nil
        }
        return text
    }

    func bool(_ node: JSONNode, _ path: JSONPath) -> Bool? {
        guard case .bool(let value) = node.value else {
            typeMismatch(node, path, expected: "true or false")
            return nil
        }
        return value
    }

    /// An integer written without fraction or exponent, within `range`.
    func integer(_ node: JSONNode, _ path: JSONPath, in range: ClosedRange<Int64>) -> Int64? {
        guard case .number(let text) = node.value else {
            typeMismatch(node, path, expected: "an integer")
            return nil
        }
        guard !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else {
            report(node.position, path, "expected an integer, got \(text)")
            return nil
        }
        guard let value = Int64(text), range.contains(value) else {
            report(node.position, path, "\(text) is out of range; expected \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return value
    }

    func int(_ range: ClosedRange<Int>) -> (JSONNode, JSONPath) -> Int? {
        { node, path in
            self.integer(node, path, in: Int64(range.lowerBound)...Int64(range.upperBound)).map { Int($0) }
        }
    }

    func uint32(_ node: JSONNode, _ path: JSONPath) -> UInt32? {
        integer(node, path, in: 0...Int64(UInt32.max)).map { UInt32($0) }
    }

    /// An array; elements come with their paths.
    func array(_ node: JSONNode, _ path: JSONPath) -> [(node: JSONNode, path: JSONPath)]? {
        guard case .array(let elements) = node.value else {
            typeMismatch(node, path, expected: "an array")
            return nil
        }
        return elements.enumerated().map { ($0.element, path.appending($0.offset)) }
    }

    /// An array whose elements all decode; invalid elements are reported and left out.
    func list<Element>(
        _ decode: @escaping (JSONNode, JSONPath) -> Element?
    ) -> (JSONNode, JSONPath) -> [Located<Element>]? {
        { node, path in
            self.array(node, path)?.compactMap { element in
                decode(element.node, element.path).map {
                    Located(value: $0, position: element.node.position, path: element.path)
                }
            }
        }
    }

    /// Reports every element that repeats an earlier one; `describe` names the element in the message.
    func reportDuplicates<Key: Hashable>(
        _ items: [Located<Key>], what: String, describe: (Key) -> String = { "\($0)" }
    ) {
        var first: [Key: SourcePosition] = [:]
        for item in items {
            if let earlier = first[item.value] {
                report(item.position, item.path, "duplicate \(what) \(describe(item.value)) (first at \(earlier))")
            } else {
                first[item.value] = item.position
            }
        }
    }

    /// One of a fixed set of strings, with a suggestion for near misses.
    func choice(_ options: [String]) -> (JSONNode, JSONPath) -> String? {
        { node, path in
            guard let text = self.string(node, path) else { return nil }
            guard options.contains(text) else {
                var message = "invalid value \(quoteExcerpt(text)); expected "
                message +=
                    options.count == 2
                    ? "\(quoteExcerpt(options[0])) or \(quoteExcerpt(options[1]))"
                    : "one of " + options.map(quoteJSONString).joined(separator: ", ")
                if let suggestion = closestMatch(to: text, among: options) {
                    message += "; did you mean \(quoteExcerpt(suggestion))?"
                }
                self.report(node.position, path, message)
                return nil
            }
            return text
        }
    }

    // MARK: - Strings with meaning

    /// A duration string such as "2s"; whole milliseconds within `range` (inclusive).
    func duration(_ range: ClosedRange<Duration>) -> (JSONNode, JSONPath) -> Duration? {
        { node, path in
            guard case .string(let text) = node.value else {
                self.typeMismatch(node, path, expected: "a duration string such as \"2s\"")
                return nil
            }
            guard let duration = parseDuration(text) else {
                let digitsOnly = !text.isEmpty && text.utf8.allSatisfy { (0x30...0x39).contains($0) || $0 == 0x2E }
                self.report(
                    node.position, path,
                    digitsOnly
                        ? "duration \(quoteExcerpt(text)) has no unit; "
                            + "write for example \"\(text)s\" or \"\(text)ms\""
                        : "invalid duration \(quoteExcerpt(text)); expected a number and a unit (ms, s, m or h) "
                            + "in whole milliseconds, such as \"500ms\", \"1.5s\" or \"10m\"")
                return nil
            }
            guard range.contains(duration) else {
                self.report(
                    node.position, path,
                    "\(text) is out of range; expected \(formatDuration(range.lowerBound)) "
                        + "to \(formatDuration(range.upperBound))")
                return nil
            }
            return duration
        }
    }

    func ipAddress(_ node: JSONNode, _ path: JSONPath) -> IPAddress? {
        guard let text = string(node, path) else { return nil }
        guard let address = IPAddress(text) else {
            report(node.position, path, "invalid IP address \(quoteExcerpt(text))")
            return nil
        }
        guard !address.isUnspecified else {
            report(node.position, path, "the unspecified address \(address) cannot be used here")
            return nil
        }
        return address
    }

    func ipv4Address(_ node: JSONNode, _ path: JSONPath) -> IPv4Address? {
        guard let text = string(node, path) else { return nil }
        guard let address = IPv4Address(text) else {
            let hint = IPv6Address(text) != nil ? " (this is an IPv6 address)" : ""
            report(
                node.position, path,
                "expected an IPv4 address such as \"192.0.2.1\", got \(quoteExcerpt(text))\(hint)")
            return nil
        }
        return address
    }

    func ipv6Address(_ node: JSONNode, _ path: JSONPath) -> IPv6Address? {
        guard let text = string(node, path) else { return nil }
        guard text.contains(":"), let address = IPv6Address(text) else {
            let hint = IPv4Address(text) != nil ? " (this is an IPv4 address)" : ""
            report(
                node.position, path,
                "expected an IPv6 address such as \"2001:db8::1\", got \(quoteExcerpt(text))\(hint)")
            return nil
        }
        return address
    }

    /// An absolute file system path.
    func absolutePath(_ node: JSONNode, _ path: JSONPath) -> String? {
        guard let text = string(node, path) else { return nil }
        guard text.hasPrefix("/") else {
            report(node.position, path, "\(quoteExcerpt(text)) is not an absolute path; it must start with '/'")
            return nil
        }
        return text
    }

    func community(_ node: JSONNode, _ path: JSONPath) -> Community? {
        guard let text = string(node, path) else { return nil }
        guard let community = parseCommunity(text) else {
            report(
                node.position, path,
                "invalid community \(quoteExcerpt(text)); expected ASN:VALUE with each part 0 to 65535, "
                    + "such as \"65011:53\"")
            return nil
        }
        return community
    }

    func largeCommunity(_ node: JSONNode, _ path: JSONPath) -> LargeCommunity? {
        guard let text = string(node, path) else { return nil }
        guard let community = parseLargeCommunity(text) else {
            report(
                node.position, path,
                "invalid large community \(quoteExcerpt(text)); expected GLOBAL:LOCAL1:LOCAL2 with each part "
                    + "0 to 4294967295, such as \"65011:0:53\"")
            return nil
        }
        return community
    }
}
