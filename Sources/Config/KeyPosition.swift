// Where a top-level key is in a desired-state file: for notes that concern a whole section, such as the
// warning of `anycastd check` that the services' checks cannot all run at their interval.

extension ConfigLoader {
    /// The line and column of the top-level `key` in the JSON text `bytes`; nil if the text does not parse,
    /// is not an object, or lacks the key.
    public static func topLevelKeyPosition(_ key: String, in bytes: [UInt8]) -> SourcePosition? {
        var parser = JSONParser(bytes)
        guard let root = try? parser.parseDocument(), case .object(let members) = root.value else { return nil }
        return members.first { $0.key == key }?.keyPosition
    }
}
