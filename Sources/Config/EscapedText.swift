// Text from outside (service names from the control socket, a peer's shutdown message, configuration
// keys) is escaped before it reaches a log line or a reply, so no input can forge a line.

extension String {
    /// The text with control characters escaped (`\n`, `\r`, `\t`, others as `\u{1B}`), so it stays one
    /// line of a log however it was made.
    public var escapedForLog: String {
        guard unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return self }
        var result = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.properties.generalCategory == .control:
                result += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
